namespace Kiel.Protocol.Records;

/// <summary>A record header to write: a UTF-8 key and a value that may be null.</summary>
public readonly struct RecordHeader
{
    /// <summary>A header whose value is <paramref name="value"/>; a null array writes a null value.</summary>
    public RecordHeader(string key, byte[]? value)
    {
        Key = key ?? throw new ArgumentNullException(nameof(key));
        Value = value;
        IsValueNull = value is null;
    }

    /// <summary>A header with a non-null value.</summary>
    public RecordHeader(string key, ReadOnlyMemory<byte> value)
    {
        Key = key ?? throw new ArgumentNullException(nameof(key));
        Value = value;
        IsValueNull = false;
    }

    /// <summary>The header key; never null.</summary>
    public string Key { get; }

    /// <summary>The value bytes; empty when <see cref="IsValueNull"/>.</summary>
    public ReadOnlyMemory<byte> Value { get; }

    /// <summary>True when the value is null.</summary>
    public bool IsValueNull { get; }
}
