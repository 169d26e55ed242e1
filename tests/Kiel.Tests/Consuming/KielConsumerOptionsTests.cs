using Kiel.Consuming;

namespace Kiel.Tests.Consuming;

public class KielConsumerOptionsTests
{
    [Fact]
    public void Defaults_are_valid_once_brokers_are_given()
    {
        var options = new KielConsumerOptions { BootstrapServers = "127.0.0.1:9092" };
        options.Validate();
        Assert.Equal(500, options.FetchMaxWaitMs);
        Assert.Equal(1024 * 1024, options.MaxPartitionFetchBytes);
        Assert.Equal(OffsetResetPolicy.Latest, options.AutoOffsetReset);
    }

    [Fact]
    public void Validate_lists_every_problem_with_its_fix()
    {
        var options = new KielConsumerOptions
        {
            FetchMaxBytes = 0,
            MaxPartitionFetchBytes = -1,
            FetchMinBytes = -1,
            FetchMaxWait = TimeSpan.FromSeconds(40),
            RequestTimeout = TimeSpan.FromSeconds(30),
            MaxPrefetchBytes = 0,
            AutoOffsetReset = (OffsetResetPolicy)9,
        };
        var ex = Assert.Throws<ArgumentException>(options.Validate);
        foreach (var word in new[] { "BootstrapServers", "FetchMaxBytes", "MaxPartitionFetchBytes", "FetchMinBytes", "RequestTimeout", "MaxPrefetchBytes", "AutoOffsetReset" })
            Assert.Contains(word, ex.Message);
    }

    [Fact]
    public void The_kiel_constructor_maps_its_arguments_in_milliseconds_and_bytes()
    {
        var backend = new FakeBackend();
        var consumer = new SingleConsumer<string?>(new KielConsumerOptions
        {
            BootstrapServers = "x:1",
            FetchMaxWait = TimeSpan.FromMilliseconds(250),
            FetchMinBytes = 10,
            MaxPartitionFetchBytes = 4096,
        }, backend, Deserializers.Utf8);
        Assert.Equal(250, consumer.Options.FetchMaxWaitMs);
        Assert.Equal(4096, consumer.Options.MaxPartitionFetchBytes);
    }

    [Fact]
    public async Task SingleConsumer_with_Throw_returns_what_precedes_a_bad_record_then_reports_it_every_time_until_a_seek_past_it()
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1);
        backend.Append(new TopicPartition("t", 0), TestBatches.V2(0, 5));
        var deserializer = new FailingAt("v3");
        await using var consumer = new SingleConsumer<string?>(EngineHarness.Options() with { OnDeserializationError = DeserializationErrorAction.Throw }, backend, deserializer);
        var values = new List<string?>();
        for (var i = 0; i < 20 && values.Count < 3; i++) values.AddRange(await consumer.ConsumeAsync("t", StartPosition.Beginning));
        Assert.Equal(["v0", "v1", "v2"], values);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var ex = await Assert.ThrowsAsync<DeserializationException>(async () =>
            {
                for (var i = 0; i < 50; i++) await consumer.ConsumeAsync("t");
            });
            Assert.Equal(3, ex.Offset);
            Assert.Equal(new TopicPartition("t", 0), ex.TopicPartition);
            Assert.Equal("v3"u8.ToArray(), ex.RecordValue);
        }
        // The documented way past it.
        consumer.Seek(new TopicPartition("t", 0), 4);
        var rest = new List<string?>();
        for (var i = 0; i < 20 && rest.Count < 1; i++) rest.AddRange(await consumer.ConsumeAsync("t"));
        Assert.Equal(["v4"], rest);
    }

    [Fact]
    public async Task SingleConsumer_skips_a_bad_record_by_default_logs_it_and_reads_on()
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1);
        backend.Append(new TopicPartition("t", 0), TestBatches.V2(0, 5));
        var logs = new ListLoggerFactory();
        await using var consumer = new SingleConsumer<string?>(EngineHarness.Options() with { LoggerFactory = logs }, backend, new FailingAt("v3"));
        var values = new List<string?>();
        for (var i = 0; i < 20 && values.Count < 4; i++) values.AddRange(await consumer.ConsumeAsync("t", StartPosition.Beginning));
        Assert.Equal(["v0", "v1", "v2", "v4"], values);
        var skipped = Assert.Single(logs.Entries, e => e.EventId == Kiel.Diagnostics.LogEvents.ConsumerRecordSkipped);
        Assert.Contains("t:0 offset 3", skipped.Message);
        Assert.Contains("bad value", skipped.Message);
    }

    [Fact]
    public async Task KielConsumer_throws_by_default_and_skips_or_asks_a_handler_when_told()
    {
        var tp = new TopicPartition("t", 0);
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1);
        backend.Append(tp, TestBatches.V2(0, 5));

        async Task<List<string?>> ReadAsync(KielConsumerOptions options, int count)
        {
            await using var consumer = new KielConsumer<string?, string?>(options, backend, Deserializers.Utf8, new FailingAt("v2"));
            await consumer.AssignAsync(tp, StartPosition.Beginning);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var values = new List<string?>();
            await foreach (var r in consumer.ConsumeAsync(cts.Token))
            {
                values.Add(r.Value);
                if (values.Count == count) break;
            }
            return values;
        }

        var thrown = await Assert.ThrowsAsync<DeserializationException>(() => ReadAsync(EngineHarness.Options(), 4));
        Assert.Equal(2, thrown.Offset);
        Assert.Equal(["v0", "v1", "v3", "v4"], await ReadAsync(EngineHarness.Options() with { OnDeserializationError = DeserializationErrorAction.Skip }, 4));
        var asked = new List<long>();
        var handled = await ReadAsync(EngineHarness.Options() with
        {
            DeserializationErrorHandler = e => { asked.Add(e.Offset); return DeserializationErrorAction.Skip; },
        }, 4);
        Assert.Equal(["v0", "v1", "v3", "v4"], handled);
        Assert.Equal([2L], asked);
    }

    [Fact]
    public void A_null_value_is_never_a_deserialization_error_for_the_JSON_deserializers()
    {
        var context = new SerializationContext("t", RecordComponent.Value, 0, 7);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, Deserializers.JsonElement.Deserialize(default, true, context).ValueKind);
        Assert.Null(Deserializers.Json<int[]>().Deserialize(default, true, context));
    }

    private sealed class FailingAt(string bad) : IDeserializer<string?>
    {
        public string? Deserialize(ReadOnlySpan<byte> data, bool isNull, in SerializationContext context)
        {
            var text = System.Text.Encoding.UTF8.GetString(data);
            return text == bad ? throw new FormatException("bad value") : text;
        }
    }
}
