namespace Kiel.Protocol.Records;

/// <summary>
/// One record, read in place: its key, value and headers are views of the record set (or of the reader's
/// decompression buffer) and stay valid until the reader moves on. Copy what must outlive that.
/// </summary>
internal readonly ref struct Record
{
    private readonly ReadOnlySpan<byte> _key;
    private readonly ReadOnlySpan<byte> _value;
    private readonly ReadOnlySpan<byte> _headers;

    internal Record(long offset, long timestamp, TimestampType timestampType, ReadOnlySpan<byte> key, bool keyIsNull,
        ReadOnlySpan<byte> value, bool valueIsNull, ReadOnlySpan<byte> headers, int headerCount)
    {
        Offset = offset;
        Timestamp = timestamp;
        TimestampType = timestampType;
        _key = key;
        IsKeyNull = keyIsNull;
        _value = value;
        IsValueNull = valueIsNull;
        _headers = headers;
        HeaderCount = headerCount;
    }

    /// <summary>The record's offset in its partition.</summary>
    public long Offset { get; }

    /// <summary>The timestamp in milliseconds since the Unix epoch, or -1 when <see cref="TimestampType"/> is NotAvailable.</summary>
    public long Timestamp { get; }

    /// <summary>What <see cref="Timestamp"/> means.</summary>
    public TimestampType TimestampType { get; }

    /// <summary>The key bytes; empty when the key is null (see <see cref="IsKeyNull"/>).</summary>
    public ReadOnlySpan<byte> Key => _key;

    /// <summary>True when the key is null.</summary>
    public bool IsKeyNull { get; }

    /// <summary>The value bytes; empty when the value is null (see <see cref="IsValueNull"/>).</summary>
    public ReadOnlySpan<byte> Value => _value;

    /// <summary>True when the value is null (a tombstone on compacted topics).</summary>
    public bool IsValueNull { get; }

    /// <summary>The number of headers.</summary>
    public int HeaderCount { get; }

    /// <summary>The encoded headers (record format v2 layout), already validated by the reader.</summary>
    internal ReadOnlySpan<byte> RawHeaders => _headers;

    /// <summary>The headers, enumerated in place.</summary>
    public RecordHeaders Headers => new(_headers, HeaderCount);

    /// <summary>Copies the key, or returns null for a null key.</summary>
    public byte[]? KeyToArray() => IsKeyNull ? null : ByteArrays.CopyOf(_key);

    /// <summary>Copies the value, or returns null for a null value.</summary>
    public byte[]? ValueToArray() => IsValueNull ? null : ByteArrays.CopyOf(_value);
}
