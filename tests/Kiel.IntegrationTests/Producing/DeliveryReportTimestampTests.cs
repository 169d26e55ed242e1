using Kiel.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;

namespace Kiel.IntegrationTests.Producing;

/// <summary>
/// Why a delivery report from the embedded cluster reads 1970-01-01T00:00:01.234: the librdkafka mock answers every
/// Produce with log_append_time_ms = 1234 (a real broker answers -1 for a create-time topic), and Kiel reports what the
/// broker said. The record itself keeps the producer's timestamp, as a consumer shows.
/// </summary>
public sealed class DeliveryReportTimestampTests(KafkaClusterFixture fixture) : IClassFixture<KafkaClusterFixture>
{
    [Fact]
    public async Task The_report_carries_the_brokers_append_time_and_the_record_keeps_its_create_time()
    {
        var topic = KafkaClusterFixture.UniqueTopic("ts");
        fixture.Cluster.CreateTopic(topic, 1);
        var created = new DateTimeOffset(2026, 1, 31, 12, 0, 0, TimeSpan.Zero);
        await using var producer = new KielProducer<string, string>(new KielProducerOptions { BootstrapServers = fixture.BootstrapServers });
        var report = await producer.ProduceAsync(topic, "k", "v", timestamp: created).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(TimestampType.LogAppendTime, report.TimestampType);
        Assert.Equal(1234, report.Timestamp.ToUnixTimeMilliseconds());

        await using var consumer = new KielConsumer<string?, string?>(new KielConsumerOptions { BootstrapServers = fixture.BootstrapServers },
            Deserializers.Utf8, Deserializers.Utf8);
        await consumer.AssignAsync(new TopicPartition(topic, 0), StartPosition.Beginning);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var records = consumer.ConsumeAsync(deadline.Token).GetAsyncEnumerator(deadline.Token);
        Assert.True(await records.MoveNextAsync());
        Assert.Equal(created, records.Current.Timestamp);
        Assert.Equal(TimestampType.CreateTime, records.Current.TimestampType);
    }
}
