using System.Collections.Concurrent;
using System.Diagnostics;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;

namespace Kiel.IntegrationTests.Groups;

/// <summary>
/// A member's ZooKeeper server is cut off from the rest of the ensemble (its links to the others stall, as in a
/// network partition). That follower keeps answering the member's pings and reads from its own copy for syncLimit
/// ticks (here 20 s), while the leader expires the member's session after its timeout and another member, connected to
/// the other servers, takes the partitions over. The member must stop handing out records before that: its lease
/// counts only checks the leader stood behind (a sync, then the read), never a ping or a plain read.
/// </summary>
[Trait("Category", "Groups")]
public sealed class PartitionedFollowerTests
{
    private const int Partitions = 4;

    [Fact]
    public async Task A_member_whose_ZooKeeper_server_is_cut_off_from_the_leader_stops_handing_out_before_another_member_takes_its_partitions()
    {
        // Member 0 reaches the others through stallable relays; syncLimit 100 ticks of 200 ms keeps it serving its
        // clients for 20 s after its links stall, far past the members' 2 s session timeout.
        await using var ensemble = await EmbeddedZooKeeperEnsemble.StartAsync(3, new EmbeddedZooKeeperOptions { RelayedServer = 0, SyncLimitTicks = 100 });
        Assert.Equal("follower", await FourLetterWords.GetModeAsync(ensemble.ClientPort(0)));
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        var topic = GroupEnvironment.Unique("cut");
        var group = GroupEnvironment.Unique("g");
        kafka.CreateTopic(topic, Partitions);
        var produced = 0;
        async Task ProduceAsync(int count)
        {
            await GroupEnvironment.ProduceAsync(kafka.BootstrapServers, topic, Partitions, produced, count);
            produced += count;
        }

        GroupedConsumerOptions Options(string zooKeeper) => GroupEnvironment.MemberOptions(kafka.BootstrapServers, group, [zooKeeper], TimeSpan.FromSeconds(2));
        var log = new DeliveryLog();
        // The cut-off member talks to member 0 of the ensemble only; the other one to the other two.
        var cut = await InProcessMember.StartAsync(Options(ensemble.ConnectStringOf(0)), log, topic);
        var other = await InProcessMember.StartAsync(Options($"{ensemble.ConnectStringOf(1)},{ensemble.ConnectStringOf(2)}"), log, topic);
        try
        {
            Assert.True(await GroupScaleTests.WaitAsync(() => cut.Allocation.Count == Partitions / 2 && other.Allocation.Count == Partitions / 2, TimeSpan.FromSeconds(30)),
                $"no even split: cut=[{string.Join(",", cut.Allocation)}], other=[{string.Join(",", other.Allocation)}]");
            await ProduceAsync(400);
            Assert.True(await GroupScaleTests.WaitAsync(() => log.Distinct().Count >= produced, TimeSpan.FromSeconds(30)), $"consumed {log.Distinct().Count} of {produced}");
            var cutPartitions = cut.Allocation.ToHashSet();

            ensemble.StallLinksOf(0);
            var stalledAt = Stopwatch.GetTimestamp();
            // Keep records coming while the other member takes over (after the leader expires the cut-off session),
            // and for a while after: a member that still trusted its follower would hand them out too.
            var takenOver = 0L;
            var bound = Stopwatch.StartNew();
            while (bound.Elapsed < TimeSpan.FromSeconds(30))
            {
                await ProduceAsync(40);
                if (takenOver == 0 && other.Allocation.Count == Partitions) takenOver = Stopwatch.GetTimestamp();
                if (takenOver != 0 && Stopwatch.GetElapsedTime(takenOver) > TimeSpan.FromSeconds(3)) break;
                await Task.Delay(100);
            }
            Assert.True(takenOver != 0, $"the other member did not take the partitions over within 30 s: other=[{string.Join(",", other.Allocation)}]");
            Assert.True(Stopwatch.GetElapsedTime(stalledAt) < TimeSpan.FromSeconds(18), "the run outlasted the follower's syncLimit; its verdict would say nothing");

            // Every record of the cut-off member's partitions that both handed out: the cut-off member's copy must come
            // first (before the other one's), and nothing it handed out may come after the other member began on the partition.
            var violations = new List<string>();
            foreach (var p in cutPartitions)
            {
                var byOther = log.All.Where(d => d.Partition == p && d.Member == other.Consumer.Name && d.At > stalledAt).ToList();
                if (byOther.Count == 0) continue;
                var otherStart = byOther.Min(d => d.At);
                foreach (var d in log.All.Where(d => d.Partition == p && d.Member == cut.Consumer.Name && d.At >= otherStart))
                    violations.Add($"{p}@{d.Offset} handed out by the cut-off member {Stopwatch.GetElapsedTime(stalledAt, d.At).TotalMilliseconds:F0} ms after the stall, " +
                        $"after the other member began on the partition ({Stopwatch.GetElapsedTime(stalledAt, otherStart).TotalMilliseconds:F0} ms)");
            }
            Assert.True(violations.Count == 0, $"{violations.Count} records handed out by two owners at once:\n" + string.Join("\n", violations.Take(10)));
            Assert.True(log.All.Any(d => cutPartitions.Contains(d.Partition) && d.Member == other.Consumer.Name && d.At > stalledAt),
                "the other member handed out nothing of the cut-off member's partitions: the test proves nothing");

            // Healed, the cut-off member learns its session is gone, rejoins, and nothing is lost.
            ensemble.ResumeLinksOf(0);
            await ProduceAsync(40);
            Assert.True(await GroupScaleTests.WaitAsync(() => log.Distinct().Count >= produced, TimeSpan.FromSeconds(60)), $"consumed {log.Distinct().Count} of {produced}");
            Assert.Null(cut.Failure);
            Assert.Null(other.Failure);
        }
        finally
        {
            ensemble.ResumeLinksOf(0);
            await other.DisposeAsync();
            await cut.DisposeAsync();
        }
    }
}
