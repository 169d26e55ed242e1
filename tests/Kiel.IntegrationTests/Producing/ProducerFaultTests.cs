using System.Collections.Concurrent;
using System.Text;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Producing;

/// <summary>Faults while producing with idempotence on: every record arrives once, in order, per partition; or is reported failed.</summary>
public sealed class ProducerFaultTests(KafkaClusterFixture fixture) : IClassFixture<KafkaClusterFixture>
{
    private const short ProduceApi = 0;
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    /// <summary>Produces <paramref name="perPartition"/> numbered records to each partition in rounds, running <paramref name="fault"/> between rounds.</summary>
    private async Task<(int Delivered, List<string> Failures)> ProduceNumbered(string topic, int partitions, int perPartition, int rounds,
        Func<int, Task> fault, KielProducerOptions? options = null)
    {
        var failures = new ConcurrentBag<string>();
        var delivered = 0;
        options ??= ProducerTestKit.Options(fixture.BootstrapServers);
        await using var producer = new KielProducer<string, string>(options);
        var perRound = perPartition / rounds;
        for (var round = 0; round < rounds; round++)
        {
            for (var n = round * perRound; n < (round + 1) * perRound; n++)
                for (var p = 0; p < partitions; p++)
                    producer.Produce(topic, null, n.ToString(), partition: p, onDelivery: (in DeliveryReport r) =>
                    {
                        if (r.IsDelivered) Interlocked.Increment(ref delivered);
                        else failures.Add(r.Error!.Message);
                    });
            await Task.Delay(30);
            await fault(round);
        }
        await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(90));
        return (delivered, failures.ToList());
    }

    private void AssertOncePerPartitionInOrder(string topic, int partitions, int perPartition, bool checkCrcs = true)
    {
        var read = ProducerTestKit.ReadAll(fixture.BootstrapServers, topic, partitions, partitions * perPartition, TimeSpan.FromSeconds(60), checkCrcs);
        for (var p = 0; p < partitions; p++)
        {
            var values = read.Where(r => r.Partition.Value == p).OrderBy(r => r.Offset.Value)
                .Select(r => int.Parse(Encoding.UTF8.GetString(r.Message.Value!))).ToArray();
            var duplicates = values.Length - values.Distinct().Count();
            var gaps = perPartition - values.Distinct().Count();
            Assert.True(duplicates == 0 && gaps == 0, $"partition {p}: {duplicates} duplicates, {gaps} gaps of {perPartition}");
            Assert.Equal(Enumerable.Range(0, perPartition), values);
        }
    }

    [Fact]
    public async Task Leader_moves_mid_stream_lose_and_duplicate_nothing()
    {
        var topic = ProducerTestKit.Topic("move");
        Cluster.CreateTopic(topic, 6, 3);
        var (delivered, failures) = await ProduceNumbered(topic, 6, 3000, 6, round =>
        {
            for (var p = 0; p < 6; p++) Cluster.SetPartitionLeader(topic, p, (p + round) % 3 + 1);
            return Task.CompletedTask;
        });
        Assert.Empty(failures);
        Assert.Equal(18_000, delivered);
        AssertOncePerPartitionInOrder(topic, 6, 3000);
    }

    [Fact]
    public async Task Injected_NOT_LEADER_and_REQUEST_TIMED_OUT_are_retried_in_order()
    {
        var topic = ProducerTestKit.Topic("inject");
        Cluster.CreateTopic(topic, 6, 3);
        // One batch in flight per partition: the mock does not check a plain idempotent producer's sequences, so a batch
        // sent behind a failed one would be written ahead of it (a real broker refuses it; the pipelined case is the
        // transactional test above, whose sequences the mock checks).
        var (delivered, failures) = await ProduceNumbered(topic, 6, 3000, 6, round =>
        {
            Cluster.PushRequestErrors(ProduceApi, 6, 7, 6, 7);
            return Task.CompletedTask;
        }, ProducerTestKit.Options(fixture.BootstrapServers) with { MaxInFlight = 1 });
        Assert.Empty(failures);
        Assert.Equal(18_000, delivered);
        AssertOncePerPartitionInOrder(topic, 6, 3000);
    }

    [Fact]
    public async Task Pipelined_transactional_batches_through_injected_errors_and_leader_moves_arrive_once_in_order()
    {
        // Small batches and slow answers: each partition has several batches in flight (up to five under idempotence)
        // when an answer fails, so the mock refuses the batches behind it as out of order, and they must go again in
        // their place. Transactional, because the mock checks the sequences of transactional producers only (a plain
        // idempotent producer's are not checked, so a batch behind a failed one would be written ahead of it there;
        // a real broker refuses it as out of order whichever the producer is).
        var topic = ProducerTestKit.Topic("pipelined");
        Cluster.CreateTopic(topic, 3, 3);
        for (var b = 1; b <= 3; b++) Cluster.SetBrokerRtt(b, 20);
        const int perPartition = 3000, rounds = 6;
        var failures = new ConcurrentBag<string>();
        var delivered = 0;
        var logs = new Kiel.Tests.ListLoggerFactory();
        try
        {
            var options = ProducerTestKit.Options(fixture.BootstrapServers) with
            {
                LoggerFactory = logs,
                BatchSize = 1024,
                Linger = TimeSpan.FromMilliseconds(1),
                TransactionalId = "pipelined-" + Guid.NewGuid().ToString("N"),
            };
            await using var producer = new KielProducer<string, string>(options);
            await producer.InitTransactionsAsync().WaitAsync(TimeSpan.FromSeconds(60));
            producer.BeginTransaction();
            for (var round = 0; round < rounds; round++)
            {
                // Before the round's records: its first requests fail while the batches behind them are in flight.
                if (round is 2 or 4)
                    for (var p = 0; p < 3; p++) Cluster.SetPartitionLeader(topic, p, (p + round) % 3 + 1);
                else Cluster.PushRequestErrors(ProduceApi, 6, 7, 6);
                for (var n = round * perPartition / rounds; n < (round + 1) * perPartition / rounds; n++)
                    for (var p = 0; p < 3; p++)
                        producer.Produce(topic, null, n.ToString(), partition: p, onDelivery: (in DeliveryReport r) =>
                        {
                            if (r.IsDelivered) Interlocked.Increment(ref delivered);
                            else failures.Add(r.Error!.Message);
                        });
                await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(60));
            }
            await producer.CommitTransactionAsync().WaitAsync(TimeSpan.FromSeconds(90));
        }
        finally
        {
            for (var b = 1; b <= 3; b++) Cluster.SetBrokerRtt(b, 0);
        }
        Assert.Empty(failures);
        Assert.Equal(3 * perPartition, delivered);
        // Batches were in flight behind failed ones: the mock refused them as out of order, and they were retried
        // within the transaction (no abort, no new epoch).
        var retries = logs.Entries.Where(e => e.EventId == (int)Kiel.Diagnostics.LogEvents.ProducerRetrying).Select(e => e.Message).ToList();
        Assert.True(retries.Any(m => m.Contains("OUT_OF_ORDER_SEQUENCE_NUMBER")), "retries: " + string.Join(" | ", retries));
        // The mock's commit markers carry no CRC, so Confluent's reader checks none here.
        AssertOncePerPartitionInOrder(topic, 3, perPartition, checkCrcs: false);
    }

    [Fact]
    public async Task A_broker_down_and_up_delays_but_loses_nothing()
    {
        var topic = ProducerTestKit.Topic("down");
        Cluster.CreateTopic(topic, 6, 1);
        var (delivered, failures) = await ProduceNumbered(topic, 6, 3000, 6, async round =>
        {
            if (round == 1) Cluster.SetBrokerDown(2);
            if (round == 3)
            {
                await Task.Delay(1000);
                Cluster.SetBrokerUp(2);
            }
        });
        Assert.Empty(failures);
        Assert.Equal(18_000, delivered);
        AssertOncePerPartitionInOrder(topic, 6, 3000);
    }

    [Fact]
    public async Task A_broker_down_longer_than_the_delivery_timeout_fails_its_records_with_a_reason()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        var topic = ProducerTestKit.Topic("expire");
        cluster.CreateTopic(topic, 3, 1); // RF 1: partition p led by broker p+1
        var options = ProducerTestKit.Options(cluster.BootstrapServers) with
        {
            DeliveryTimeout = TimeSpan.FromSeconds(3),
            RequestTimeout = TimeSpan.FromSeconds(1),
        };
        var delivered = 0;
        var failures = new ConcurrentBag<(int Partition, string Reason)>();
        const int produced = 3000;
        await using (var producer = new KielProducer<string, string>(options))
        {
            await producer.ProduceAsync(topic, null, "warm-up", partition: 0); // metadata and connections known
            delivered++;
            cluster.SetBrokerDown(2);
            for (var i = 1; i < produced; i++)
                producer.Produce(topic, null, $"{i}", partition: i % 3, onDelivery: (in DeliveryReport r) =>
                {
                    if (r.IsDelivered) Interlocked.Increment(ref delivered);
                    else failures.Add((r.Partition, r.Error!.Message));
                });
            await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
            cluster.SetBrokerUp(2);
        }
        Assert.Equal(produced, delivered + failures.Count);
        Assert.Equal(produced / 3, failures.Count);
        Assert.All(failures, f => Assert.Equal(1, f.Partition));
        Assert.All(failures, f => Assert.Contains("DeliveryTimeout", f.Reason));
    }

    [Fact]
    public async Task An_unknown_topic_fails_with_UNKNOWN_TOPIC_OR_PARTITION()
    {
        await using var producer = new KielProducer<string, string>(ProducerTestKit.Options(fixture.BootstrapServers));
        var ex = await Assert.ThrowsAsync<ProduceException>(() =>
            producer.ProduceAsync("no-such-topic-" + Guid.NewGuid().ToString("N")[..8], null, "v").AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(3, ex.ErrorCode);
        Assert.Equal("UNKNOWN_TOPIC_OR_PARTITION", ex.ErrorName);
    }

    [Fact]
    public async Task Kiel_shaped_Producer_reports_offsets()
    {
        var topic = ProducerTestKit.Topic("kiel");
        Cluster.CreateTopic(topic, 4);
        await using var producer = new Producer<Dictionary<string, string>>(fixture.BootstrapServers.Split(','), keyMaker: m => m["user"],
            partitioner: (key, partitions) => partitions[Math.Abs(((string)key!).GetHashCode() % partitions.Count)]);
        var report = await producer.ProduceAsync(topic, new Dictionary<string, string> { ["user"] = "ada", ["action"] = "login" });
        Assert.True(report.Offset >= 0);
        var read = ProducerTestKit.ReadAll(fixture.BootstrapServers, topic, 4, 1, TimeSpan.FromSeconds(30));
        var r = Assert.Single(read);
        Assert.Equal("ada", Encoding.UTF8.GetString(r.Message.Key!));
        Assert.Equal("{\"user\":\"ada\",\"action\":\"login\"}", Encoding.UTF8.GetString(r.Message.Value!));
    }
}
