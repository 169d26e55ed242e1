using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Confluent.Kafka;
using Kiel.Consuming;
using Kiel.Diagnostics;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Consuming;

/// <summary>kiel's contract for SingleConsumer: a broker that is down for a while is logged and waited out, never thrown.</summary>
public sealed class SingleConsumerOutageTests
{
    private static async Task ProduceAsync(string bootstrap, string topic, int from, int count)
    {
        using var producer = new ProducerBuilder<Null, string>(ConfluentClients.ProducerConfig(bootstrap)).Build();
        for (var i = from; i < from + count; i++)
            await producer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, i % 2), new Message<Null, string> { Value = $"{{\"n\":{i}}}" });
    }

    private static KielConsumerOptions Options(string bootstrap, Kiel.Tests.ListLoggerFactory logs) => ConsumingHelpers.Options(bootstrap) with
    {
        LoggerFactory = logs,
        RequestTimeout = TimeSpan.FromSeconds(2),
        TopicMetadataTimeout = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public async Task A_broker_down_for_a_few_seconds_is_logged_and_counted_and_consumption_resumes_with_nothing_lost()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        var reading = KafkaClusterFixture.UniqueTopic("single-outage");
        var later = KafkaClusterFixture.UniqueTopic("single-outage-later");
        cluster.CreateTopic(reading, 2, 1);
        cluster.CreateTopic(later, 2, 1);
        await ProduceAsync(cluster.BootstrapServers, reading, 0, 10);
        await ProduceAsync(cluster.BootstrapServers, later, 0, 10);

        long counted = 0;
        using var meter = new MeterListener();
        meter.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == KielDiagnostics.Name && instrument.Name == "kiel.consumer.transient.errors") listener.EnableMeasurementEvents(instrument);
        };
        meter.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "messaging.destination.name" && (string?)tag.Value == later) Interlocked.Add(ref counted, value);
        });
        meter.Start();

        var logs = new Kiel.Tests.ListLoggerFactory();
        using var cts = TestTimeouts.After(90);
        await using var consumer = new SingleConsumer<JsonElement>(Options(cluster.BootstrapServers, logs), Deserializers.JsonElement);
        var seen = new List<int>();
        var seenLater = new List<int>();
        for (var round = 0; round < 300 && seen.Count < 10; round++)
            seen.AddRange((await consumer.ConsumeAsync(reading, StartPosition.Beginning, cts.Token)).Select(v => v.GetProperty("n").GetInt32()));
        Assert.Equal(10, seen.Count);

        // Every broker goes down for 4 s. A topic already being read, and a first call for another one (its metadata
        // and offsets cannot be read), return nothing; no call throws.
        cluster.SetBrokerDown(EmbeddedKafkaCluster.AllBrokers);
        var outage = Stopwatch.StartNew();
        var calls = 0;
        try
        {
            while (outage.Elapsed < TimeSpan.FromSeconds(4) && calls < 1000)
            {
                calls++;
                seen.AddRange((await consumer.ConsumeAsync(reading, StartPosition.Beginning, cts.Token)).Select(v => v.GetProperty("n").GetInt32()));
                seenLater.AddRange((await consumer.ConsumeAsync(later, StartPosition.Beginning, cts.Token)).Select(v => v.GetProperty("n").GetInt32()));
            }
        }
        finally
        {
            cluster.SetBrokerUp(EmbeddedKafkaCluster.AllBrokers);
        }
        Assert.Empty(seenLater);
        Assert.Contains(logs.Entries, e => e.EventId == LogEvents.ConsumerTransientError && e.Message.Contains(later, StringComparison.Ordinal));
        Assert.True(Interlocked.Read(ref counted) > 0, "the transient errors were not counted");

        // Back up: the next calls go on where they left off (the later topic from its start), nothing lost or repeated.
        await ProduceAsync(cluster.BootstrapServers, reading, 10, 10);
        for (var round = 0; round < 600 && (seen.Count < 20 || seenLater.Count < 10) && !cts.IsCancellationRequested; round++)
        {
            seen.AddRange((await consumer.ConsumeAsync(reading, StartPosition.Beginning, cts.Token)).Select(v => v.GetProperty("n").GetInt32()));
            seenLater.AddRange((await consumer.ConsumeAsync(later, StartPosition.Beginning, cts.Token)).Select(v => v.GetProperty("n").GetInt32()));
        }
        Assert.Equal(Enumerable.Range(0, 20), seen.Order());
        Assert.Equal(Enumerable.Range(0, 10), seenLater.Order());
    }

    [Fact]
    public async Task With_ThrowOnTransientErrors_a_broker_down_escapes_and_a_missing_topic_always_throws()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        var topic = KafkaClusterFixture.UniqueTopic("single-outage-throw");
        cluster.CreateTopic(topic, 2, 1);
        await ProduceAsync(cluster.BootstrapServers, topic, 0, 4);
        var logs = new Kiel.Tests.ListLoggerFactory();
        using var cts = TestTimeouts.After(60);

        // Non-retriable trouble throws whatever the option says: the topic is not there although the metadata was read.
        await using (var kiels = new SingleConsumer<JsonElement>(Options(cluster.BootstrapServers, logs), Deserializers.JsonElement))
            await Assert.ThrowsAsync<UnknownTopicException>(async () => await kiels.ConsumeAsync("not-" + topic, StartPosition.Beginning, cts.Token));

        await using var consumer = new SingleConsumer<JsonElement>(Options(cluster.BootstrapServers, logs) with { ThrowOnTransientErrors = true }, Deserializers.JsonElement);
        cluster.SetBrokerDown(EmbeddedKafkaCluster.AllBrokers);
        try
        {
            var e = await Assert.ThrowsAnyAsync<KielException>(async () => await consumer.ConsumeAsync(topic, StartPosition.Beginning, cts.Token));
            Assert.True(SingleConsumer<JsonElement>.IsTransient(e, cts.Token), $"{e.GetType().Name}: {e.Message}");
        }
        finally
        {
            cluster.SetBrokerUp(EmbeddedKafkaCluster.AllBrokers);
        }
        Assert.DoesNotContain(logs.Entries, e => e.EventId == LogEvents.ConsumerTransientError);
        var seen = new List<int>();
        for (var round = 0; round < 300 && seen.Count < 4 && !cts.IsCancellationRequested; round++)
        {
            try
            {
                seen.AddRange((await consumer.ConsumeAsync(topic, StartPosition.Beginning, cts.Token)).Select(v => v.GetProperty("n").GetInt32()));
            }
            catch (KielException e) when (SingleConsumer<JsonElement>.IsTransient(e, cts.Token))
            {
                // The broker is still coming back.
            }
        }
        Assert.Equal(Enumerable.Range(0, 4), seen.Order());
    }
}
