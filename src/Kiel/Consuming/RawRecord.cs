using System.Text;

namespace Kiel.Consuming;

/// <summary>
/// One record as fetched, with key, value and headers pointing into the fetch buffer. Valid only until the
/// next record is read from the same batch or the batch is disposed: copy what must outlive it.
/// </summary>
public readonly ref struct RawRecord
{
    internal RawRecord(TopicPartition topicPartition, long offset, long timestamp, TimestampType timestampType, int leaderEpoch,
        ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull, ReadOnlySpan<byte> headers, int headerCount)
    {
        TopicPartition = topicPartition;
        Offset = offset;
        TimestampMs = timestamp;
        TimestampType = timestampType;
        LeaderEpoch = leaderEpoch;
        Key = key;
        KeyIsNull = keyIsNull;
        Value = value;
        ValueIsNull = valueIsNull;
        RawHeaders = headers;
        HeaderCount = headerCount;
    }

    /// <summary>The record's partition.</summary>
    public TopicPartition TopicPartition { get; }

    /// <summary>The record's offset.</summary>
    public long Offset { get; }

    /// <summary>The timestamp in milliseconds since the Unix epoch, or -1 when the record has none.</summary>
    public long TimestampMs { get; }

    /// <summary>How the timestamp was set.</summary>
    public TimestampType TimestampType { get; }

    /// <summary>The batch's leader epoch, or -1 when unknown.</summary>
    public int LeaderEpoch { get; }

    /// <summary>The key bytes (empty when <see cref="KeyIsNull"/>).</summary>
    public ReadOnlySpan<byte> Key { get; }

    /// <summary>True when the key is null on the wire.</summary>
    public bool KeyIsNull { get; }

    /// <summary>The value bytes (empty when <see cref="ValueIsNull"/>).</summary>
    public ReadOnlySpan<byte> Value { get; }

    /// <summary>True when the value is null on the wire (a tombstone).</summary>
    public bool ValueIsNull { get; }

    /// <summary>The encoded headers (record format v2 layout), for <see cref="HeaderCount"/> headers.</summary>
    internal ReadOnlySpan<byte> RawHeaders { get; }

    /// <summary>How many headers the record has.</summary>
    public int HeaderCount { get; }

    /// <summary>The headers, enumerated in place without allocating.</summary>
    public RawHeaders Headers => new(RawHeaders, HeaderCount);

    /// <summary>The timestamp as a <see cref="DateTimeOffset"/> (the Unix epoch when the record has none).</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(0, TimestampMs));

    /// <summary>Copies the headers into a new list (allocates; empty list when there are none).</summary>
    public Kiel.Headers CopyHeaders()
    {
        var list = new Kiel.Headers();
        foreach (var header in Headers)
            list.Add(new RecordHeader(Encoding.UTF8.GetString(header.Key), header.ValueIsNull ? (ReadOnlyMemory<byte>?)null : header.Value.ToArray()));
        return list;
    }
}
