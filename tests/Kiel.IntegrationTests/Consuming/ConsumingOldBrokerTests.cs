using Kiel.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Consuming;

/// <summary>A cluster that advertises only kiel's era of Fetch and ListOffsets (v0). The mock hands stored magic-2 batches to Fetch v0 verbatim, so everything round-trips.</summary>
public sealed class ConsumingOldBrokerTests
{
    [Fact]
    public async Task Consumes_with_Fetch_v0_and_ListOffsets_v0_including_a_record_over_the_partition_limit()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 2 });
        cluster.CreateTopic("old", 2);
        var produced = await ConsumingHelpers.ProduceAsync(cluster.BootstrapServers, "old", 200, Confluent.Kafka.CompressionType.Gzip,
            configure: c => c.MessageMaxBytes = 4_000_000);
        cluster.SetApiVersion(KafkaApiKeys.Fetch, 0, 0);
        cluster.SetApiVersion(KafkaApiKeys.ListOffsets, 0, 0);

        await using var consumer = ConsumingHelpers.Consumer(cluster.BootstrapServers, o => o with { MaxPartitionFetchBytes = 512 });
        await consumer.AssignTopicAsync("old", StartPosition.Beginning);
        var read = await ConsumingHelpers.ReadAsync(consumer, produced.Count);
        Assert.Equal(
            produced.Select(ConsumingHelpers.ToSeen).OrderBy(s => s.Partition).ThenBy(s => s.Offset),
            read.Select(ConsumingHelpers.ToSeen).OrderBy(s => s.Partition).ThenBy(s => s.Offset));
        Assert.Equal(new WatermarkOffsets(0, produced.Count(r => r.Partition.Value == 0)), await consumer.QueryWatermarkOffsetsAsync(new Kiel.TopicPartition("old", 0)));
    }
}
