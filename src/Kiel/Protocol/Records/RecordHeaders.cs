using System.Text;

namespace Kiel.Protocol.Records;

/// <summary>The headers of a <see cref="Record"/>, enumerated in place.</summary>
internal readonly ref struct RecordHeaders
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
internal readonly ref struct RecordHeaderView
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
    public byte[]? ValueToArray() => IsValueNull ? null : ByteArrays.CopyOf(_value);

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
