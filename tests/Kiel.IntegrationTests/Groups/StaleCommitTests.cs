using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;

namespace Kiel.IntegrationTests.Groups;

/// <summary>
/// A commit written late, by a member frozen past its ZooKeeper session between approving the commit and sending it,
/// lands after the member that took its partitions committed newer progress, and sets the group back: the next owner
/// reads those records again. (The lifecycle test's thawed member did exactly that in CI.) The member checks its lease
/// once more just before the bytes go out, and a member that hands partitions over commits its progress again, over
/// whatever a late commit wrote meanwhile.
/// </summary>
[Trait("Category", "Groups")]
public sealed class StaleCommitTests
{
    private const int Partitions = 4;

    private static long[] Committed(string bootstrap, string group, string topic) => GroupEnvironment.Committed(bootstrap, group, topic, Enumerable.Range(0, Partitions));

    private static Task<bool> CommittedReachesAsync(string bootstrap, string group, string topic, long each) =>
        GroupScaleTests.WaitAsync(() => Committed(bootstrap, group, topic).All(o => o == each), TimeSpan.FromSeconds(30));

    [Fact]
    public async Task A_commit_approved_before_a_freeze_is_not_sent_once_the_member_lost_its_session()
    {
        await using var zk = await EmbeddedZooKeeper.StartAsync();
        // The member reaches ZooKeeper through a relay: stalled, its session expires at the server as in a freeze.
        await using var relay = new TcpRelay(zk.Port);
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        var topic = GroupEnvironment.Unique("stale");
        var group = GroupEnvironment.Unique("g");
        kafka.CreateTopic(topic, Partitions);
        await GroupEnvironment.ProduceAsync(kafka.BootstrapServers, topic, Partitions, 0, 100);

        var session = TimeSpan.FromSeconds(2);
        await using var frozen = new GroupedConsumer(GroupEnvironment.MemberOptions(kafka.BootstrapServers, group, [relay.ConnectString], session) with { Autocommit = false });
        using (var cts = TestTimeouts.After(30)) await frozen.ConnectAsync(cts.Token);
        var read = 0;
        using (var cts = TestTimeouts.After(30))
            while (read < 100 && !cts.IsCancellationRequested) read += (await frozen.ConsumeRecordsAsync(topic, null, cts.Token)).Count;
        Assert.Equal(100, read);

        // Between the approval (the lease is fresh now) and the send, the member stands still while its session expires
        // and another member takes its partitions, reads 100 more records and commits them.
        var log = new DeliveryLog();
        InProcessMember? other = null;
        var paused = 0;
        var takenOver = false;
        frozen.BeforeCommitSendForTests = async _ =>
        {
            if (Interlocked.Exchange(ref paused, 1) != 0) return;
            relay.Stall();
            other = await InProcessMember.StartAsync(GroupEnvironment.MemberOptions(kafka.BootstrapServers, group, [zk.ConnectString], session), log, topic);
            await GroupEnvironment.ProduceAsync(kafka.BootstrapServers, topic, Partitions, 100, 100);
            takenOver = await GroupScaleTests.WaitAsync(() => log.Distinct().Count(d => d.Item2 >= 25) >= 100, TimeSpan.FromSeconds(30))
                && await CommittedReachesAsync(kafka.BootstrapServers, group, topic, 50);
        };
        try
        {
            using var cts = TestTimeouts.After(60);
            await frozen.CommitOffsetsAsync(null, cts.Token);
            Assert.Equal(1, paused);
            Assert.True(takenOver, $"the other member did not take over and commit: handed out {log.All.Count}, committed [{string.Join(",", Committed(kafka.BootstrapServers, group, topic))}]");
            // The late commit (25 per partition) must not have replaced the other member's (50).
            Assert.Equal(new long[] { 50, 50, 50, 50 }, Committed(kafka.BootstrapServers, group, topic));
        }
        finally
        {
            relay.Resume();
            if (other is not null) await other.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_member_hands_partitions_over_with_a_commit_that_replaces_a_late_one()
    {
        await using var zk = await EmbeddedZooKeeper.StartAsync();
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        var topic = GroupEnvironment.Unique("late");
        var group = GroupEnvironment.Unique("g");
        kafka.CreateTopic(topic, Partitions);
        await GroupEnvironment.ProduceAsync(kafka.BootstrapServers, topic, Partitions, 0, 100);
        GroupedConsumerOptions Options() => GroupEnvironment.MemberOptions(kafka.BootstrapServers, group, [zk.ConnectString], TimeSpan.FromSeconds(4));

        var log = new DeliveryLog();
        var first = await InProcessMember.StartAsync(Options(), log, topic);
        InProcessMember? second = null;
        try
        {
            Assert.True(await GroupScaleTests.WaitAsync(() => log.Distinct().Count >= 100, TimeSpan.FromSeconds(30)), $"consumed {log.Distinct().Count} of 100");
            Assert.True(await CommittedReachesAsync(kafka.BootstrapServers, group, topic, 25), "the first member's autocommit did not reach 25 per partition");

            // A late commit, as a member thawed after its session expired would send: every partition back to 0. It comes
            // from Confluent.Kafka (a simple commit, no group membership), and the first member, idle, does not know.
            using (var late = ConfluentClients.Consumer(kafka.BootstrapServers, group, c => c.EnableAutoCommit = false))
                late.Commit(Enumerable.Range(0, Partitions).Select(p => new Confluent.Kafka.TopicPartitionOffset(topic, p, 0)));
            Assert.Equal(new long[] { 0, 0, 0, 0 }, Committed(kafka.BootstrapServers, group, topic));

            // A second member joins: the first hands half of its partitions over, committing its progress again.
            second = await InProcessMember.StartAsync(Options(), log, topic);
            Assert.True(await GroupScaleTests.WaitAsync(() => first.Allocation.Count == Partitions / 2 && second.Allocation.Count == Partitions / 2, TimeSpan.FromSeconds(30)),
                $"no even split: first=[{string.Join(",", first.Allocation)}], second=[{string.Join(",", second.Allocation)}]");
            await GroupEnvironment.ProduceAsync(kafka.BootstrapServers, topic, Partitions, 100, 100);
            Assert.True(await GroupScaleTests.WaitAsync(() => log.Distinct().Count >= 200, TimeSpan.FromSeconds(30)), $"consumed {log.Distinct().Count} of 200");

            // The second member started where the first one's hand-over commit said, not at the late commit's 0.
            var again = log.Duplicates().Select(g => $"{g.Key.Partition}@{g.Key.Offset}").ToList();
            Assert.True(again.Count == 0, $"{again.Count} records handed out twice, first: {string.Join(", ", again.Take(10))}");
            Assert.Null(first.Failure);
            Assert.Null(second.Failure);
        }
        finally
        {
            if (second is not null) await second.DisposeAsync();
            await first.DisposeAsync();
        }
    }
}
