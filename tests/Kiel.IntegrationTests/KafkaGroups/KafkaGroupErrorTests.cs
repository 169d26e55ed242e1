using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;
using Kiel.Testing;

namespace Kiel.IntegrationTests.KafkaGroups;

/// <summary>
/// Each error branch of the classic protocol, driven by errors the embedded cluster injects into the group APIs (a
/// cluster of its own: injected errors are popped by any request of that API on the cluster).
/// </summary>
[Collection("KafkaGroups")]
public sealed class KafkaGroupErrorTests(KafkaGroupFixture fixture) : IClassFixture<KafkaGroupFixture>
{
    private const int MemberIdRequired = 79, RebalanceInProgress = 27, UnknownMemberId = 25, IllegalGeneration = 22,
        FencedInstanceId = 82, NotCoordinator = 16, CoordinatorNotAvailable = 15, CoordinatorLoadInProgress = 14;

    private async Task<(KielGroupMember Member, DeliveryLog Log, string Topic)> JoinedAsync(string? instanceId = null)
    {
        // Errors a previous test injected but no request took would strike this one.
        foreach (var api in new[] { KafkaApiKeys.JoinGroup, KafkaApiKeys.SyncGroup, KafkaApiKeys.Heartbeat, KafkaApiKeys.OffsetCommit })
            fixture.Cluster.ClearRequestErrors(api);
        var topic = KafkaClusterFixture.UniqueTopic("kge");
        fixture.Cluster.CreateTopic(topic, 3);
        await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 30);
        var log = new DeliveryLog();
        var member = new KielGroupMember("m", KielGroupMember.Options(fixture.BootstrapServers, KafkaClusterFixture.UniqueTopic("g"),
            o => o with { GroupInstanceId = instanceId }), log);
        member.Start(topic);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => log.Distinct().Count == 30 && member.Owned.Count == 3, TimeSpan.FromSeconds(30)),
            $"the member did not join and read: {log.Distinct().Count} records, owns {member.Owned.Count}; {member.ReadError}");
        return (member, log, topic);
    }

    private async Task ProduceMoreAndExpectAsync(KielGroupMember member, DeliveryLog log, string topic, int total)
    {
        await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 30);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => log.Distinct().Count >= total && member.Owned.Count == 3, TimeSpan.FromSeconds(30)),
            $"after the error the member read {log.Distinct().Count} of {total} and owns {member.Owned.Count}; events {string.Join(" ", member.Events.Select(e => e.Kind))}; {member.ReadError}");
        Assert.Null(member.ReadError);
    }

    [Theory]
    [InlineData(KafkaApiKeys.JoinGroup, MemberIdRequired)]
    [InlineData(KafkaApiKeys.JoinGroup, RebalanceInProgress)]
    [InlineData(KafkaApiKeys.JoinGroup, UnknownMemberId)]
    [InlineData(KafkaApiKeys.JoinGroup, NotCoordinator)]
    [InlineData(KafkaApiKeys.JoinGroup, CoordinatorNotAvailable)]
    [InlineData(KafkaApiKeys.JoinGroup, CoordinatorLoadInProgress)]
    [InlineData(KafkaApiKeys.SyncGroup, RebalanceInProgress)]
    [InlineData(KafkaApiKeys.SyncGroup, IllegalGeneration)]
    [InlineData(KafkaApiKeys.SyncGroup, NotCoordinator)]
    [InlineData(KafkaApiKeys.Heartbeat, NotCoordinator)]
    [InlineData(KafkaApiKeys.Heartbeat, CoordinatorLoadInProgress)]
    public async Task A_passing_error_during_a_rebalance_or_heartbeat_is_retried_and_the_member_reads_on(short api, int code)
    {
        var (member, log, topic) = await JoinedAsync();
        await using (member)
        {
            var generation = member.Consumer.GroupMetadata!.GenerationId;
            fixture.Cluster.StartRequestTracking();
            fixture.Cluster.ClearRequests();
            fixture.Cluster.PushRequestErrors(api, code, code);
            // A heartbeat REBALANCE_IN_PROGRESS makes the member join again, where the injected Join/Sync errors strike.
            if (api != KafkaApiKeys.Heartbeat) fixture.Cluster.PushRequestErrors(KafkaApiKeys.Heartbeat, RebalanceInProgress);
            Assert.True(await TestTimeouts.WaitUntilAsync(() => member.Consumer.GroupMetadata!.GenerationId != generation || api == KafkaApiKeys.Heartbeat, TimeSpan.FromSeconds(20)));
            // Both injected errors were taken and the member went on: a third request of that API followed them.
            Assert.True(await TestTimeouts.WaitUntilAsync(() => fixture.Cluster.GetRequests().Count(r => r.ApiKey == api) >= 3, TimeSpan.FromSeconds(20)),
                $"only {fixture.Cluster.GetRequests().Count(r => r.ApiKey == api)} request(s) of API {api} after the errors");
            fixture.Cluster.StopRequestTracking();
            await ProduceMoreAndExpectAsync(member, log, topic, 60);
            Assert.DoesNotContain(member.Events, e => e.Kind == "lost" && api != KafkaApiKeys.SyncGroup);
        }
    }

    [Theory]
    [InlineData(UnknownMemberId)]
    [InlineData(IllegalGeneration)]
    public async Task A_heartbeat_that_says_the_generation_is_gone_loses_the_partitions_and_the_member_rejoins(int code)
    {
        var (member, log, topic) = await JoinedAsync();
        await using (member)
        {
            var before = member.Events.Count;
            fixture.Cluster.PushRequestErrors(KafkaApiKeys.Heartbeat, code);
            Assert.True(await TestTimeouts.WaitUntilAsync(() => member.Events.Any(e => e.Kind == "lost"), TimeSpan.FromSeconds(20)),
                "the partitions were not reported lost");
            Assert.DoesNotContain(member.Events.Skip(before), e => e.Kind == "revoked");
            await ProduceMoreAndExpectAsync(member, log, topic, 60);
            Assert.Equal("assigned", member.Events.Last().Kind);
        }
    }

    [Fact]
    public async Task A_heartbeat_answered_with_a_rebalance_rejoins_and_an_eager_member_revokes_first()
    {
        var (member, log, topic) = await JoinedAsync();
        await using (member)
        {
            var generation = member.Consumer.GroupMetadata!.GenerationId;
            fixture.Cluster.PushRequestErrors(KafkaApiKeys.Heartbeat, RebalanceInProgress);
            Assert.True(await TestTimeouts.WaitUntilAsync(() => member.Consumer.GroupMetadata!.GenerationId > generation, TimeSpan.FromSeconds(20)));
            Assert.Contains(member.Events, e => e.Kind == "revoked" && e.Partitions.Count == 3);
            await ProduceMoreAndExpectAsync(member, log, topic, 60);
        }
    }

    [Fact]
    public async Task A_fenced_static_member_loses_its_partitions_and_the_consumer_reports_it()
    {
        var (member, _, _) = await JoinedAsync(instanceId: "fenced-" + Guid.NewGuid().ToString("N")[..8]);
        await using (member)
        {
            fixture.Cluster.PushRequestErrors(KafkaApiKeys.Heartbeat, FencedInstanceId);
            Assert.True(await TestTimeouts.WaitUntilAsync(() => member.ReadError is not null, TimeSpan.FromSeconds(20)), "the consumer did not fail");
            Assert.Contains("FENCED_INSTANCE_ID", member.ReadError!.ToString());
            Assert.Contains(member.Events, e => e.Kind == "lost");
            Assert.Empty(member.Owned);
        }
    }

    [Fact]
    public async Task A_member_that_cannot_reach_its_coordinator_for_a_session_loses_its_partitions_and_rejoins_when_it_is_back()
    {
        var topic = KafkaClusterFixture.UniqueTopic("kge-down");
        var group = KafkaClusterFixture.UniqueTopic("g");
        fixture.Cluster.CreateTopic(topic, 3);
        // The coordinator is broker 1; every partition is led by broker 2, so fetching goes on while broker 1 is down.
        fixture.Cluster.SetGroupCoordinator(group, 1);
        for (var p = 0; p < 3; p++) fixture.Cluster.SetPartitionLeader(topic, p, 2);
        await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 30);
        var log = new DeliveryLog();
        await using var member = new KielGroupMember("m", KielGroupMember.Options(fixture.BootstrapServers, group), log);
        member.Start(topic);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => log.Distinct().Count == 30 && member.Owned.Count == 3, TimeSpan.FromSeconds(30)));

        fixture.Cluster.SetBrokerDown(1);
        try
        {
            // No heartbeat succeeds for the session timeout (6 s): the partitions are lost, not revoked.
            Assert.True(await TestTimeouts.WaitUntilAsync(() => member.Events.Any(e => e.Kind == "lost"), TimeSpan.FromSeconds(30)),
                $"no loss reported; events {string.Join(" ", member.Events.Select(e => e.Kind))}");
            Assert.Empty(member.Owned);
            await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 30);
            // While it is out of the group the member hands out nothing, though the leaders are up.
            await Task.Delay(1500);
            Assert.Equal(30, log.Distinct().Count);
        }
        finally
        {
            fixture.Cluster.SetBrokerUp(1);
        }

        Assert.True(await TestTimeouts.WaitUntilAsync(() => log.Distinct().Count == 60 && member.Owned.Count == 3, TimeSpan.FromSeconds(40)),
            $"after the coordinator came back: {log.Distinct().Count} records, owns {member.Owned.Count}; {member.ReadError}");
    }
}
