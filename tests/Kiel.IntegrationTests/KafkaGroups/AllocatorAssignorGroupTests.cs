using Kiel.Consuming;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;

namespace Kiel.IntegrationTests.KafkaGroups;

/// <summary>Kiel's allocators as assignors of a Kafka group (classic protocol), end to end on the embedded cluster.</summary>
[Collection("KafkaGroups")]
public sealed class AllocatorAssignorGroupTests(KafkaGroupFixture fixture) : IClassFixture<KafkaGroupFixture>
{
    public static TheoryData<string> Assignors => new() { "kiel-naive", "kiel-balanced", "custom" };

    private static PartitionAssignor Assignor(string name) => name switch
    {
        "kiel-naive" => PartitionAssignor.Naive,
        "kiel-balanced" => PartitionAssignor.Balanced,
        // Everything to the member whose name sorts first: a user allocator the group must follow exactly.
        _ => PartitionAssignor.FromAllocator("first-takes-all", (members, partitions) =>
            new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyList<int>>>
            {
                [members[0]] = partitions.Select(TopicPartition.Parse).GroupBy(tp => tp.Topic)
                    .ToDictionary(g => g.Key, g => (IReadOnlyList<int>)[.. g.Select(tp => tp.Partition)]),
            }),
    };

    [Theory]
    [MemberData(nameof(Assignors))]
    public async Task Two_members_share_the_partitions_as_the_allocator_says_and_read_everything(string name)
    {
        var topic = KafkaClusterFixture.UniqueTopic("kg-alloc");
        var group = KafkaClusterFixture.UniqueTopic("g");
        fixture.Cluster.CreateTopic(topic, 6);
        await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 300);
        var log = new DeliveryLog();
        KielConsumerOptions Configure(KielConsumerOptions o) => o with { PartitionAssignmentStrategy = [Assignor(name)] };
        await using var a = new KielGroupMember("a", KielGroupMember.Options(fixture.BootstrapServers, group, Configure), log);
        await using var b = new KielGroupMember("b", KielGroupMember.Options(fixture.BootstrapServers, group, Configure), log);
        a.Start(topic);
        b.Start(topic);
        var takesAll = name == "custom";
        Assert.True(await TestTimeouts.WaitUntilAsync(() => log.Distinct().Count == 300
                && a.Consumer.GroupMetadata is { GenerationId: > 0 } ma && b.Consumer.GroupMetadata is { GenerationId: > 0 } mb && ma.GenerationId == mb.GenerationId
                && a.Owned.Count + b.Owned.Count == 6 && (takesAll ? a.Owned.Count == 0 || b.Owned.Count == 0 : a.Owned.Count == 3 && b.Owned.Count == 3),
                TimeSpan.FromSeconds(40)),
            $"distinct {log.Distinct().Count}, a owns {string.Join(",", a.Owned)}, b owns {string.Join(",", b.Owned)}; errors: {a.ReadError} {b.ReadError}");
        Assert.Empty(a.Owned.Intersect(b.Owned));
        if (takesAll)
        {
            // The member whose id sorts first (the allocator's members[0]) holds everything.
            var first = string.CompareOrdinal(a.Consumer.GroupMetadata!.MemberId, b.Consumer.GroupMetadata!.MemberId) < 0 ? a : b;
            Assert.Equal(6, first.Owned.Count);
        }
    }
}
