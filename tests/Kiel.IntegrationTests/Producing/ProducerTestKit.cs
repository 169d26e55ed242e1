using Confluent.Kafka;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;

namespace Kiel.IntegrationTests.Producing;

/// <summary>Shared helpers of the producer integration tests: options for the embedded cluster, and a Confluent.Kafka reader.</summary>
internal static class ProducerTestKit
{
    public static KielProducerOptions Options(string bootstrap) => new()
    {
        BootstrapServers = bootstrap,
        ClientId = "kiel-producer-tests",
        RetryBackoff = TimeSpan.FromMilliseconds(50),
        RequestTimeout = TimeSpan.FromSeconds(5),
        DeliveryTimeout = TimeSpan.FromSeconds(30),
        CloseTimeout = TimeSpan.FromSeconds(10),
        MaxBlock = TimeSpan.FromSeconds(10),
    };

    /// <summary>Reads every partition of <paramref name="topic"/> from the beginning with Confluent.Kafka until <paramref name="count"/> records arrived.</summary>
    /// <param name="checkCrcs">False only where the mock wrote batches of its own: its transaction markers carry no CRC.</param>
    public static List<ConsumeResult<byte[]?, byte[]?>> ReadAll(string bootstrap, string topic, int partitions, int count, TimeSpan timeout, bool checkCrcs = true)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            FetchWaitMaxMs = 10,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            // librdkafka leaves batch CRCs unchecked by default; the readers here check every one Kiel wrote.
            CheckCrcs = checkCrcs,
        };
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var results = new List<ConsumeResult<byte[]?, byte[]?>>(count);
        var deadline = DateTime.UtcNow + timeout;
        while (results.Count < count && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is { IsPartitionEOF: false, Message: not null }) results.Add(r);
        }
        // Anything past the expected count would be a duplicate: look a little longer for it.
        var extraDeadline = DateTime.UtcNow + TimeSpan.FromMilliseconds(300);
        while (DateTime.UtcNow < extraDeadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(50));
            if (r is { IsPartitionEOF: false, Message: not null }) results.Add(r);
        }
        consumer.Close();
        return results;
    }

    public static string Topic(string prefix) => KafkaClusterFixture.UniqueTopic(prefix);
}
