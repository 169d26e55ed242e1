using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kiel.Diagnostics;

namespace Kiel.Producing;

/// <summary>The producer's instruments on the <c>Kiel</c> meter, named after OpenTelemetry's messaging conventions. Recorded per batch, never per record.</summary>
internal static class ProducerMetrics
{
    public static readonly Counter<long> SentMessages = KielDiagnostics.Meter.CreateCounter<long>(
        "messaging.client.sent.messages", "{message}", "Records reported delivered, or failed (with error.type).");

    public static readonly Histogram<int> BatchRecords = KielDiagnostics.Meter.CreateHistogram<int>(
        "kiel.producer.batch.records", "{message}", "Records per completed batch.");

    public static readonly Counter<long> Retries = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.producer.retries", "{batch}", "Batches sent again after a retriable failure.");

    public static void Completed(string topic, int partition, int count, ProduceException? error)
    {
        if (!SentMessages.Enabled && !BatchRecords.Enabled) return;
        var tags = new TagList
        {
            { "messaging.system", "kafka" },
            { "messaging.operation.name", "send" },
            { "messaging.destination.name", topic },
            { "messaging.destination.partition.id", partition },
        };
        if (error is not null) tags.Add("error.type", error.ErrorName);
        SentMessages.Add(count, tags);
        if (error is null) BatchRecords.Record(count, tags);
    }

    public static void Retried(string topic, string reason)
    {
        if (!Retries.Enabled) return;
        Retries.Add(1, new TagList { { "messaging.system", "kafka" }, { "messaging.destination.name", topic }, { "error.type", reason } });
    }
}
