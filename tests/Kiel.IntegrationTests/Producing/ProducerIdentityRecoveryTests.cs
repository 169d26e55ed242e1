using System.Collections.Concurrent;
using System.Text;
using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Producing;

/// <summary>
/// Issue 19: a broker outage longer than the delivery timeout makes the idempotent producer ask for an epoch bump,
/// which the librdkafka mock refuses (INVALID_PRODUCER_ID_MAPPING). The producer must take a fresh producer id and go
/// on, and never hold up the partitions of healthy brokers.
/// </summary>
public sealed class ProducerIdentityRecoveryTests
{
    private const int Partitions = 6;
    private const int DownBroker = 2;
    private const short InitProducerIdApi = 22;

    private static int LeaderOf(int partition) => partition % 3 + 1;

    private static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (System.Diagnostics.Stopwatch.GetElapsedTime(started) > timeout) return condition();
            await Task.Delay(20);
        }
        return true;
    }

    [Fact]
    public async Task A_refused_epoch_bump_after_an_outage_takes_a_fresh_id_and_blocks_no_healthy_partition()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        var topic = ProducerTestKit.Topic("bump");
        cluster.CreateTopic(topic, Partitions, 1);
        for (var p = 0; p < Partitions; p++) cluster.SetPartitionLeader(topic, p, LeaderOf(p));
        var options = ProducerTestKit.Options(cluster.BootstrapServers) with
        {
            DeliveryTimeout = TimeSpan.FromSeconds(3),
            RequestTimeout = TimeSpan.FromSeconds(1),
        };

        var deliveredDuringOutage = new ConcurrentBag<int>();
        var failedDuringOutage = new ConcurrentBag<(int Partition, string Reason)>();
        var afterReturn = new ConcurrentBag<(int Partition, string? Error)>();
        await using var producer = new KielProducer<string, string>(options);

        // Every partition has been written under the first producer id, so every partition has sequence state.
        for (var p = 0; p < Partitions; p++) await producer.ProduceAsync(topic, null, "warm-up", partition: p).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        cluster.StartRequestTracking();
        cluster.SetBrokerDown(DownBroker);
        // Produce to every partition for a while: broker 2's batches expire after attempts, which asks for a new epoch;
        // records for brokers 1 and 3 go on being produced after that and must be delivered.
        var produced = 0;
        var outage = System.Diagnostics.Stopwatch.StartNew();
        for (var round = 0; round < 400 && (outage.Elapsed < TimeSpan.FromSeconds(7) || failedDuringOutage.IsEmpty); round++)
        {
            for (var p = 0; p < Partitions; p++)
            {
                produced++;
                producer.Produce(topic, null, $"outage-{round}", partition: p, onDelivery: (in DeliveryReport r) =>
                {
                    if (r.IsDelivered) deliveredDuringOutage.Add(r.Partition);
                    else failedDuringOutage.Add((r.Partition, r.Error!.Message));
                });
            }
            await Task.Delay(25);
        }
        Assert.True(await WaitForAsync(() => deliveredDuringOutage.Count + failedDuringOutage.Count == produced, TimeSpan.FromSeconds(30)),
            $"{deliveredDuringOutage.Count} delivered + {failedDuringOutage.Count} failed of {produced} produced during the outage");

        // Only the down broker's partitions failed, each with a reason that says why.
        Assert.NotEmpty(failedDuringOutage);
        Assert.All(failedDuringOutage, f => Assert.Equal(DownBroker, LeaderOf(f.Partition)));
        Assert.All(failedDuringOutage, f => Assert.Contains("DeliveryTimeout", f.Reason));
        // The outage did put the producer's identity in doubt: it asked for a new one (the mock refuses the bump).
        Assert.Contains(cluster.GetRequests(), r => r.ApiKey == InitProducerIdApi);
        var healthyProduced = produced / Partitions * 4;
        Assert.Equal(healthyProduced, deliveredDuringOutage.Count(p => LeaderOf(p) != DownBroker));

        cluster.SetBrokerUp(DownBroker);
        const int perPartition = 60;
        for (var i = 0; i < perPartition; i++)
            for (var p = 0; p < Partitions; p++)
                producer.Produce(topic, null, $"after-{i}", partition: p, onDelivery: (in DeliveryReport r) => afterReturn.Add((r.Partition, r.Error?.Message)));
        await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var afterFailures = afterReturn.Where(r => r.Error is not null).ToList();
        Assert.True(afterFailures.Count == 0,
            $"{afterFailures.Count} of {afterReturn.Count} records produced after broker {DownBroker} returned failed, e.g. {afterFailures.FirstOrDefault().Error}");
        Assert.Equal(perPartition * Partitions, afterReturn.Count);

        // The records produced after the return are in the log once each, in produce order, on every partition.
        var read = ProducerTestKit.ReadAll(cluster.BootstrapServers, topic, Partitions, Partitions + deliveredDuringOutage.Count + perPartition * Partitions, TimeSpan.FromSeconds(60));
        for (var p = 0; p < Partitions; p++)
        {
            var after = read.Where(r => r.Partition.Value == p).OrderBy(r => r.Offset.Value)
                .Select(r => Encoding.UTF8.GetString(r.Message.Value!)).Where(v => v.StartsWith("after-", StringComparison.Ordinal)).ToArray();
            Assert.Equal(Enumerable.Range(0, perPartition).Select(i => $"after-{i}"), after);
        }
    }
}
