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
    public async Task SingleConsumer_returns_what_precedes_a_bad_record_then_reports_it_every_time()
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1);
        backend.Append(new TopicPartition("t", 0), TestBatches.V2(0, 5));
        var deserializer = new FailingAt("v3");
        await using var consumer = new SingleConsumer<string?>(EngineHarness.Options(), backend, deserializer);
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
        }
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
