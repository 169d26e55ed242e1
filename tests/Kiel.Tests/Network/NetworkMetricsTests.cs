using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Kiel.Diagnostics;
using Kiel.Network;
using Kiel.Protocol;

namespace Kiel.Tests.Network;

public sealed class NetworkMetricsTests
{
    [Fact]
    public async Task Connections_requests_latency_and_bytes_are_measured_on_the_Kiel_meter()
    {
        var seen = new ConcurrentDictionary<string, double>();
        var apis = new ConcurrentBag<string>();
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            while (await c.ReadRequestAsync() is { } r) await c.RespondAsync(r.CorrelationId, r.Body);
        });
        var port = broker.Port;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == KielDiagnostics.Name) l.EnableMeasurementEvents(instrument);
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var mine = false;
            foreach (var t in tags)
            {
                if (t.Key == "server.port" && t.Value is int p && p == port) mine = true;
                if (t.Key == "kafka.api" && t.Value is string api) apis.Add(api);
            }
            if (mine) seen.AddOrUpdate(instrument.Name, value, (_, old) => old + value);
        }
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        await using (var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, new ConnectionOptions(), "test", new CancellationTokenSource(10_000).Token))
        {
            await conn.SendAsync(new TestRequest(ApiKey.Metadata, [1, 2, 3]), 0);
            Assert.Equal(1, seen["kiel.client.connections"]);
        }
        Assert.Equal(0, seen["kiel.client.connections"]);
        Assert.Equal(0, seen["kiel.client.requests.in_flight"]);
        Assert.True(seen["kiel.client.request.duration"] > 0);
        Assert.True(seen["kiel.client.sent.bytes"] > 0);
        Assert.True(seen["kiel.client.received.bytes"] > 0);
        Assert.Contains("Metadata", apis);
        Assert.Contains("ApiVersions", apis);
    }
}
