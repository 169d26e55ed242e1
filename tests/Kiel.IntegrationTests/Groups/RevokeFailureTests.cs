using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;

namespace Kiel.IntegrationTests.Groups;

/// <summary>
/// A hand-over commit that ends in a cancellation the member did not ask for (a timeout inside the commit) must give the
/// partitions up all the same, on both sides: the membership releases their claims so that the next owner can take
/// them, and the consumer forgets them, so that it neither commits its old progress over the next owner's nor, when a
/// partition comes back, believes it is still being fetched. (Before, the cancellation skipped both: the member kept
/// the claims of partitions its fetch engine had dropped.)
/// </summary>
[Trait("Category", "Groups")]
public sealed class RevokeFailureTests
{
    private const int Partitions = 4;

    [Fact]
    public async Task A_revocation_whose_commit_is_cancelled_from_inside_still_hands_the_partitions_over()
    {
        await using var setting = await Setting.StartAsync();
        var (kafka, topic, group, log, first) = (setting.Kafka, setting.Topic, setting.Group, setting.Log, setting.First);
        InProcessMember? second = null;
        try
        {
            // Every commit of the first member now ends as a timeout inside it would: in a cancellation not of its caller.
            var failing = 1;
            var cancelled = 0;
            first.Consumer.BeforeCommitSendForTests = _ =>
            {
                if (Volatile.Read(ref failing) == 0) return Task.CompletedTask;
                Interlocked.Increment(ref cancelled);
                throw new OperationCanceledException("a timeout inside the commit (test)");
            };

            // A second member joins: the first must give two partitions up although its hand-over commit fails.
            second = await InProcessMember.StartAsync(setting.Options(), log, topic);
            Assert.True(await GroupScaleTests.WaitAsync(() => first.Allocation.Count == Partitions / 2 && second.Allocation.Count == Partitions / 2, TimeSpan.FromSeconds(30)),
                $"no even split after a cancelled hand-over commit ({Volatile.Read(ref cancelled)} cancelled): first=[{string.Join(",", first.Allocation)}], second=[{string.Join(",", second.Allocation)}]");
            Assert.True(Volatile.Read(ref cancelled) > 0, "the hand-over commit was never attempted");
            Volatile.Write(ref failing, 0);

            await GroupEnvironment.ProduceAsync(kafka.BootstrapServers, topic, Partitions, 100, 100);
            Assert.True(await GroupScaleTests.WaitAsync(() => log.Distinct().Count >= 200, TimeSpan.FromSeconds(30)), $"consumed {log.Distinct().Count} of 200");

            // Each member commits its progress (50 a partition): the first must not write its old progress (25) in the
            // partitions it gave up over the second member's.
            using (var cts = TestTimeouts.After(30)) await second.Consumer.CommitOffsetsAsync(null, cts.Token);
            using (var cts = TestTimeouts.After(30)) await first.Consumer.CommitOffsetsAsync(null, cts.Token);
            Assert.Equal(new long[] { 50, 50, 50, 50 }, GroupEnvironment.Committed(kafka.BootstrapServers, group, topic, Enumerable.Range(0, Partitions)));

            // The second member leaves: its partitions come back to the first, which reads them on.
            await second.DisposeAsync();
            second = null;
            Assert.True(await GroupScaleTests.WaitAsync(() => first.Allocation.Count == Partitions, TimeSpan.FromSeconds(30)),
                $"the first member did not take every partition back: [{string.Join(",", first.Allocation)}]");
            await GroupEnvironment.ProduceAsync(kafka.BootstrapServers, topic, Partitions, 200, 100);
            Assert.True(await GroupScaleTests.WaitAsync(() => log.Distinct().Count >= 300, TimeSpan.FromSeconds(30)),
                $"consumed {log.Distinct().Count} of 300; missing in partitions [{string.Join(",", Enumerable.Range(0, Partitions).Where(p => Enumerable.Range(0, 75).Any(o => !log.Distinct().Contains((p, o)))))}]");
            Assert.Null(first.Failure);
        }
        finally
        {
            if (second is not null) await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task Partitions_that_come_back_right_after_a_cancelled_hand_over_are_read_again()
    {
        await using var setting = await Setting.StartAsync();
        var (kafka, topic, log, first) = (setting.Kafka, setting.Topic, setting.Log, setting.First);
        await using var second = new GroupedConsumer(setting.Options());
        // A second member joins, and the first starts to hand two partitions over. Its commit stands still while the
        // second member leaves again, then ends in a cancellation not of its caller (a timeout inside it): the
        // partitions are wanted back by the first member at once, before any retry of the failed round.
        var joined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hook = 0;
        first.Consumer.BeforeCommitSendForTests = async _ =>
        {
            if (Interlocked.Exchange(ref hook, 1) != 0) return;
            await joined.Task.WaitAsync(TimeSpan.FromSeconds(30));
            using (var cts = TestTimeouts.After(30)) await second.WindDownAsync(cts.Token);
            throw new OperationCanceledException("a timeout inside the commit (test)");
        };
        using (var cts = TestTimeouts.After(30)) await second.ConnectAsync(cts.Token);
        joined.SetResult();
        Assert.True(await GroupScaleTests.WaitAsync(() => Volatile.Read(ref hook) == 1, TimeSpan.FromSeconds(30)), "the first member never started to hand partitions over");

        await GroupEnvironment.ProduceAsync(kafka.BootstrapServers, topic, Partitions, 100, 100);
        Assert.True(await GroupScaleTests.WaitAsync(() => log.Distinct().Count >= 200, TimeSpan.FromSeconds(30)),
            $"consumed {log.Distinct().Count} of 200; first holds [{string.Join(",", first.Allocation)}]; partitions with records missing: [{string.Join(",", Enumerable.Range(0, Partitions).Where(p => Enumerable.Range(0, 50).Any(o => !log.Distinct().Contains((p, o)))))}]");
        Assert.Equal(Partitions, first.Allocation.Count);
        Assert.Null(first.Failure);
    }

    /// <summary>ZooKeeper, one broker, a topic of <see cref="Partitions"/> partitions holding 100 records, and a first
    /// member that has read them and commits only when told to or when it hands partitions over.</summary>
    private sealed class Setting : IAsyncDisposable
    {
        private Setting(EmbeddedZooKeeper zk, EmbeddedKafkaCluster kafka) => (ZooKeeper, Kafka) = (zk, kafka);

        public EmbeddedZooKeeper ZooKeeper { get; }
        public EmbeddedKafkaCluster Kafka { get; }
        public string Topic { get; } = GroupEnvironment.Unique("revoke");
        public string Group { get; } = GroupEnvironment.Unique("g");
        public DeliveryLog Log { get; } = new();
        public InProcessMember First { get; private set; } = null!;

        public GroupedConsumerOptions Options() => GroupEnvironment.MemberOptions(Kafka.BootstrapServers, Group, [ZooKeeper.ConnectString], TimeSpan.FromSeconds(4));

        public static async Task<Setting> StartAsync()
        {
            var zk = await EmbeddedZooKeeper.StartAsync();
            EmbeddedKafkaCluster? kafka = null;
            Setting? setting = null;
            try
            {
                kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
                setting = new Setting(zk, kafka);
                kafka.CreateTopic(setting.Topic, Partitions);
                await GroupEnvironment.ProduceAsync(kafka.BootstrapServers, setting.Topic, Partitions, 0, 100);
                setting.First = await InProcessMember.StartAsync(setting.Options() with { Autocommit = false }, setting.Log, setting.Topic);
                Assert.True(await GroupScaleTests.WaitAsync(() => setting.Log.Distinct().Count >= 100, TimeSpan.FromSeconds(30)), $"consumed {setting.Log.Distinct().Count} of 100");
                return setting;
            }
            catch
            {
                if (setting is not null) await setting.DisposeAsync();
                else
                {
                    if (kafka is not null) await kafka.DisposeAsync();
                    await zk.DisposeAsync();
                }
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (First is not null) await First.DisposeAsync();
            await Kafka.DisposeAsync();
            await ZooKeeper.DisposeAsync();
        }
    }
}
