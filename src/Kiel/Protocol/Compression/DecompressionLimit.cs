namespace Kiel.Protocol.Compression;

/// <summary>Raises the errors shared by every codec when compressed input is hostile or broken.</summary>
internal static class DecompressionLimit
{
    [DoesNotReturn]
    public static void Exceeded(CompressionType type, long claimedOrProduced, int limit, bool claimed) =>
        throw new KafkaProtocolException(Name(type), -1, "records",
            claimed
                ? $"the compressed data claims {claimedOrProduced} decompressed bytes, more than the configured maximum of {limit} bytes"
                : $"decompressing produced more than the configured maximum of {limit} bytes (a batch this large, or a decompression bomb, is refused)");

    [DoesNotReturn]
    public static void Corrupt(CompressionType type, string? field, string problem, Exception? inner = null) =>
        throw new KafkaProtocolException(Name(type), -1, field, problem, inner);

    public static string Name(CompressionType type) => type switch
    {
        CompressionType.Gzip => "gzip compressed records",
        CompressionType.Snappy => "snappy compressed records",
        CompressionType.Lz4 => "lz4 frame",
        CompressionType.Zstd => "zstd compressed records",
        _ => "compressed records",
    };

    /// <summary>True for the exceptions that the codec libraries throw on malformed input.</summary>
    public static bool IsDecoderFailure(Exception ex) => ex is not KafkaProtocolException and not OutOfMemoryException;
}
