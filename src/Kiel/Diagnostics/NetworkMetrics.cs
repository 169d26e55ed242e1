using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kiel.Protocol;

namespace Kiel.Diagnostics;

/// <summary>The connection-level instruments. Tags follow OpenTelemetry's messaging and server conventions.</summary>
internal static class NetworkMetrics
{
    public static readonly UpDownCounter<long> Connections = KielDiagnostics.Meter.CreateUpDownCounter<long>(
        "kiel.client.connections", "{connection}", "Open broker connections.");

    public static readonly UpDownCounter<long> RequestsInFlight = KielDiagnostics.Meter.CreateUpDownCounter<long>(
        "kiel.client.requests.in_flight", "{request}", "Requests written and not yet answered.");

    public static readonly Histogram<double> RequestDuration = KielDiagnostics.Meter.CreateHistogram<double>(
        "kiel.client.request.duration", "s", "Time from writing a request to reading its response, per API.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });

    public static readonly Counter<long> BytesSent = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.client.sent.bytes", "By", "Bytes written to broker sockets.");

    public static readonly Counter<long> BytesReceived = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.client.received.bytes", "By", "Bytes read from broker sockets.");

    public static readonly Counter<long> RequestErrors = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.client.request.errors", "{request}", "Requests that ended without a response (timeout, broken connection).");

    public static readonly Histogram<double> ThrottleDuration = KielDiagnostics.Meter.CreateHistogram<double>(
        "kiel.client.throttle.duration", "s", "Throttle time brokers reported in responses, per API.");

    private static readonly string[] ApiNames = BuildApiNames();

    private static string[] BuildApiNames()
    {
        var names = new string[100];
        for (var i = 0; i < names.Length; i++)
            names[i] = Enum.IsDefined((ApiKey)i) ? ((ApiKey)i).ToString() : "Api" + i;
        return names;
    }

    /// <summary>A cached name so that tagging allocates no string per request.</summary>
    public static string ApiName(ApiKey key) => (uint)(short)key < (uint)ApiNames.Length ? ApiNames[(short)key] : "Api" + (short)key;

    public static TagList ServerTags(string host, int port)
    {
        var tags = new TagList { { "messaging.system", "kafka" }, { "server.address", host }, { "server.port", port } };
        return tags;
    }
}
