namespace Kiel.Consuming;

/// <summary>One consumed record with its deserialized key and value.</summary>
/// <remarks>
/// A struct, so that a record costs no object of its own: what a consumer allocates per record is what its
/// deserializers make (for <c>byte[]</c>, the value's array). Copy it freely; it holds references to the key, the value
/// and the headers, not copies of them.
/// </remarks>
/// <typeparam name="TKey">The key type.</typeparam>
/// <typeparam name="TValue">The value type.</typeparam>
public readonly struct ConsumeResult<TKey, TValue>
{
    private readonly Headers? _headers;

    /// <summary>Creates a result; every required member is set by the initializer.</summary>
    public ConsumeResult() { }

    /// <summary>The consumer's constructor: a record without headers holds no list.</summary>
#pragma warning disable CS8618
    [System.Diagnostics.CodeAnalysis.SetsRequiredMembers]
    internal ConsumeResult(string topic, int partition, long offset, DateTimeOffset timestamp, TimestampType timestampType, TKey key, TValue value,
        Headers? headers, int? leaderEpoch)
    {
        Topic = topic;
        Partition = partition;
        Offset = offset;
        Timestamp = timestamp;
        TimestampType = timestampType;
        Key = key;
        Value = value;
        _headers = headers;
        LeaderEpoch = leaderEpoch;
    }
#pragma warning restore CS8618

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
    /// <remarks>
    /// A record without headers holds no list: each access then returns a new empty one (nothing is allocated per
    /// record consumed). Check <see cref="HasHeaders"/> to avoid even that.
    /// </remarks>
    public required Headers Headers
    {
        get => _headers ?? new Headers();
        init => _headers = value;
    }

    /// <summary>True when the record carries at least one header.</summary>
    public bool HasHeaders => _headers is { Count: > 0 };

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
