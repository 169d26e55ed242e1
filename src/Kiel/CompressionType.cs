namespace Kiel;

/// <summary>
/// The compression codec of a record batch or legacy wrapper message: the low three bits of its attributes.
/// The numbers are Kafka's; zstd exists only in record batches (magic 2).
/// </summary>
public enum CompressionType : byte
{
    /// <summary>No compression.</summary>
    None = 0,

    /// <summary>gzip (RFC 1952).</summary>
    Gzip = 1,

    /// <summary>Snappy: raw blocks in record batches, xerial (snappy-java) framing in legacy message sets.</summary>
    Snappy = 2,

    /// <summary>LZ4 in the LZ4 frame format.</summary>
    Lz4 = 3,

    /// <summary>Zstandard (record batches only).</summary>
    Zstd = 4,
}
