using Kiel.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Consuming;

/// <summary>Kiel reads what other clients produced: the same keys, values, headers, timestamps and offsets.</summary>
public sealed class ConsumingInteropTests(KafkaClusterFixture fixture) : IClassFixture<KafkaClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    [Theory]
    [InlineData(Confluent.Kafka.CompressionType.None)]
    [InlineData(Confluent.Kafka.CompressionType.Gzip)]
    [InlineData(Confluent.Kafka.CompressionType.Snappy)]
    [InlineData(Confluent.Kafka.CompressionType.Lz4)]
    [InlineData(Confluent.Kafka.CompressionType.Zstd)]
    public async Task Reads_what_Confluent_produced_with_each_codec(Confluent.Kafka.CompressionType codec)
    {
        var topic = KafkaClusterFixture.UniqueTopic("codec");
        Cluster.CreateTopic(topic, partitions: 3);
        var produced = await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 600, codec);

        await using var consumer = ConsumingHelpers.Consumer(fixture.BootstrapServers);
        var assigned = await consumer.AssignTopicAsync(topic, StartPosition.Beginning);
        Assert.Equal(3, assigned.Count);
        var read = await ConsumingHelpers.ReadAsync(consumer, produced.Count);

        Assert.Equal(
            produced.Select(ConsumingHelpers.ToSeen).OrderBy(s => s.Partition).ThenBy(s => s.Offset),
            read.Select(ConsumingHelpers.ToSeen).OrderBy(s => s.Partition).ThenBy(s => s.Offset));
        foreach (var partition in read.GroupBy(r => r.Partition))
            Assert.Equal(partition.Select(r => r.Offset).Order(), partition.Select(r => r.Offset));
    }

    [Fact]
    public async Task Raw_batches_read_the_same_records_in_place_and_are_reused()
    {
        var topic = KafkaClusterFixture.UniqueTopic("raw");
        Cluster.CreateTopic(topic, partitions: 2);
        var produced = await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 300, Confluent.Kafka.CompressionType.Lz4);

        await using var consumer = ConsumingHelpers.Consumer(fixture.BootstrapServers);
        await consumer.AssignTopicAsync(topic, StartPosition.Beginning);
        var seen = new List<Seen>();
        var batches = new HashSet<ConsumedBatch>(ReferenceEqualityComparer.Instance);
        using var cts = TestTimeouts.After(30);
        await foreach (var batch in consumer.ConsumeBatchesAsync(cts.Token))
        {
            batches.Add(batch);
            while (batch.TryReadNext(out var r))
            {
                seen.Add(new Seen(r.TopicPartition.Partition, r.Offset,
                    r.KeyIsNull ? null : System.Text.Encoding.UTF8.GetString(r.Key),
                    r.ValueIsNull ? null : System.Text.Encoding.UTF8.GetString(r.Value),
                    r.TimestampMs, ConsumingHelpers.Headers(r.CopyHeaders())));
            }
            if (seen.Count >= produced.Count) break;
        }
        Assert.Equal(
            produced.Select(ConsumingHelpers.ToSeen).OrderBy(s => s.Partition).ThenBy(s => s.Offset),
            seen.OrderBy(s => s.Partition).ThenBy(s => s.Offset));
        Assert.True(batches.Count <= 2, $"{batches.Count} batch objects for one reader: disposed batches should be reused");
    }
}
