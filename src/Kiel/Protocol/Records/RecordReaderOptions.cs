using Kiel.Protocol.Compression;

namespace Kiel.Protocol.Records;

/// <summary>How a <see cref="RecordSetReader"/> treats what it reads.</summary>
internal sealed record RecordReaderOptions
{
    /// <summary>The defaults: CRCs checked, 64 MiB decompression limit, a truncated last batch ignored, control records hidden.</summary>
    public static RecordReaderOptions Default { get; } = new();

    /// <summary>Check each batch's CRC-32C and each legacy message's CRC-32. Default true.</summary>
    public bool VerifyCrc { get; init; } = true;

    /// <summary>The largest decompressed size of one batch or wrapper message. Default 64 MiB.</summary>
    public int MaxDecompressedBytes { get; init; } = CompressionCodec.DefaultMaxDecompressedBytes;

    /// <summary>
    /// Ignore an incomplete batch at the end of the set, as brokers cut record sets at the fetch size. Default true.
    /// When false, an incomplete batch raises <see cref="KafkaProtocolException"/>.
    /// </summary>
    public bool AllowTruncatedTail { get; init; } = true;

    /// <summary>Yield the records of control batches from <see cref="RecordSetReader.MoveNext"/>. Default false.</summary>
    public bool IncludeControlRecords { get; init; }

    /// <summary>Returns what is wrong with these options, or null.</summary>
    public string? Validate() =>
        MaxDecompressedBytes <= 0 ? $"MaxDecompressedBytes must be positive, not {MaxDecompressedBytes}." : null;
}
