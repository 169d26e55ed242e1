using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kiel.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kiel.Consuming;

/// <summary>
/// Applies <see cref="DeserializationErrorAction"/> and a <see cref="DeserializationErrorHandler"/> to a record that failed
/// to deserialize. Runs on the failure path only: the records stream's hot path never comes here.
/// </summary>
internal static partial class DeserializationPolicy
{
    public static readonly Counter<long> Skipped = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.consumer.skipped.records", "{record}", "Records skipped because they could not be deserialized.");

    /// <summary>True when the record is to be skipped (then it is logged and counted); false to throw.</summary>
    public static bool Skips(DeserializationException error, DeserializationErrorAction action, DeserializationErrorHandler? handler, ILogger log)
    {
        if (RecordConverter.Decide(error, action, handler) != DeserializationErrorAction.Skip) return false;
        var tp = error.TopicPartition;
        RecordSkipped(log, tp.Topic, tp.Partition, error.Offset, error.Component, error.InnerException?.Message ?? error.Message);
        if (Skipped.Enabled)
            Skipped.Add(1, new TagList { { "messaging.system", "kafka" }, { "messaging.destination.name", tp.Topic }, { "messaging.destination.partition.id", tp.Partition } });
        return true;
    }

    [LoggerMessage(EventId = LogEvents.ConsumerRecordSkipped, Level = LogLevel.Warning, Message = "Skipped the record at {Topic}:{Partition} offset {Offset}: its {Component} could not be deserialized: {Problem}")]
    private static partial void RecordSkipped(ILogger logger, string topic, int partition, long offset, RecordComponent component, string problem);
}
