namespace Kiel.Consuming;

/// <summary>One consumed record with its deserialized key and value.</summary>
/// <typeparam name="TKey">The key type.</typeparam>
/// <typeparam name="TValue">The value type.</typeparam>
public sealed class ConsumeResult<TKey, TValue>
{
    /// <summary>The topic.</summary>
    public required string Topic { get; init; }

    /// <summary>The partition.</summary>
    public required int Partition { get; init; }

    /// <summary>The record's offset.</summary>
    public required long Offset { get; init; }

    /// <summary>The record's timestamp (Unix epoch when the record has none).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>How the timestamp was set.</summary>
    public TimestampType TimestampType { get; init; }

    /// <summary>The deserialized key.</summary>
    public required TKey Key { get; init; }

    /// <summary>The deserialized value.</summary>
    public required TValue Value { get; init; }

    /// <summary>The record's headers (empty for magic 0 and 1).</summary>
    public required Headers Headers { get; init; }

    /// <summary>The leader epoch of the batch the record came from, or null when the broker did not say (magic 0 and 1).</summary>
    public int? LeaderEpoch { get; init; }

    /// <summary>The topic and partition.</summary>
    public TopicPartition TopicPartition => new(Topic, Partition);

    /// <inheritdoc />
    public override string ToString() => $"{Topic}:{Partition}@{Offset}";
}

/// <summary>The low (log start) and high (high watermark) offsets of a partition.</summary>
/// <param name="Low">The log start offset: the first offset still stored.</param>
/// <param name="High">The high watermark: the offset the next produced record gets.</param>
public readonly record struct WatermarkOffsets(long Low, long High);
