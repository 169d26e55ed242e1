using System.Diagnostics;
using Confluent.Kafka;
using Kiel.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Consuming;

/// <summary>Start positions, resets, skipping, large records, transactions and cancellation against the embedded cluster.</summary>
public sealed class ConsumingBehaviourTests(KafkaClusterFixture fixture) : IClassFixture<KafkaClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private string NewTopic(string prefix, int partitions = 1)
    {
        var topic = KafkaClusterFixture.UniqueTopic(prefix);
        Cluster.CreateTopic(topic, partitions);
        return topic;
    }

    [Fact]
    public async Task Starts_from_beginning_end_a_time_a_duration_and_an_offset()
    {
        var topic = NewTopic("start");
        await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 10);
        var tp = new Kiel.TopicPartition(topic, 0);
        await using var consumer = ConsumingHelpers.Consumer(fixture.BootstrapServers);

        await consumer.AssignAsync(tp, StartPosition.Beginning);
        Assert.Equal(0, await consumer.PositionAsync(tp));
        Assert.Equal(0, (await ConsumingHelpers.ReadAsync(consumer, 1))[0].Offset);

        await consumer.AssignAsync(tp, StartPosition.AtOffset(4));
        Assert.Equal(4, (await ConsumingHelpers.ReadAsync(consumer, 1))[0].Offset);

        // The mock has no time index (ListOffsets by time answers -1): a time then means "from the end".
        await consumer.AssignAsync(tp, DateTimeOffset.UtcNow.AddHours(-1));
        Assert.Equal(10, await consumer.PositionAsync(tp));
        await consumer.AssignAsync(tp, TimeSpan.FromMinutes(5));
        Assert.Equal(10, await consumer.PositionAsync(tp));
        Assert.Equal(new Dictionary<Kiel.TopicPartition, long?> { [tp] = null },
            await consumer.OffsetsForTimesAsync([new(tp, DateTimeOffset.UtcNow.AddDays(-1))]));

        await consumer.AssignAsync(tp, StartPosition.End);
        Assert.Equal(10, await consumer.PositionAsync(tp));
        await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 1);
        Assert.Equal(10, (await ConsumingHelpers.ReadAsync(consumer, 1))[0].Offset);
        Assert.Equal(new Kiel.Consuming.WatermarkOffsets(0, 11), await consumer.QueryWatermarkOffsetsAsync(tp));
    }

    [Theory]
    [InlineData(OffsetResetPolicy.Earliest)]
    [InlineData(OffsetResetPolicy.Latest)]
    public async Task An_injected_offset_out_of_range_resets_by_the_policy(OffsetResetPolicy policy)
    {
        var topic = NewTopic("oor");
        await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 20, partition: 0);
        var tp = new Kiel.TopicPartition(topic, 0);
        await using var consumer = ConsumingHelpers.Consumer(fixture.BootstrapServers, o => o with { AutoOffsetReset = policy });
        Cluster.PushRequestErrors(KafkaApiKeys.Fetch, 1);
        await consumer.AssignAsync(tp, StartPosition.AtOffset(10));
        if (policy == OffsetResetPolicy.Earliest)
        {
            Assert.Equal(0, (await ConsumingHelpers.ReadAsync(consumer, 1))[0].Offset);
            return;
        }
        Assert.True(await TestTimeouts.WaitUntilAsync(() => consumer.PositionAsync(tp).AsTask().Result == 20, TimeSpan.FromSeconds(10)));
        await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 1, partition: 0);
        Assert.Equal(20, (await ConsumingHelpers.ReadAsync(consumer, 1))[0].Offset);
    }

    [Fact]
    public async Task Offset_out_of_range_with_the_error_policy_throws()
    {
        var topic = NewTopic("oorerr");
        await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 3, partition: 0);
        var tp = new Kiel.TopicPartition(topic, 0);
        await using var consumer = ConsumingHelpers.Consumer(fixture.BootstrapServers, o => o with { AutoOffsetReset = OffsetResetPolicy.Error });
        await consumer.AssignAsync(tp, StartPosition.AtOffset(50));
        var ex = await Assert.ThrowsAsync<Kiel.Consuming.OffsetOutOfRangeException>(() => ConsumingHelpers.ReadAsync(consumer, 1, seconds: 10));
        Assert.Equal(50, ex.Offset);
    }

    [Fact]
    public async Task A_compressed_batch_that_starts_below_the_requested_offset_is_not_redelivered()
    {
        var topic = NewTopic("below");
        var produced = await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 100, Confluent.Kafka.CompressionType.Gzip, partition: 0,
            configure: c => c.LingerMs = 200);
        Assert.Equal(99, produced.Max(r => r.Offset.Value));
        var tp = new Kiel.TopicPartition(topic, 0);
        await using var consumer = ConsumingHelpers.Consumer(fixture.BootstrapServers);
        await consumer.AssignAsync(tp, StartPosition.AtOffset(37));
        var read = await ConsumingHelpers.ReadAsync(consumer, 63);
        Assert.Equal(Enumerable.Range(37, 63).Select(i => (long)i), read.Select(r => r.Offset));
        Assert.Equal($"key-37", read[0].Key);
    }

    [Fact]
    public async Task A_record_bigger_than_the_partition_limit_is_delivered()
    {
        var topic = NewTopic("big");
        var value = new string('b', 3 * 1024 * 1024);
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig(ConfluentClients.ProducerConfig(fixture.BootstrapServers)) { MessageMaxBytes = 10_000_000 }).Build())
        {
            await producer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, 0), new Message<string, string> { Key = "big", Value = value });
            await producer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, 0), new Message<string, string> { Key = "small", Value = "s" });
        }
        await using var consumer = ConsumingHelpers.Consumer(fixture.BootstrapServers, o => o with { MaxPartitionFetchBytes = 64 * 1024, FetchMaxBytes = 128 * 1024 });
        await consumer.AssignAsync(new Kiel.TopicPartition(topic, 0), StartPosition.Beginning);
        var read = await ConsumingHelpers.ReadAsync(consumer, 2);
        Assert.Equal(value, read[0].Value);
        Assert.Equal("s", read[1].Value);
    }

    [Fact]
    public async Task Transactions_read_committed_as_Confluent_does_and_control_records_skipped()
    {
        var topic = NewTopic("txn");
        var config = new ProducerConfig(ConfluentClients.ProducerConfig(fixture.BootstrapServers))
        {
            TransactionalId = $"tx-{topic}",
            EnableIdempotence = true,
            TransactionTimeoutMs = 10_000,
        };
        using (var producer = new ProducerBuilder<string, string>(config).Build())
        {
            producer.InitTransactions(TimeSpan.FromSeconds(20));
            foreach (var (name, commit) in new[] { ("a", true), ("b", false), ("c", true) })
            {
                producer.BeginTransaction();
                for (var i = 0; i < 10; i++)
                    producer.Produce(new Confluent.Kafka.TopicPartition(topic, 0), new Message<string, string> { Key = $"{name}{i}", Value = $"{name}-{i}" });
                producer.Flush(TimeSpan.FromSeconds(20)); // otherwise an abort purges the records before they reach the log
                if (commit) producer.CommitTransaction(TimeSpan.FromSeconds(20));
                else producer.AbortTransaction(TimeSpan.FromSeconds(20));
            }
        }
        var tp = new Kiel.TopicPartition(topic, 0);
        // The mock answers Fetch with an empty aborted-transactions list and LSO = log end (rdkafka_mock_handlers.c),
        // so no client can drop aborted records here; Confluent's read_committed consumer is the reference.
        // Dropping aborted transactions from the list a real broker sends is covered at unit level, through the production
        // fetch path, by Kiel.Tests' ReadCommittedFetchPathTests (and FetchedChunkTests, FetchEngineTests).
        List<string> reference;
        using (var confluent = ConfluentClients.Consumer(fixture.BootstrapServers, $"ref-{topic}", c => c.IsolationLevel = Confluent.Kafka.IsolationLevel.ReadCommitted))
        {
            confluent.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
            using var cts = TestTimeouts.After(20);
            reference = [.. ConfluentClients.ConsumeCount(confluent, 20, cts.Token).Select(r => r.Message.Value)];
            Thread.Sleep(500);
            while (confluent.Consume(TimeSpan.FromMilliseconds(200)) is { Message: not null } more) reference.Add(more.Message.Value);
        }
        // The mock writes its transaction-marker batches with a CRC of 0 (a real broker computes it), so these reads of
        // the mock's control batches turn the CRC check off; CorruptCrcTests covers the check end to end.
        await using (var committed = ConsumingHelpers.Consumer(fixture.BootstrapServers, o => o with { IsolationLevel = Kiel.Consuming.IsolationLevel.ReadCommitted, CheckCrcs = false }))
        {
            await committed.AssignAsync(tp, StartPosition.Beginning);
            var read = await ConsumingHelpers.ReadAsync(committed, reference.Count);
            Assert.Equal(reference, read.Select(r => r.Value));
        }
        await using var everything = ConsumingHelpers.Consumer(fixture.BootstrapServers, o => o with { CheckCrcs = false });
        await everything.AssignAsync(tp, StartPosition.Beginning);
        var all = await ConsumingHelpers.ReadAsync(everything, 30);
        Assert.Equal(30, all.Count);
        Assert.Equal(31, all[^1].Offset); // the commit and abort markers took offsets 10 and 21 and were skipped
    }

    [Fact]
    public async Task Cancelling_a_stream_that_waits_ends_it_within_the_fetch_wait()
    {
        var topic = NewTopic("cancel");
        await using var consumer = ConsumingHelpers.Consumer(fixture.BootstrapServers, o => o with { FetchMaxWait = TimeSpan.FromMilliseconds(1000) });
        await consumer.AssignAsync(new Kiel.TopicPartition(topic, 0), StartPosition.End);
        using var cts = new CancellationTokenSource();
        var stream = Task.Run(async () =>
        {
            await foreach (var _ in consumer.ConsumeAsync(cts.Token)) { }
        });
        await Task.Delay(300);
        var watch = Stopwatch.StartNew();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(watch.Elapsed < TimeSpan.FromMilliseconds(1000 + 1000), $"the stream ended after {watch.ElapsedMilliseconds} ms");
    }
}
