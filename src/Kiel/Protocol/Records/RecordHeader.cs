namespace Kiel.Protocol.Records;

/// <summary>A record header to write: a UTF-8 key and a value that may be null.</summary>
/// <param name="Key">The header key; never null.</param>
/// <param name="Value">The header value, or null.</param>
public readonly record struct RecordHeader(string Key, ReadOnlyMemory<byte>? Value);
