using System.Buffers;
using System.Buffers.Binary;
using Snappier;

namespace Kiel.Protocol.Compression;

/// <summary>
/// Snappy through Snappier. Record batches carry one raw snappy block (what librdkafka writes); legacy message sets
/// carry snappy-java's "xerial" framing (what the Java client writes). Reading accepts either, by the 8-byte magic.
/// </summary>
internal static class SnappyCodec
{
    /// <summary>0x82 "SNAPPY" 0x00, then version 1 and minimum compatible version 1 as big-endian int32s.</summary>
    internal static ReadOnlySpan<byte> XerialHeader => [0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1];

    /// <summary>snappy-java's input chunk; readers must not depend on it.</summary>
    internal const int XerialBlockSize = 32 * 1024;

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, bool xerial)
    {
        if (!xerial)
        {
            CompressBlock(source, destination);
            return;
        }
        var header = destination.GetSpan(XerialHeader.Length);
        XerialHeader.CopyTo(header);
        destination.Advance(XerialHeader.Length);
        // snappy-java writes no block for empty input, so neither do we.
        for (var pos = 0; pos < source.Length; pos += XerialBlockSize)
        {
            var block = source.Slice(pos, Math.Min(XerialBlockSize, source.Length - pos));
            var span = destination.GetSpan(4 + Snappy.GetMaxCompressedLength(block.Length));
            var n = Snappy.Compress(block, span[4..]);
            BinaryPrimitives.WriteInt32BigEndian(span, n);
            destination.Advance(4 + n);
        }
    }

    private static void CompressBlock(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        var span = destination.GetSpan(Snappy.GetMaxCompressedLength(source.Length));
        destination.Advance(Snappy.Compress(source, span));
    }

    public static bool IsXerial(ReadOnlySpan<byte> source) =>
        source.Length >= 16 && source[..8].SequenceEqual(XerialHeader[..8]);

    public static int Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int maxOutput)
    {
        if (!IsXerial(source)) return DecompressBlock(source, destination, maxOutput, maxOutput, "block");

        // Kiel compared an absolute position with (length - header) here and dropped a short last block (L17):
        // walk to the true end of the input instead.
        var total = 0;
        var pos = XerialHeader.Length;
        while (pos < source.Length)
        {
            if (source.Length - pos < 4)
                DecompressionLimit.Corrupt(CompressionType.Snappy, "xerial block length", $"{source.Length - pos} byte(s) left where a 4-byte block length was expected");
            var length = BinaryPrimitives.ReadInt32BigEndian(source[pos..]);
            pos += 4;
            if (length < 0 || length > source.Length - pos)
                DecompressionLimit.Corrupt(CompressionType.Snappy, "xerial block length", $"block length {length} at offset {pos - 4} does not fit in the {source.Length - pos} remaining byte(s)");
            total += DecompressBlock(source.Slice(pos, length), destination, maxOutput - total, maxOutput, "xerial block");
            pos += length;
        }
        return total;
    }

    private static int DecompressBlock(ReadOnlySpan<byte> block, IBufferWriter<byte> destination, int maxOutput, int limit, string field)
    {
        int claimed;
        try
        {
            claimed = Snappy.GetUncompressedLength(block);
        }
        catch (Exception ex) when (DecompressionLimit.IsDecoderFailure(ex))
        {
            DecompressionLimit.Corrupt(CompressionType.Snappy, field, "the snappy block has no valid length preamble: " + ex.Message, ex);
            return 0;
        }
        if (claimed < 0) DecompressionLimit.Corrupt(CompressionType.Snappy, field, $"negative uncompressed length {claimed}");
        if (claimed > maxOutput) DecompressionLimit.Exceeded(CompressionType.Snappy, (long)claimed + limit - maxOutput, limit, claimed: true);
        // A snappy copy element of at most 3 bytes yields at most 64 bytes, so a claim far beyond that ratio is a lie;
        // refusing it keeps a tiny block from making us allocate up to the limit.
        if (claimed > (long)block.Length * 64 + 64)
            DecompressionLimit.Corrupt(CompressionType.Snappy, field, $"the block claims {claimed} bytes from only {block.Length} compressed bytes");
        if (claimed == 0)
        {
            if (block.Length != 1) DecompressionLimit.Corrupt(CompressionType.Snappy, field, "an empty block has trailing bytes");
            return 0;
        }
        var span = destination.GetSpan(claimed)[..claimed];
        try
        {
            if (!Snappy.TryDecompress(block, span, out var written) || written != claimed)
                DecompressionLimit.Corrupt(CompressionType.Snappy, field, "the snappy block is corrupt");
        }
        catch (Exception ex) when (DecompressionLimit.IsDecoderFailure(ex))
        {
            DecompressionLimit.Corrupt(CompressionType.Snappy, field, "the snappy block is corrupt: " + ex.Message, ex);
        }
        destination.Advance(claimed);
        return claimed;
    }
}
