using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Kiel.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;

namespace Kiel.IntegrationTests.Groups;

/// <summary>A topic of JSON values with one garbage value in the middle of each partition, read by GroupedConsumer members.</summary>
[Trait("Category", "Groups")]
public sealed class DeserializationPolicyTests(GroupEnvironment env) : IClassFixture<GroupEnvironment>
{
    private static int N(JsonElement e) => e.GetProperty("n").GetInt32();

    /// <summary>Two partitions of 11 records each: n = 0..9 (partition 0) and 10..19 (partition 1) with garbage at offset 5.</summary>
    private async Task<string> PoisonedTopicAsync()
    {
        var topic = GroupEnvironment.Unique("poison");
        env.Kafka.CreateTopic(topic, 2);
        using var producer = ConfluentClients.Producer(env.Bootstrap);
        for (var p = 0; p < 2; p++)
        {
            var n = p * 10;
            for (var offset = 0; offset < 11; offset++)
            {
                var value = offset == 5 ? $"not json {p} <<" : $"{{\"n\": {n++}}}";
                await producer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, new Partition(p)), new Message<string, string> { Key = "k", Value = value });
            }
        }
        producer.Flush(TimeSpan.FromSeconds(10));
        return topic;
    }

    private static async Task<List<int>> ReadAsync(GroupedConsumer c, string topic, int count, CancellationToken ct)
    {
        var seen = new List<int>();
        for (var round = 0; round < 200 && seen.Count < count && !ct.IsCancellationRequested; round++)
            seen.AddRange((await c.ConsumeAsync(topic, null, ct)).Select(N));
        return seen;
    }

    [ZooKeeperFact]
    public async Task Skip_by_default_consumes_every_good_record_logs_and_counts_the_garbage_and_commits_past_it()
    {
        var topic = await PoisonedTopicAsync();
        var group = GroupEnvironment.Unique("g");
        var logs = new Kiel.Tests.ListLoggerFactory();
        using var cts = TestTimeouts.After(90);
        await using (var c = new GroupedConsumer(env.Options(group) with { LoggerFactory = logs }))
        {
            await c.ConnectAsync(cts.Token);
            var seen = await ReadAsync(c, topic, 20, cts.Token);
            Assert.Equal(Enumerable.Range(0, 20), seen.Order());
        }
        var skipped = logs.Entries.Where(e => e.EventId == Kiel.Diagnostics.LogEvents.ConsumerRecordSkipped).ToList();
        Assert.Equal(2, skipped.Count);
        Assert.Contains(skipped, e => e.Message.Contains($"{topic}:1 offset 5", StringComparison.Ordinal));

        // The commits passed the garbage: a successor that would throw on it reads on from the end, with nothing to throw.
        await using (var c = new GroupedConsumer(env.Options(group) with { OnDeserializationError = DeserializationErrorAction.Throw }))
        {
            await c.ConnectAsync(cts.Token);
            for (var i = 0; i < 3; i++) Assert.Empty(await c.ConsumeAsync(topic, null, cts.Token));
        }
    }

    [ZooKeeperFact]
    public async Task Throw_names_the_record_and_SeekAsync_past_it_goes_on()
    {
        var topic = await PoisonedTopicAsync();
        var group = GroupEnvironment.Unique("g");
        using var cts = TestTimeouts.After(90);
        await using var c = new GroupedConsumer(env.Options(group) with { OnDeserializationError = DeserializationErrorAction.Throw });
        await c.ConnectAsync(cts.Token);
        var seen = new List<int>();
        var errors = new List<DeserializationException>();
        for (var round = 0; round < 300 && seen.Count < 20 && !cts.IsCancellationRequested; round++)
        {
            try
            {
                seen.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
            }
            catch (DeserializationException e)
            {
                errors.Add(e);
                Assert.Contains($"offset {e.Offset}", e.Message);
                Assert.StartsWith("not json", Encoding.UTF8.GetString(e.RecordValue!));
                await c.SeekAsync(e.TopicPartition, e.Offset + 1, cts.Token);
            }
        }
        Assert.Equal(Enumerable.Range(0, 20), seen.Order());
        Assert.Equal([(topic, 0, 5L), (topic, 1, 5L)], errors.Select(e => (e.TopicPartition.Topic, e.TopicPartition.Partition, e.Offset)).Order());
    }

    [ZooKeeperFact]
    public async Task The_dead_letter_helper_puts_the_raw_garbage_records_into_the_dead_letter_topic()
    {
        var topic = await PoisonedTopicAsync();
        var dlq = GroupEnvironment.Unique("dlq");
        env.Kafka.CreateTopic(dlq, 1);
        var group = GroupEnvironment.Unique("g");
        using var cts = TestTimeouts.After(90);
        await using (var producer = new KielProducer<byte[]?, byte[]?>(new KielProducerOptions { BootstrapServers = env.Bootstrap }, Serializers.Bytes!, Serializers.Bytes!))
        {
            await using var c = new GroupedConsumer(env.Options(group) with { DeserializationErrorHandler = DeadLetter.To(producer, dlq) });
            await c.ConnectAsync(cts.Token);
            Assert.Equal(Enumerable.Range(0, 20), (await ReadAsync(c, topic, 20, cts.Token)).Order());
            await producer.FlushAsync(cts.Token);
        }

        await using var reader = new KielConsumer<string?, string?>(new KielConsumerOptions { BootstrapServers = env.Bootstrap }, Deserializers.Utf8, Deserializers.Utf8);
        await reader.AssignTopicAsync(dlq, StartPosition.Beginning);
        var dead = new List<Kiel.Consuming.ConsumeResult<string?, string?>>();
        await foreach (var r in reader.ConsumeAsync(cts.Token))
        {
            dead.Add(r);
            if (dead.Count == 2) break;
        }
        Assert.Equal(["not json 0 <<", "not json 1 <<"], dead.Select(d => d.Value).Order());
        Assert.All(dead, d => Assert.Equal("k", d.Key));
        Assert.All(dead, d => Assert.Contains(d.Headers, h => h.Key == DeadLetter.ErrorHeader));
        Assert.Contains(dead, d => d.Headers.Any(h => h.Key == DeadLetter.OriginHeader && Encoding.UTF8.GetString(h.Value!.Value.Span) == $"{topic}:1@5"));
    }
}
