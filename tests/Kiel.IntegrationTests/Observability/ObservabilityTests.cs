using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kiel.Consuming;
using Kiel.Diagnostics;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;
using Microsoft.Extensions.Logging;

namespace Kiel.IntegrationTests.Observability;

/// <summary>Logs, metrics and spans of a produce/consume round trip, seen through in-memory listeners.</summary>
public sealed class ObservabilityTests(KafkaClusterFixture fixture) : IClassFixture<KafkaClusterFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private sealed record Point(string Instrument, double Value, Dictionary<string, object?> Tags);

    private sealed class Capture : IDisposable
    {
        private readonly MeterListener _listener = new();

        public ConcurrentQueue<Point> Points { get; } = new();

        public Capture()
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == KielDiagnostics.Name) l.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
            _listener.Start();
        }

        private void Add(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var d = new Dictionary<string, object?>();
            foreach (var t in tags) d[t.Key] = t.Value;
            Points.Enqueue(new Point(i.Name, v, d));
        }

        public void Observe() => _listener.RecordObservableInstruments();

        public double Sum(string instrument, string topic) => Points
            .Where(p => p.Instrument == instrument && Equals(p.Tags.GetValueOrDefault("messaging.destination.name"), topic))
            .Sum(p => p.Value);

        public void Dispose() => _listener.Dispose();
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, EventId Id, LogLevel Level, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
                => owner.Entries.Enqueue((category, eventId, logLevel, formatter(state, exception)));
        }
    }

    private async Task<List<ConsumeResult<string?, string?>>> ConsumeAsync(string topic, int count, ILoggerFactory? loggerFactory = null)
    {
        await using var consumer = new KielConsumer<string?, string?>(
            new KielConsumerOptions { BootstrapServers = fixture.BootstrapServers, LoggerFactory = loggerFactory }, Deserializers.Utf8, Deserializers.Utf8);
        await consumer.AssignTopicAsync(topic, StartPosition.Beginning);
        using var cts = new CancellationTokenSource(Bound);
        var records = new List<ConsumeResult<string?, string?>>();
        await foreach (var r in consumer.ConsumeAsync(cts.Token))
        {
            records.Add(r);
            if (records.Count == count) break;
        }

        return records;
    }

    [Fact]
    public async Task MetricsCountRecordsBytesRequestLatencyAndLag()
    {
        using var capture = new Capture();
        var topic = KafkaClusterFixture.UniqueTopic("obs");
        fixture.Cluster.CreateTopic(topic, 2);
        await using (var producer = new KielProducer<string, string>(new KielProducerOptions { BootstrapServers = fixture.BootstrapServers }, Serializers.Utf8, Serializers.Utf8))
        {
            for (var i = 0; i < 10; i++) await producer.ProduceAsync(topic, $"k{i}", $"value-{i}");
        }

        Assert.Equal(10, capture.Sum("messaging.client.sent.messages", topic));
        Assert.True(capture.Sum("kiel.client.sent.message_bytes", topic) >= 10 * "value-0".Length);
        Assert.Contains(capture.Points, p => p.Instrument == "kiel.client.request.duration" && Equals(p.Tags.GetValueOrDefault("kafka.api"), "Produce"));

        await using var consumer = new KielConsumer<string?, string?>(
            new KielConsumerOptions { BootstrapServers = fixture.BootstrapServers }, Deserializers.Utf8, Deserializers.Utf8);
        await consumer.AssignTopicAsync(topic, StartPosition.Beginning);
        using var cts = new CancellationTokenSource(Bound);
        var seen = 0;
        await foreach (var r in consumer.ConsumeAsync(cts.Token))
        {
            if (++seen == 10) break;
        }

        Assert.Equal(10, capture.Sum("messaging.client.consumed.messages", topic));
        Assert.Equal(10 * ("value-0".Length + 2), capture.Sum("kiel.client.consumed.message_bytes", topic));
        capture.Observe();
        var lag = capture.Points.Where(p => p.Instrument == "messaging.kafka.consumer.lag" && Equals(p.Tags.GetValueOrDefault("messaging.destination.name"), topic)).ToList();
        Assert.NotEmpty(lag);
        Assert.All(lag, p => Assert.Equal(0, p.Value));
    }

    [Fact]
    public async Task TraceparentCarriesTheTraceAcrossTheTopic()
    {
        var activities = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == KielDiagnostics.Name || s.Name == "test",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => activities.Enqueue(a),
        };
        ActivitySource.AddActivityListener(listener);
        using var testSource = new ActivitySource("test");

        var topic = KafkaClusterFixture.UniqueTopic("trace");
        fixture.Cluster.CreateTopic(topic, 1);
        ActivityTraceId traceId;
        await using (var producer = new KielProducer<string, string>(new KielProducerOptions { BootstrapServers = fixture.BootstrapServers }, Serializers.Utf8, Serializers.Utf8))
        {
            using var root = testSource.StartActivity("request")!;
            traceId = root.TraceId;
            await producer.ProduceAsync(topic, "k", "traced");
        }

        var send = Assert.Single(activities, a => a.OperationName == $"send {topic}");
        Assert.Equal(ActivityKind.Producer, send.Kind);
        Assert.Equal(traceId, send.TraceId);

        var record = Assert.Single(await ConsumeAsync(topic, 1));
        Assert.Equal(send.Id, record.Headers.LastOrNull(KielTracing.TraceParentHeader)?.ValueAsString());
        using (var process = KielTracing.StartProcess(record, "g"))
        {
            Assert.NotNull(process);
            Assert.Equal(traceId, process.TraceId);
            Assert.Equal(send.SpanId, process.ParentSpanId);
            Assert.Equal(ActivityKind.Consumer, process.Kind);
            Assert.Equal("g", process.GetTagItem("messaging.consumer.group.name"));
        }
    }

    [Fact]
    public async Task LogsUseTheEventIdTable()
    {
        var provider = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(provider));
        var topic = KafkaClusterFixture.UniqueTopic("log");
        fixture.Cluster.CreateTopic(topic, 1);
        await using (var producer = new KielProducer<string, string>(
            new KielProducerOptions { BootstrapServers = fixture.BootstrapServers, LoggerFactory = loggerFactory }, Serializers.Utf8, Serializers.Utf8))
        {
            await producer.ProduceAsync(topic, "k", "v");
        }

        await ConsumeAsync(topic, 1, loggerFactory);
        var entries = provider.Entries.ToList();
        Assert.Contains(entries, e => e.Id.Id == LogEvents.Connected && e.Category.StartsWith("Kiel", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.Id.Id == LogEvents.MetadataRefreshed);
        // Every Kiel log line is source-generated with an id: none is logged with id 0.
        Assert.All(entries.Where(e => e.Category.StartsWith("Kiel", StringComparison.Ordinal)), e => Assert.NotEqual(0, e.Id.Id));
    }
}
