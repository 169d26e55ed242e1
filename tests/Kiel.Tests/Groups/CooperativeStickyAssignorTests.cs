using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Kiel.Groups.Kafka;
using Assignment = System.Collections.Generic.IReadOnlyDictionary<string, System.Collections.Generic.IReadOnlyList<Kiel.TopicPartition>>;

namespace Kiel.Tests.Groups;

/// <summary>
/// <c>cooperative-sticky</c>: complete, exclusive, balanced within one for equal subscriptions, and as sticky as
/// balance allows; Java's generation rules for owned partitions.
/// </summary>
public class CooperativeStickyAssignorTests
{
    private static readonly PartitionAssignor Sticky = PartitionAssignor.CooperativeSticky;

    public sealed class Group
    {
        internal Group(Dictionary<string, int> counts, GroupMemberSubscription[] members, int seed) => (Counts, Members, Seed) = (counts, members, seed);
        internal Dictionary<string, int> Counts { get; }
        internal GroupMemberSubscription[] Members { get; }
        internal int Seed { get; }

        public override string ToString()
            => $"counts [{string.Join(",", Counts.Select(kv => $"{kv.Key}={kv.Value}"))}] members [{string.Join("; ", Members.Select(m => $"{m.MemberId}:{string.Join("/", m.Topics)} owns {string.Join(",", m.OwnedPartitions)} g{m.Generation}"))}]";
    }

    public static class Gens
    {
        /// <summary>1–3 topics of 0–12 partitions, 1–7 members; equal subscriptions unless <paramref name="mixed"/>.</summary>
        private static Gen<Group> Groups(bool mixed) => Gen.Choose(1, 7).SelectMany(memberCount =>
            Gen.ArrayOf(Gen.Choose(0, 12), 3).SelectMany(sizes =>
                Gen.Choose(0, int.MaxValue).Select(seed =>
                {
                    var rnd = new Random(seed);
                    var topicCount = 1 + seed % 3;
                    var counts = Enumerable.Range(0, topicCount).ToDictionary(t => $"topic{(char)('a' + t)}", t => sizes[t]);
                    var topics = counts.Keys.ToArray();
                    var members = Enumerable.Range(0, memberCount).Select(i =>
                    {
                        var subscribed = mixed ? topics.Where(_ => rnd.Next(3) > 0).DefaultIfEmpty(topics[rnd.Next(topics.Length)]).ToArray() : topics;
                        return new GroupMemberSubscription($"member-{rnd.Next(1000):D3}-{i}", null, subscribed, [], -1, default, null);
                    }).ToArray();
                    return new Group(counts, members, seed);
                })));

        public static Arbitrary<Group> EqualGroups() => Groups(mixed: false).ToArbitrary();
    }

    public static class MixedGens
    {
        public static Arbitrary<Group> MixedGroups() => Gen.Choose(1, 7).SelectMany(n =>
            Gen.ArrayOf(Gen.Choose(0, 12), 3).SelectMany(sizes => Gen.Choose(0, int.MaxValue).Select(seed =>
            {
                var rnd = new Random(seed);
                var counts = Enumerable.Range(0, 3).ToDictionary(t => $"topic{(char)('a' + t)}", t => sizes[t]);
                var topics = counts.Keys.ToArray();
                var members = Enumerable.Range(0, n).Select(i =>
                    new GroupMemberSubscription($"member-{i}", null,
                        topics.Where(_ => rnd.Next(3) > 0).DefaultIfEmpty(topics[rnd.Next(3)]).ToArray(), [], -1, default, null)).ToArray();
                return new Group(counts, members, seed);
            }))).ToArbitrary();
    }

    private static IEnumerable<TopicPartition> AllPartitions(Group g)
        => g.Counts.Where(kv => g.Members.Any(m => m.Topics.Contains(kv.Key))).SelectMany(kv => Enumerable.Range(0, kv.Value).Select(p => new TopicPartition(kv.Key, p)));

    private static bool CompleteAndExclusive(Group g, Assignment a)
    {
        var given = a.Values.SelectMany(l => l).ToList();
        return given.Count == given.Distinct().Count()
            && given.Order().SequenceEqual(AllPartitions(g).Order())
            && g.Members.All(m => a.ContainsKey(m.MemberId) && a[m.MemberId].All(tp => m.Topics.Contains(tp.Topic)));
    }

    private static int Spread(Assignment a) => a.Count == 0 ? 0 : a.Values.Max(l => l.Count) - a.Values.Min(l => l.Count);

    /// <summary>The group's next generation: each member owns what it was given, at <paramref name="generation"/>.</summary>
    private static GroupMemberSubscription[] Owning(GroupMemberSubscription[] members, Assignment a, int generation)
        => members.Select(m => m with { OwnedPartitions = a[m.MemberId], Generation = generation }).ToArray();

    [Property(Arbitrary = [typeof(Gens)], MaxTest = 300)]
    public bool Equal_subscriptions_every_partition_exactly_once_and_balanced_within_one(Group g)
    {
        var a = Sticky.Assign(g.Counts, g.Members);
        return CompleteAndExclusive(g, a) && Spread(a) <= 1;
    }

    [Property(Arbitrary = [typeof(MixedGens)], MaxTest = 300)]
    public bool Mixed_subscriptions_every_partition_exactly_once_to_a_subscriber(Group g)
        => CompleteAndExclusive(g, Sticky.Assign(g.Counts, g.Members));

    [Property(Arbitrary = [typeof(Gens)], MaxTest = 300)]
    public bool Unchanged_members_keep_everything(Group g)
    {
        var first = Sticky.Assign(g.Counts, g.Members);
        var second = Sticky.Assign(g.Counts, Owning(g.Members, first, 1));
        return AssignorTests.Render(first) == AssignorTests.Render(second);
    }

    [Property(Arbitrary = [typeof(MixedGens)], MaxTest = 300)]
    public bool Mixed_unchanged_members_keep_everything(Group g)
    {
        var first = Sticky.Assign(g.Counts, g.Members);
        var second = Sticky.Assign(g.Counts, Owning(g.Members, first, 1));
        return AssignorTests.Render(first) == AssignorTests.Render(second);
    }

    [Property(Arbitrary = [typeof(Gens)], MaxTest = 300)]
    public bool A_change_of_members_moves_no_more_than_balance_requires(Group g)
    {
        // Generation 1: everybody owns a balanced share. Then one member leaves and another joins.
        var first = Sticky.Assign(g.Counts, g.Members);
        var rnd = new Random(g.Seed);
        var owned = Owning(g.Members, first, 1).Where((_, i) => i != rnd.Next(g.Members.Length)).ToList();
        owned.Add(new GroupMemberSubscription("joiner", null, g.Members[0].Topics, [], -1, default, null));
        var next = new Group(g.Counts, [.. owned], g.Seed);
        var second = Sticky.Assign(g.Counts, next.Members);
        if (!CompleteAndExclusive(next, second) || Spread(second) > 1) return false;

        // The fewest moves any balanced assignment needs: quotas floor/ceil, ceil to those that own the most.
        var total = AllPartitions(next).Count();
        var m = next.Members.Length;
        var held = next.Members.Select(x => x.OwnedPartitions.Count).OrderDescending().ToArray();
        var mustMove = held.Select((h, i) => Math.Max(0, h - (total / m + (i < total % m ? 1 : 0)))).Sum();
        var moved = next.Members.Sum(x => x.OwnedPartitions.Count(tp => !second[x.MemberId].Contains(tp)));
        return moved == mustMove;
    }

    [Fact]
    public void OnlyTheHighestGenerationsClaimsCount()
    {
        var counts = new Dictionary<string, int> { ["t"] = 4 };
        TopicPartition[] claim = [new("t", 0), new("t", 1)];
        var a = Sticky.Assign(counts,
        [
            new GroupMemberSubscription("a", null, ["t"], claim, 5, default, null),
            new GroupMemberSubscription("b", null, ["t"], claim, 4, default, null), // stale: generation 4 < 5
        ]);
        Assert.Equal(claim, a["a"]);
        Assert.Equal([new TopicPartition("t", 2), new TopicPartition("t", 3)], a["b"]);
    }

    [Fact]
    public void APartitionTwoMembersClaimInTheSameGenerationStaysWithNeitherAsOwned()
    {
        var counts = new Dictionary<string, int> { ["t"] = 2 };
        var a = Sticky.Assign(counts,
        [
            new GroupMemberSubscription("b", null, ["t"], [new("t", 1)], 3, default, null),
            new GroupMemberSubscription("a", null, ["t"], [new("t", 1)], 3, default, null),
        ]);
        // Neither keeps t:1 as its own; the deal then gives it out in member order: a gets t:0, b gets t:1.
        Assert.Equal("a=[t:0] b=[t:1]", AssignorTests.Render(a));
    }

    [Fact]
    public void JavasUserDataGenerationCountsWhenTheSubscriptionHasNone()
    {
        var counts = new Dictionary<string, int> { ["t"] = 2 };
        byte[] generation7 = [0, 0, 0, 7];
        var a = Sticky.Assign(counts,
        [
            new GroupMemberSubscription("a", null, ["t"], [new("t", 1)], -1, generation7, null), // v1 subscription, Java cooperative-sticky user data
            new GroupMemberSubscription("b", null, ["t"], [new("t", 1)], 6, default, null),
        ]);
        Assert.Equal([new TopicPartition("t", 1)], a["a"]);
    }

    [Fact]
    public void AJoiningMemberTakesOnlyWhatBalanceNeeds()
    {
        var counts = new Dictionary<string, int> { ["t"] = 6 };
        var before = Sticky.Assign(counts, [AssignorTests.Member("m1", "t"), AssignorTests.Member("m2", "t")]);
        var after = Sticky.Assign(counts, [.. Owning([AssignorTests.Member("m1", "t"), AssignorTests.Member("m2", "t")], before, 1), AssignorTests.Member("m3", "t")]);
        Assert.Equal(2, after["m1"].Count(before["m1"].Contains));
        Assert.Equal(2, after["m2"].Count(before["m2"].Contains));
        Assert.Equal(2, after["m3"].Count);
    }
}
