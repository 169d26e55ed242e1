using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Kiel.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Consuming;

/// <summary>Kiel's SingleConsumer API against the embedded cluster.</summary>
public sealed class SingleConsumerTests(KafkaClusterFixture fixture) : IClassFixture<KafkaClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private async Task ProduceJsonAsync(string topic, int from, int count, Func<int, string>? value = null)
    {
        using var producer = new ProducerBuilder<Null, string>(ConfluentClients.ProducerConfig(fixture.BootstrapServers)).Build();
        for (var i = from; i < from + count; i++)
            await producer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, i % 2), new Message<Null, string> { Value = value?.Invoke(i) ?? $"{{\"n\":{i}}}" });
    }

    [Fact]
    public async Task Consume_returns_batches_of_json_from_every_partition_and_continues()
    {
        var topic = KafkaClusterFixture.UniqueTopic("single");
        Cluster.CreateTopic(topic, partitions: 2);
        await ProduceJsonAsync(topic, 0, 40);
        await using var consumer = new SingleConsumer(fixture.BootstrapServers, maxWaitTime: 100);
        var values = new List<JsonElement>();
        using var cts = TestTimeouts.After(30);
        while (values.Count < 40) values.AddRange(await consumer.ConsumeAsync(topic, StartPosition.Beginning, cts.Token));
        Assert.Equal(Enumerable.Range(0, 40), values.Select(v => v.GetProperty("n").GetInt32()).Order());

        // Later calls continue; start only applied to the first call.
        Assert.Empty(await consumer.ConsumeAsync(topic, StartPosition.Beginning, cts.Token));
        await ProduceJsonAsync(topic, 40, 4);
        var more = new List<JsonElement>();
        while (more.Count < 4) more.AddRange(await consumer.ConsumeAsync(topic, cancellationToken: cts.Token));
        Assert.Equal([40, 41, 42, 43], more.Select(v => v.GetProperty("n").GetInt32()).Order());
    }

    [Fact]
    public async Task End_is_the_default_start()
    {
        var topic = KafkaClusterFixture.UniqueTopic("single-end");
        Cluster.CreateTopic(topic, partitions: 2);
        await ProduceJsonAsync(topic, 0, 10);
        await using var consumer = new SingleConsumer<string?>(fixture.BootstrapServers, Deserializers.Utf8, maxWaitTime: 100);
        Assert.Empty(await consumer.ConsumeAsync(topic));
        await ProduceJsonAsync(topic, 10, 2);
        var values = new List<string?>();
        using var cts = TestTimeouts.After(30);
        while (values.Count < 2) values.AddRange(await consumer.ConsumeAsync(topic, cancellationToken: cts.Token));
        Assert.Equal(["{\"n\":10}", "{\"n\":11}"], values.Order());
    }

    [Fact]
    public async Task A_missing_topic_is_reported_after_a_bounded_wait()
    {
        await using var consumer = new SingleConsumer<string?>(ConsumingHelpers.Options(fixture.BootstrapServers) with { TopicMetadataTimeout = TimeSpan.FromMilliseconds(500) }, Deserializers.Utf8);
        var ex = await Assert.ThrowsAsync<UnknownTopicException>(async () => await consumer.ConsumeAsync("does-not-exist"));
        Assert.Equal("does-not-exist", ex.Topic);
    }

    [Fact]
    public async Task A_failing_deserializer_is_skipped_by_default_as_kiel_and_reported_with_its_record_under_Throw()
    {
        var topic = KafkaClusterFixture.UniqueTopic("single-bad");
        Cluster.CreateTopic(topic, partitions: 1);
        using (var producer = new ProducerBuilder<Null, string>(ConfluentClients.ProducerConfig(fixture.BootstrapServers)).Build())
            foreach (var v in new[] { "{\"n\":0}", "{\"n\":1}", "not json", "{\"n\":3}" })
                await producer.ProduceAsync(topic, new Message<Null, string> { Value = v });

        using var cts = TestTimeouts.After(30);
        await using (var skipping = new SingleConsumer(fixture.BootstrapServers, maxWaitTime: 100))
        {
            var all = new List<JsonElement>();
            for (var i = 0; i < 100 && all.Count < 3; i++) all.AddRange(await skipping.ConsumeAsync(topic, StartPosition.Beginning, cts.Token));
            Assert.Equal([0, 1, 3], all.Select(v => v.GetProperty("n").GetInt32()));
        }

        await using var consumer = new SingleConsumer<JsonElement>(ConsumingHelpers.Options(fixture.BootstrapServers) with { OnDeserializationError = DeserializationErrorAction.Throw }, Deserializers.JsonElement);
        var first = new List<JsonElement>();
        while (first.Count < 2) first.AddRange(await consumer.ConsumeAsync(topic, StartPosition.Beginning, cts.Token));
        Assert.Equal([0, 1], first.Select(v => v.GetProperty("n").GetInt32()));
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var ex = await Assert.ThrowsAsync<DeserializationException>(async () =>
            {
                while (true) await consumer.ConsumeAsync(topic, cancellationToken: cts.Token);
            });
            Assert.Equal(new Kiel.TopicPartition(topic, 0), ex.TopicPartition);
            Assert.Equal(2, ex.Offset);
            Assert.Equal(RecordComponent.Value, ex.Component);
        }
    }
}
