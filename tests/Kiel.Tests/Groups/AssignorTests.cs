using Kiel.Groups.Kafka;

namespace Kiel.Tests.Groups;

/// <summary>
/// The standard assignors against the examples Java's and librdkafka's documentation and unit tests give, and Kiel's
/// allocator assignors against the allocators they wrap.
/// </summary>
public class AssignorTests
{
    internal static GroupMemberSubscription Member(string id, params string[] topics) => new(id, null, topics, [], -1, default, null);

    internal static GroupMemberSubscription Static(string id, string instance, params string[] topics) => new(id, instance, topics, [], -1, default, null);

    internal static string Render(IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> a)
        => string.Join(" ", a.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}=[{string.Join(",", kv.Value)}]"));

    [Fact]
    public void NamesAndProtocolsAreTheStandardOnes()
    {
        Assert.Equal(("range", RebalanceProtocol.Eager), (PartitionAssignor.Range.Name, PartitionAssignor.Range.Protocol));
        Assert.Equal(("roundrobin", RebalanceProtocol.Eager), (PartitionAssignor.RoundRobin.Name, PartitionAssignor.RoundRobin.Protocol));
        Assert.Equal(("cooperative-sticky", RebalanceProtocol.Cooperative), (PartitionAssignor.CooperativeSticky.Name, PartitionAssignor.CooperativeSticky.Protocol));
        Assert.Equal(("kiel-naive", RebalanceProtocol.Eager), (PartitionAssignor.Naive.Name, PartitionAssignor.Naive.Protocol));
        Assert.Equal(("kiel-balanced", RebalanceProtocol.Cooperative), (PartitionAssignor.Balanced.Name, PartitionAssignor.Balanced.Protocol));
        Assert.Equal("range", PartitionAssignor.Range.ToString());
    }

    [Fact]
    public void RangeGivesEachMemberAContiguousRangePerTopic()
    {
        // Java's RangeAssignor javadoc: C0: [t0p0, t0p1, t1p0, t1p1], C1: [t0p2, t1p2].
        var a = PartitionAssignor.Range.Assign(new Dictionary<string, int> { ["t0"] = 3, ["t1"] = 3 }, [Member("C1", "t0", "t1"), Member("C0", "t0", "t1")]);
        Assert.Equal("C0=[t0:0,t0:1,t1:0,t1:1] C1=[t0:2,t1:2]", Render(a));
    }

    [Fact]
    public void RangeWithMixedSubscriptionsSharesEachTopicAmongItsSubscribers()
    {
        // librdkafka ut_testMultipleConsumersMixedTopicSubscriptions: t1 has 3 partitions (consumer1, consumer3), t2 has 2 (consumer2).
        var a = PartitionAssignor.Range.Assign(new Dictionary<string, int> { ["topic1"] = 3, ["topic2"] = 2 },
            [Member("consumer1", "topic1"), Member("consumer2", "topic1", "topic2"), Member("consumer3", "topic1")]);
        Assert.Equal("consumer1=[topic1:0] consumer2=[topic1:1,topic2:0,topic2:1] consumer3=[topic1:2]", Render(a));
    }

    [Fact]
    public void RoundRobinDealsAllSortedPartitionsAcrossTopics()
    {
        // librdkafka's roundrobin comment: C0: [t0p0, t0p2, t1p1], C1: [t0p1, t1p0, t1p2].
        var a = PartitionAssignor.RoundRobin.Assign(new Dictionary<string, int> { ["t1"] = 3, ["t0"] = 3 }, [Member("C0", "t0", "t1"), Member("C1", "t1", "t0")]);
        Assert.Equal("C0=[t0:0,t0:2,t1:1] C1=[t0:1,t1:0,t1:2]", Render(a));
    }

    [Fact]
    public void RoundRobinSkipsMembersThatDoNotSubscribe()
    {
        // Java's RoundRobinAssignor javadoc: C0: [t0p0], C1: [t1p0], C2: [t1p1, t2p0, t2p1, t2p2].
        var a = PartitionAssignor.RoundRobin.Assign(new Dictionary<string, int> { ["t0"] = 1, ["t1"] = 2, ["t2"] = 3 },
            [Member("C0", "t0"), Member("C1", "t0", "t1"), Member("C2", "t0", "t1", "t2")]);
        Assert.Equal("C0=[t0:0] C1=[t1:0] C2=[t1:1,t2:0,t2:1,t2:2]", Render(a));
    }

    [Fact]
    public void StaticMembersAreOrderedByInstanceIdAndBeforeDynamicOnes()
    {
        var counts = new Dictionary<string, int> { ["t"] = 4 };
        // Member ids order z < y reversed by instance ids a < b: the instance ids decide.
        var a = PartitionAssignor.Range.Assign(counts, [Static("m-a", "b", "t"), Static("m-b", "a", "t")]);
        Assert.Equal("m-a=[t:2,t:3] m-b=[t:0,t:1]", Render(a));
        // A static member goes before a dynamic one (Java's MemberInfo order).
        var mixed = PartitionAssignor.RoundRobin.Assign(counts, [Member("a-dynamic", "t"), Static("z-static", "i", "t")]);
        Assert.Equal("a-dynamic=[t:1,t:3] z-static=[t:0,t:2]", Render(mixed));
    }

    [Fact]
    public void TopicsThatDoNotExistAreLeftOutAndEveryMemberIsInTheResult()
    {
        foreach (var assignor in new[] { PartitionAssignor.Range, PartitionAssignor.RoundRobin, PartitionAssignor.CooperativeSticky, PartitionAssignor.Naive, PartitionAssignor.Balanced })
        {
            var a = assignor.Assign(new Dictionary<string, int> { ["t"] = 2 }, [Member("m1", "t", "missing"), Member("m2", "missing")]);
            Assert.Equal(["m1", "m2"], a.Keys.Order(StringComparer.Ordinal));
            Assert.Equal([new TopicPartition("t", 0), new TopicPartition("t", 1)], a["m1"]);
            Assert.Empty(a["m2"]);
            Assert.Empty(assignor.Assign(new Dictionary<string, int> { ["t"] = 2 }, []));
        }
    }

    [Fact]
    public void DuplicateMemberIdsAreRejected()
        => Assert.Throws<ArgumentException>(() => PartitionAssignor.Range.Assign(new Dictionary<string, int> { ["t"] = 1 }, [Member("m", "t"), Member("m", "t")]));

    [Fact]
    public void NaiveAssignorIsTheNaiveAllocatorOnInstanceIdsOrMemberIds()
    {
        var counts = new Dictionary<string, int> { ["t"] = 12 };
        // Naive deals "t:0","t:1","t:10","t:11","t:2",... in ordinal order.
        var a = PartitionAssignor.Naive.Assign(counts, [Static("id-2", "host-b", "t"), Static("id-1", "host-a", "t")]);
        var expected = Allocators.Naive(["host-a", "host-b"], Enumerable.Range(0, 12).Select(p => $"t:{p}").ToArray());
        Assert.Equal(expected["host-a"]["t"].Order(), a["id-1"].Select(tp => tp.Partition));
        Assert.Equal(expected["host-b"]["t"].Order(), a["id-2"].Select(tp => tp.Partition));
        Assert.Equal([0, 10, 2, 4, 6, 8], expected["host-a"]["t"]);

        // Dynamic members: the member ids are the names.
        var d = PartitionAssignor.Naive.Assign(counts, [Member("b", "t"), Member("a", "t")]);
        Assert.Equal([0, 2, 4, 6, 8, 10], d["a"].Select(tp => tp.Partition));
    }

    [Fact]
    public void AllocatorAssignorFallsBackToMemberIdsWhenNamesClash()
    {
        var seen = new List<string>();
        var assignor = PartitionAssignor.FromAllocator("capture", (members, partitions) =>
        {
            seen.AddRange(members);
            return Allocators.Naive(members, partitions);
        });
        assignor.Assign(new Dictionary<string, int> { ["t"] = 2 }, [Static("m1", "same", "t"), Static("m2", "same", "t")]);
        Assert.Equal(["m1", "m2"], seen);
    }

    [Fact]
    public void AllocatorRunsOncePerSubscriptionWithSortedInputs()
    {
        var calls = new List<string>();
        var assignor = PartitionAssignor.FromAllocator("capture", (members, partitions) =>
        {
            calls.Add($"[{string.Join(",", members)}] [{string.Join(",", partitions)}]");
            return Allocators.Naive(members, partitions);
        });
        var a = assignor.Assign(new Dictionary<string, int> { ["a"] = 2, ["b"] = 11 },
            [Member("m3", "b"), Member("m1", "a", "b"), Member("m2", "b", "a")]);
        Assert.Equal(2, calls.Count);
        Assert.Contains("[m1,m2] [a:0,a:1,b:0,b:1,b:10,b:2,b:3,b:4,b:5,b:6,b:7,b:8,b:9]", calls);
        Assert.Contains("[m3] [b:0,b:1,b:10,b:2,b:3,b:4,b:5,b:6,b:7,b:8,b:9]", calls);
        _ = a;
    }

    [Fact]
    public void AllocatorThatBreaksTheRulesIsRefusedClearly()
    {
        var counts = new Dictionary<string, int> { ["t"] = 2 };
        GroupMemberSubscription[] members = [Member("m1", "t"), Member("m2", "t")];
        Assert.Contains("not one of the members", Fails((_, _) => Alloc(("ghost", "t", [0, 1]))));
        Assert.Contains("not one of the partitions", Fails((_, _) => Alloc(("m1", "t", [0, 1, 2]))));
        Assert.Contains("two members", Fails((_, _) => Alloc(("m1", "t", [0, 1]), ("m2", "t", [1]))));
        Assert.Contains("unassigned", Fails((_, _) => Alloc(("m1", "t", [0]))));
        Assert.Contains("returned null", Fails((_, _) => null!));

        string Fails(PartitionAllocator allocator)
            => Assert.Throws<InvalidOperationException>(() => PartitionAssignor.FromAllocator("mine", allocator).Assign(counts, members)).Message;
    }

    private static IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<int>>> Alloc(params (string Member, string Topic, int[] Ids)[] entries)
        => entries.ToDictionary(e => e.Member, e => (IReadOnlyDictionary<string, IReadOnlyList<int>>)new Dictionary<string, IReadOnlyList<int>> { [e.Topic] = e.Ids });

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("range")]
    [InlineData("roundrobin")]
    [InlineData("cooperative-sticky")]
    [InlineData("sticky")]
    [InlineData("kiel-naive")]
    [InlineData("kiel-balanced")]
    public void FromAllocatorRefusesEmptyAndBuiltInNames(string name)
        => Assert.Throws<ArgumentException>(() => PartitionAssignor.FromAllocator(name, Allocators.Naive));

    [Fact]
    public void FromAllocatorKeepsItsNameAndIsEager()
    {
        var a = PartitionAssignor.FromAllocator("my-allocator", Allocators.Naive);
        Assert.Equal(("my-allocator", RebalanceProtocol.Eager), (a.Name, a.Protocol));
    }

    [Fact]
    public void BalancedAssignorKeepsOwnedPartitionsOfTheLatestGeneration()
    {
        var counts = new Dictionary<string, int> { ["t"] = 6 };
        var before = PartitionAssignor.Balanced.Assign(counts, [Member("m1", "t"), Member("m2", "t")]);
        Assert.Equal("m1=[t:0,t:2,t:4] m2=[t:1,t:3,t:5]", Render(before));
        // m3 joins; m1 and m2 name what they own in generation 4; a stale claim of generation 3 from m3 is ignored.
        var after = PartitionAssignor.Balanced.Assign(counts,
        [
            new GroupMemberSubscription("m1", null, ["t"], before["m1"], 4, default, null),
            new GroupMemberSubscription("m2", null, ["t"], before["m2"], 4, default, null),
            new GroupMemberSubscription("m3", null, ["t"], [new TopicPartition("t", 0), new TopicPartition("t", 1)], 3, default, null),
        ]);
        Assert.Equal(2, after["m1"].Count(before["m1"].Contains));
        Assert.Equal(2, after["m2"].Count(before["m2"].Contains));
        Assert.Equal(2, after["m3"].Count);
    }
}
