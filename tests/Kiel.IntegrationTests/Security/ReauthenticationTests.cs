using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Kiel.Consuming;
using Kiel.Diagnostics;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Producing;
using Kiel.Producing;
using Kiel.Testing;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Kiel.IntegrationTests.Security;

/// <summary>KIP-368 re-authentication through the front with a 2 s session lifetime, and no secret anywhere in a captured run.</summary>
public sealed class ReauthenticationTests(ITestOutputHelper output)
{
    // The run is 30 s (SCRAM); OAUTHBEARER's token path gets a shorter one.
    [Theory]
    [InlineData(SaslMechanism.ScramSha512, 30)]
    [InlineData(SaslMechanism.OAuthBearer, 10)]
    public async Task A_run_with_a_2_second_session_lifetime_loses_nothing_and_reauthenticates(SaslMechanism mechanism, int seconds)
    {
        await using var cluster = await SecuredFrontPeerTests.StartAsync(tls: true, new EmbeddedSecurityOptions { SessionLifetime = TimeSpan.FromSeconds(2) });
        var security = cluster.Security!;
        const string topic = "reauth";
        cluster.CreateTopic(topic, 2);
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        long reauthentications = 0;
        using var meter = new MeterListener();
        meter.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == KielDiagnostics.Name && instrument.Name == "kiel.client.reauthentications") listener.EnableMeasurementEvents(instrument);
        };
        meter.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref reauthentications, value));
        meter.Start();

        var producerOptions = security.Apply(ProducerTestKit.Options(cluster.BootstrapServers) with { LoggerFactory = loggerFactory }, mechanism);
        var consumerOptions = security.Apply(ConsumingHelpers.Options(cluster.BootstrapServers) with { LoggerFactory = loggerFactory }, mechanism);
        var produced = 0;
        var consumed = new ConcurrentDictionary<string, bool>();
        var errors = new ConcurrentQueue<string>();
        var run = TimeSpan.FromSeconds(seconds);
        await using (var producer = new KielProducer<string, string>(producerOptions))
        await using (var consumer = new KielConsumer<string?, string?>(consumerOptions, Deserializers.Utf8, Deserializers.Utf8))
        {
            await consumer.AssignAsync([KeyValuePair.Create(new TopicPartition(topic, 0), StartPosition.Beginning), KeyValuePair.Create(new TopicPartition(topic, 1), StartPosition.Beginning)]);
            using var stopConsuming = new CancellationTokenSource(run + TimeSpan.FromSeconds(40));
            var reading = Task.Run(async () =>
            {
                try
                {
                    await foreach (var r in consumer.ConsumeAsync(stopConsuming.Token))
                        consumed[r.Key!] = true;
                }
                catch (OperationCanceledException)
                {
                }
            });
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var pending = new List<Task<DeliveryReport>>();
            while (clock.Elapsed < run)
            {
                for (var i = 0; i < 20; i++) pending.Add(producer.ProduceAsync(topic, $"{produced++}", "v").AsTask());
                await Task.Delay(20);
            }
            foreach (var report in await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(30)))
                if (!report.IsDelivered) errors.Enqueue(report.Error!.ToString());
            await TestWait(() => consumed.Count >= produced, TimeSpan.FromSeconds(30));
            await stopConsuming.CancelAsync();
            await reading;
        }
        meter.Dispose();
        output.WriteLine($"produced {produced}, consumed {consumed.Count}, re-authentications {Interlocked.Read(ref reauthentications)}");
        Assert.Empty(errors);
        Assert.Equal(produced, consumed.Count);
        // At least one per connection per lifetime would be seconds / 2; allow for a loaded machine's late timers.
        Assert.True(Interlocked.Read(ref reauthentications) >= seconds * 2 / 5, $"only {reauthentications} re-authentications in {seconds} s with a 2 s lifetime");
        Assert.Contains(logs.Entries, e => e.Id.Id == LogEvents.SaslReauthenticated);
        Assert.DoesNotContain(logs.Entries, e => e.Id.Id == LogEvents.SaslReauthenticationFailed);

        // No secret in any log line (Trace included), nor in the options' ToString().
        Assert.True(logs.Entries.Count > 50, $"only {logs.Entries.Count} log lines were captured");
        foreach (var entry in logs.Entries)
            Assert.DoesNotContain(security.Password, entry.Message);
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("auth=Bearer", StringComparison.Ordinal) || e.Message.Contains("eyJhbGciOiJub25lIn0", StringComparison.Ordinal));
        Assert.DoesNotContain(security.Password, producerOptions.ToString());
        Assert.DoesNotContain(security.Password, consumerOptions.ToString());
    }

    private static async Task TestWait(Func<bool> condition, TimeSpan limit)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < limit) await Task.Delay(50);
    }

    internal sealed class CapturingLoggerProvider : ILoggerProvider
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
                => owner.Entries.Enqueue((category, eventId, logLevel, formatter(state, exception) + (exception is null ? "" : " " + exception)));
        }
    }
}
