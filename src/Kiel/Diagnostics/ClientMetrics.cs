using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Kiel.Diagnostics;

/// <summary>
/// The record-level instruments of producers and consumers, named after OpenTelemetry's messaging conventions
/// (the record counts <c>messaging.client.sent.messages</c> and <c>messaging.client.consumed.messages</c> are in
/// ProducerMetrics and ConsumerMetrics); bytes, rebalances and lag have
/// no convention name yet and use <c>kiel.*</c> (lag keeps the older <c>messaging.kafka.consumer.lag</c>).
/// </summary>
internal static class ClientMetrics
{
    public static readonly Counter<long> SentBytes = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.client.sent.message_bytes", "By", "Key, value and header bytes of the records a producer had acknowledged.");

    public static readonly Counter<long> ConsumedBytes = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.client.consumed.message_bytes", "By", "Key and value bytes of the records handed to the application.");

    public static readonly Counter<long> Rebalances = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.group.rebalances", "{rebalance}", "Changes of a GroupedConsumer member's partitions.");

    // Lag is read when a listener asks: every live fetch engine registers a callback.
    private static readonly ConcurrentDictionary<object, Func<IEnumerable<(string Topic, int Partition, long Lag)>>> LagSources = new();

    public static readonly ObservableGauge<long> ConsumerLag = KielDiagnostics.Meter.CreateObservableGauge(
        "messaging.kafka.consumer.lag", ObserveLag, "{message}", "High watermark minus the consumer's position, per assigned partition.");

    public static void RegisterLag(object owner, Func<IEnumerable<(string Topic, int Partition, long Lag)>> source) => LagSources[owner] = source;

    public static void UnregisterLag(object owner) => LagSources.TryRemove(owner, out _);

    private static IEnumerable<Measurement<long>> ObserveLag()
    {
        foreach (var source in LagSources.Values)
        {
            foreach (var (topic, partition, lag) in source())
            {
                yield return new Measurement<long>(lag, Tags(topic), new KeyValuePair<string, object?>("messaging.destination.partition.id", partition));
            }
        }
    }

    public static void Sent(string topic, int partition, int records, long bytes)
    {
        // The record count (messaging.client.sent.messages) is the producer's own instrument (ProducerMetrics).
        if (!SentBytes.Enabled) return;
        SentBytes.Add(bytes, Tags(topic, partition, "send"));
    }

    public static void Consumed(string topic, int partition, long bytes)
    {
        // The record count (messaging.client.consumed.messages) is the fetch engine's own instrument (ConsumerMetrics).
        if (!ConsumedBytes.Enabled) return;
        ConsumedBytes.Add(bytes, Tags(topic, partition, "receive"));
    }

    public static void Rebalanced(string group)
    {
        if (!Rebalances.Enabled) return;
        Rebalances.Add(1, new TagList { { "messaging.system", "kafka" }, { "messaging.consumer.group.name", group } });
    }

    private static TagList Tags(string topic, int partition, string operation) => new()
    {
        { "messaging.system", "kafka" },
        { "messaging.destination.name", topic },
        { "messaging.destination.partition.id", partition },
        { "messaging.operation.name", operation },
    };

    private static KeyValuePair<string, object?> Tags(string topic) => new("messaging.destination.name", topic);
}
