using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kiel.Diagnostics;

namespace Kiel.Consuming;

/// <summary>The consumer instruments, named after OpenTelemetry's messaging conventions. Counted per fetched chunk, not per record.</summary>
internal static class ConsumerMetrics
{
    public static readonly Counter<long> ConsumedMessages = KielDiagnostics.Meter.CreateCounter<long>(
        "messaging.client.consumed.messages", "{message}", "Records handed to the application.");

    public static readonly Counter<long> FetchedBytes = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.consumer.fetched.bytes", "By", "Record bytes fetched (before decompression).");

    /// <summary>Transient errors a kiel-shaped consumer (GroupedConsumer, SingleConsumer) logged and went on from.</summary>
    public static readonly Counter<long> TransientErrors = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.consumer.transient.errors", "{error}", "Transient errors a kiel-shaped consumer logged and went on from (ThrowOnTransientErrors off).");

    public static void Record(TopicPartition topicPartition, int messages, int bytes)
    {
        if (!ConsumedMessages.Enabled && !FetchedBytes.Enabled) return;
        var tags = new TagList
        {
            { "messaging.system", "kafka" },
            { "messaging.destination.name", topicPartition.Topic },
            { "messaging.destination.partition.id", topicPartition.Partition },
        };
        if (messages > 0) ConsumedMessages.Add(messages, tags);
        if (bytes > 0) FetchedBytes.Add(bytes, tags);
    }
}
