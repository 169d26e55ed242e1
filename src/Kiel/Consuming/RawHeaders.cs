namespace Kiel.Consuming;

/// <summary>One header of a <see cref="RawRecord"/>, pointing into the fetch buffer.</summary>
public readonly ref struct RawHeader
{
    internal RawHeader(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool valueIsNull)
    {
        Key = key;
        Value = value;
        ValueIsNull = valueIsNull;
    }

    /// <summary>The header key as UTF-8 bytes.</summary>
    public ReadOnlySpan<byte> Key { get; }

    /// <summary>The header value (empty when <see cref="ValueIsNull"/>).</summary>
    public ReadOnlySpan<byte> Value { get; }

    /// <summary>True when the value is null on the wire.</summary>
    public bool ValueIsNull { get; }
}

/// <summary>The headers of a <see cref="RawRecord"/>, enumerated in place without allocating.</summary>
public readonly ref struct RawHeaders
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly int _count;

    internal RawHeaders(ReadOnlySpan<byte> data, int count)
    {
        _data = data;
        _count = count;
    }

    /// <summary>How many headers there are.</summary>
    public int Count => _count;

    /// <summary>Starts the enumeration.</summary>
    public Enumerator GetEnumerator() => new(_data, _count);

    /// <summary>
    /// Copies the headers out of the fetch buffer into a <see cref="Headers"/>, the header type of the rest of the API
    /// (keys decoded as UTF-8). This view is the zero-copy form of the same headers, valid only while its batch is.
    /// </summary>
    public Headers ToHeaders()
    {
        var headers = new Headers();
        foreach (var header in this)
            headers.Add(new RecordHeader(System.Text.Encoding.UTF8.GetString(header.Key), header.ValueIsNull ? null : header.Value.ToArray()));
        return headers;
    }

    /// <summary>Walks the encoded headers, which the records layer validated when it read the record.</summary>
    public ref struct Enumerator
    {
        private Kiel.Protocol.Records.RecordHeaders.Enumerator _inner;

        internal Enumerator(ReadOnlySpan<byte> data, int count)
        {
            _inner = new Kiel.Protocol.Records.RecordHeaders(data, count).GetEnumerator();
            Current = default;
        }

        /// <summary>The current header.</summary>
        public RawHeader Current { get; private set; }

        /// <summary>Moves to the next header.</summary>
        public bool MoveNext()
        {
            if (!_inner.MoveNext()) return false;
            var header = _inner.Current;
            Current = new RawHeader(header.Key, header.Value, header.IsValueNull);
            return true;
        }
    }
}
