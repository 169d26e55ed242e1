using Kiel.Consuming;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;
using Kiel.Testing;

namespace Kiel.IntegrationTests.KafkaGroups;

/// <summary>Kiel members of Kafka consumer groups (classic protocol) on the embedded cluster.</summary>
[Collection("KafkaGroups")]
public sealed class KafkaGroupTests(KafkaGroupFixture fixture) : IClassFixture<KafkaGroupFixture>
{
    private static string Unique(string prefix) => KafkaClusterFixture.UniqueTopic(prefix);

    [Fact]
    public async Task Two_members_split_the_partitions_and_together_read_everything_once()
    {
        var topic = Unique("kg-split");
        var group = Unique("g");
        fixture.Cluster.CreateTopic(topic, 6);
        await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 600);
        var log = new DeliveryLog();
        await using var a = new KielGroupMember("a", KielGroupMember.Options(fixture.BootstrapServers, group), log);
        await using var b = new KielGroupMember("b", KielGroupMember.Options(fixture.BootstrapServers, group), log);
        a.Start(topic);
        b.Start(topic);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => log.Distinct().Count == 600 && a.Owned.Count > 0 && b.Owned.Count > 0 && a.Owned.Count + b.Owned.Count == 6, TimeSpan.FromSeconds(40)),
            $"distinct {log.Distinct().Count}, a owns {string.Join(",", a.Owned)}, b owns {string.Join(",", b.Owned)}; errors: {a.ReadError} {b.ReadError}");
        Assert.Empty(a.Owned.Intersect(b.Owned));
        Assert.Equal(a.Consumer.GroupMetadata!.GenerationId, b.Consumer.GroupMetadata!.GenerationId);
        Assert.NotEqual(a.Consumer.GroupMetadata.MemberId, b.Consumer.GroupMetadata.MemberId);
    }

    /// <summary>
    /// The mock completes a generation once the leader's SyncGroup has set every assignment; a follower whose SyncGroup
    /// comes later is answered INVALID_REQUEST without its assignment and must join again, a whole rebalance round more
    /// (SessionTimeout − 1 s). A follower 10 ms away per frame (its SyncGroup reaches the mock at least 20 ms after the
    /// JoinGroup answers went out, later than a leader without a head start sends its own) still joins in one round:
    /// exactly one JoinGroup and one SyncGroup per member.
    /// </summary>
    [Fact]
    public async Task A_member_joining_an_existing_group_over_a_slower_link_gets_its_partitions_in_one_rebalance_round()
    {
        var topic = Unique("kg-slowjoin");
        var group = Unique("g");
        fixture.Cluster.CreateTopic(topic, 12);
        var log = new DeliveryLog();
        Func<KielConsumerOptions, KielConsumerOptions> range = o => o with { PartitionAssignmentStrategy = [PartitionAssignor.Range] };
        await using var a = new KielGroupMember("a", KielGroupMember.Options(fixture.BootstrapServers, group, range), log);
        a.Start(topic);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => a.Owned.Count == 12, TimeSpan.FromSeconds(40)), $"a owns {string.Join(",", a.Owned)}; {a.ReadError}");

        await using var proxy = FaultProxy.Start(fixture.BootstrapServers);
        proxy.Slow(TimeSpan.FromMilliseconds(10));
        fixture.Cluster.StartRequestTracking();
        fixture.Cluster.ClearRequests();
        try
        {
            await using var b = new KielGroupMember("b", KielGroupMember.Options(proxy.BootstrapServers, group, range), log);
            b.Start(topic);
            Assert.True(await TestTimeouts.WaitUntilAsync(() => a.Owned.Count == 6 && b.Owned.Count == 6, TimeSpan.FromSeconds(60)),
                $"a owns {string.Join(",", a.Owned)}, b owns {string.Join(",", b.Owned)}; errors: {a.ReadError} {b.ReadError}");
            var requests = fixture.Cluster.GetRequests();
            Assert.Equal(2, requests.Count(r => r.ApiKey == KafkaApiKeys.JoinGroup));
            Assert.Equal(2, requests.Count(r => r.ApiKey == KafkaApiKeys.SyncGroup));
            Assert.Empty(a.Owned.Intersect(b.Owned));
        }
        finally
        {
            fixture.Cluster.StopRequestTracking();
        }
    }
}
