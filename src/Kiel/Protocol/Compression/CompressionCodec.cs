using System.Buffers;

namespace Kiel.Protocol.Compression;

/// <summary>
/// Compresses and decompresses the payload of a record batch or legacy wrapper message with Kafka's framing for each
/// codec. Decompression is always bounded by a maximum output size and refuses, with a
/// <see cref="KafkaProtocolException"/>, anything that claims or expands past it, without allocating the claimed size.
/// </summary>
internal static class CompressionCodec
{
    /// <summary>The default bound on the decompressed size of one batch: 64 MiB.</summary>
    public const int DefaultMaxDecompressedBytes = 64 * 1024 * 1024;

    /// <summary>
    /// Appends the compressed form of <paramref name="source"/> to <paramref name="destination"/>.
    /// </summary>
    /// <param name="type">The codec; <see cref="CompressionType.None"/> copies the bytes.</param>
    /// <param name="source">The uncompressed bytes.</param>
    /// <param name="destination">Where the compressed bytes go.</param>
    /// <param name="level">The codec's level, or null for its default; see <see cref="ValidateLevel"/>.</param>
    /// <param name="magic">The record format: 0 and 1 get snappy's xerial framing (and, for 0, lz4's old header checksum), 2 raw snappy.</param>
    public static void Compress(CompressionType type, ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int? level = null, byte magic = 2)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (level is { } l && ValidateLevel(type, l) is { } problem) throw new ArgumentOutOfRangeException(nameof(level), l, problem);
        switch (type)
        {
            case CompressionType.None:
                source.CopyTo(destination.GetSpan(source.Length));
                destination.Advance(source.Length);
                break;
            case CompressionType.Gzip:
                GzipCodec.Compress(source, destination, level);
                break;
            case CompressionType.Snappy:
                SnappyCodec.Compress(source, destination, xerial: magic < 2);
                break;
            case CompressionType.Lz4:
                Lz4FrameCodec.Compress(source, destination, level, magic);
                break;
            case CompressionType.Zstd:
                if (magic < 2) throw new ArgumentException("zstd exists only in record batches (magic 2).", nameof(type));
                ZstdCodec.Compress(source, destination, level);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown compression type.");
        }
    }

    /// <summary>
    /// Appends the decompressed form of <paramref name="source"/> to <paramref name="destination"/> and returns its length.
    /// </summary>
    /// <param name="type">The codec named by the batch attributes.</param>
    /// <param name="source">The compressed bytes.</param>
    /// <param name="destination">Where the decompressed bytes go.</param>
    /// <param name="maxOutputBytes">The largest decompressed size accepted.</param>
    /// <param name="magic">The record format the data came from (lz4 frames from magic 0 and 1 may carry KAFKA-3160's header checksum).</param>
    /// <exception cref="KafkaProtocolException">The data is corrupt, or claims or produces more than <paramref name="maxOutputBytes"/>.</exception>
    public static int Decompress(CompressionType type, ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int maxOutputBytes = DefaultMaxDecompressedBytes, byte magic = 2)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfNegative(maxOutputBytes);
        if (source.IsEmpty && type is > CompressionType.None and <= CompressionType.Zstd)
            DecompressionLimit.Corrupt(type, null, "the compressed data is empty");
        switch (type)
        {
            case CompressionType.None:
                if (source.Length > maxOutputBytes) DecompressionLimit.Exceeded(type, source.Length, maxOutputBytes, claimed: true);
                source.CopyTo(destination.GetSpan(source.Length));
                destination.Advance(source.Length);
                return source.Length;
            case CompressionType.Gzip:
                return GzipCodec.Decompress(source, destination, maxOutputBytes);
            case CompressionType.Snappy:
                return SnappyCodec.Decompress(source, destination, maxOutputBytes);
            case CompressionType.Lz4:
                return Lz4FrameCodec.Decompress(source, destination, maxOutputBytes, legacyMagic: magic < 2);
            case CompressionType.Zstd:
                return ZstdCodec.Decompress(source, destination, maxOutputBytes);
            default:
                throw new KafkaProtocolException("compressed records", -1, "attributes", $"unknown compression codec {(int)type}");
        }
    }

    /// <summary>
    /// Checks a compression level: gzip 0-9 (default 6), lz4 0-17 (0-2 fast, 3-12 high compression, higher taken as 12;
    /// default fast, as librdkafka), zstd -131072 to 22 (default 3). Snappy has no level and ignores it.
    /// </summary>
    /// <returns>null when the level is valid, otherwise what is wrong and what is allowed.</returns>
    public static string? ValidateLevel(CompressionType type, int level) => type switch
    {
        CompressionType.Gzip when level is < 0 or > 9 => $"gzip levels are 0 to 9, not {level}.",
        CompressionType.Lz4 when level is < 0 or > 17 => $"lz4 levels are 0 to 17, not {level}.",
        CompressionType.Zstd when level is < -131072 or > 22 => $"zstd levels are -131072 to 22, not {level}.",
        _ => null,
    };
}
