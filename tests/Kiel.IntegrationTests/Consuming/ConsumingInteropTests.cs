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
}
