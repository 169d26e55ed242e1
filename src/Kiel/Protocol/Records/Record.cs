using System.Text;

namespace Kiel.Protocol.Records;

/// <summary>
/// One record, read in place: its key, value and headers are views of the record set (or of the reader's
/// decompression buffer) and stay valid until the reader moves on. Copy what must outlive that.
/// </summary>
public readonly ref struct Record
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

    /// <summary>The headers, enumerated in place.</summary>
    public RecordHeaders Headers => new(_headers, HeaderCount);

    /// <summary>Copies the key, or returns null for a null key.</summary>
    public byte[]? KeyToArray() => IsKeyNull ? null : _key.ToArray();

    /// <summary>Copies the value, or returns null for a null value.</summary>
    public byte[]? ValueToArray() => IsValueNull ? null : _value.ToArray();
}

/// <summary>The headers of a <see cref="Record"/>, enumerated in place.</summary>
public readonly ref struct RecordHeaders
{
    private readonly ReadOnlySpan<byte> _bytes;

    internal RecordHeaders(ReadOnlySpan<byte> bytes, int count)
    {
        _bytes = bytes;
        Count = count;
    }

    /// <summary>The number of headers.</summary>
    public int Count { get; }

    /// <summary>Enumerates the headers in wire order.</summary>
    public Enumerator GetEnumerator() => new(_bytes, Count);

    /// <summary>Walks headers that the reader has already validated.</summary>
    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _bytes;
        private int _remaining;
        private int _pos;
        private RecordHeaderView _current;

        internal Enumerator(ReadOnlySpan<byte> bytes, int count)
        {
            _bytes = bytes;
            _remaining = count;
            _pos = 0;
            _current = default;
        }

        /// <summary>The current header.</summary>
        public readonly RecordHeaderView Current => _current;

        /// <summary>Moves to the next header.</summary>
        public bool MoveNext()
        {
            if (_remaining <= 0) return false;
            _remaining--;
            _pos += VarInt.TryReadUnsigned(_bytes[_pos..], out uint rawKey);
            var keyLength = VarInt.UnZigZag(rawKey);
            var key = _bytes.Slice(_pos, keyLength);
            _pos += keyLength;
            _pos += VarInt.TryReadUnsigned(_bytes[_pos..], out uint rawValue);
            var valueLength = VarInt.UnZigZag(rawValue);
            var value = valueLength < 0 ? default : _bytes.Slice(_pos, valueLength);
            if (valueLength > 0) _pos += valueLength;
            _current = new RecordHeaderView(key, value, valueLength < 0);
            return true;
        }
    }
}

/// <summary>One header of a record, read in place.</summary>
public readonly ref struct RecordHeaderView
{
    private readonly ReadOnlySpan<byte> _key;
    private readonly ReadOnlySpan<byte> _value;

    internal RecordHeaderView(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool isValueNull)
    {
        _key = key;
        _value = value;
        IsValueNull = isValueNull;
    }

    /// <summary>The key as UTF-8 bytes.</summary>
    public ReadOnlySpan<byte> Key => _key;

    /// <summary>The value bytes; empty when null.</summary>
    public ReadOnlySpan<byte> Value => _value;

    /// <summary>True when the value is null.</summary>
    public bool IsValueNull { get; }

    /// <summary>Decodes the key (allocates a string).</summary>
    public string KeyString => Encoding.UTF8.GetString(_key);

    /// <summary>Copies the value, or returns null for a null value.</summary>
    public byte[]? ValueToArray() => IsValueNull ? null : _value.ToArray();

    /// <summary>True when the key equals <paramref name="key"/>, compared without allocating.</summary>
    public bool KeyEquals(string key)
    {
        Span<byte> buffer = stackalloc byte[256];
        var max = Encoding.UTF8.GetMaxByteCount(key.Length);
        if (max > buffer.Length) return KeyString == key;
        var n = Encoding.UTF8.GetBytes(key, buffer);
        return _key.SequenceEqual(buffer[..n]);
    }
}
