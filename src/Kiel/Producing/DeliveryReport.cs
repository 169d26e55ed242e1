using Kiel.Protocol.Records;

namespace Kiel.Producing;

/// <summary>The outcome of one produced record: where it was written, or why it failed.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Partition">The partition, or -1 when the record failed before a partition was chosen.</param>
/// <param name="Offset">The record's offset, or -1 when unknown (acks=0, or failed).</param>
/// <param name="Timestamp">
/// The record's timestamp: the broker's append time when the broker reports one (a topic with
/// <c>message.timestamp.type=LogAppendTime</c>), otherwise the producer's create time. The embedded cluster of
/// Kiel.Testing (librdkafka's mock) reports the append time 1234 ms (1970-01-01T00:00:01.234Z) for every record.
/// </param>
/// <param name="TimestampType">Which of the two <paramref name="Timestamp"/> is.</param>
/// <param name="Error">Why the record failed, or null when it was delivered.</param>
public readonly record struct DeliveryReport(
    string Topic,
    int Partition,
    long Offset,
    DateTimeOffset Timestamp,
    TimestampType TimestampType,
    ProduceException? Error)
{
    /// <summary>True when the record was written (acknowledged, or sent for acks=0).</summary>
    public bool IsDelivered => Error is null;

    /// <summary>The topic and partition.</summary>
    public TopicPartition TopicPartition => new(Topic, Partition);
}

/// <summary>Told of each record's outcome by the fire-and-forget <c>Produce</c>. Runs on the producer's I/O path: keep it short.</summary>
public delegate void DeliveryHandler(in DeliveryReport report);
