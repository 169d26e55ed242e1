using System.Text;

namespace Kiel;

/// <summary>A record header: a key and a value that may be null. Keys may repeat within a record.</summary>
/// <param name="Key">The header key.</param>
/// <param name="Value">The header value, or null.</param>
public readonly record struct RecordHeader(string Key, ReadOnlyMemory<byte>? Value)
{
    /// <summary>A header whose value is a copy-free view of <paramref name="value"/>; a null array is a null value.</summary>
    public RecordHeader(string key, byte[]? value) : this(key, value is null ? (ReadOnlyMemory<byte>?)null : new ReadOnlyMemory<byte>(value)) { }

    /// <summary>The value as UTF-8 text, or null.</summary>
    public string? ValueAsString() => Value is { } v ? Encoding.UTF8.GetString(v.Span) : null;
}

/// <summary>An ordered list of record headers.</summary>
public sealed class Headers : List<RecordHeader>
{
    /// <summary>Creates an empty list.</summary>
    public Headers() { }

    /// <summary>Creates a list holding <paramref name="headers"/>.</summary>
    public Headers(IEnumerable<RecordHeader> headers) : base(headers) { }

    /// <summary>Adds a header with a UTF-8 text value (null stays null).</summary>
    public void Add(string key, string? value) =>
        Add(new RecordHeader(key, value is null ? (ReadOnlyMemory<byte>?)null : new ReadOnlyMemory<byte>(Encoding.UTF8.GetBytes(value))));

    /// <summary>Adds a header with a byte value (null stays null).</summary>
    public void Add(string key, byte[]? value) => Add(new RecordHeader(key, value));

    /// <summary>The last header with <paramref name="key"/>, or null.</summary>
    public RecordHeader? LastOrNull(string key)
    {
        for (var i = Count - 1; i >= 0; i--)
            if (this[i].Key == key) return this[i];
        return null;
    }
}
