using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using K4os.Compression.LZ4;

namespace Kiel.Protocol.Compression;

/// <summary>
/// Kafka's LZ4: the LZ4 frame format, written here around K4os' block codec so the frame is exactly what the Java
/// client writes (FLG 0x60, BD 0x40: independent 64 KiB blocks, no checksums) and reading takes every frame feature
/// that Kafka's peers produce.
/// </summary>
internal static class Lz4FrameCodec
{
    private const uint FrameMagic = 0x184D2204;
    private const byte Flg = 0x60; // version 01, independent blocks, no block checksum, no content size, no content checksum
    private const byte Bd = 0x40;  // 64 KiB maximum block size
    private const int BlockSize = 64 * 1024;
    private const int Uncompressed = unchecked((int)0x80000000);

    // LZ4 cannot expand a block by more than 255:1; a claim beyond this is corrupt, and the bound keeps a tiny block
    // from making us reserve a whole 4 MiB block.
    private const int MaxRatio = 255;

    /// <summary>
    /// Writes one frame. For magic 0 the header checksum is computed over the magic number as well, the mistake that
    /// Kafka kept for magic 0 (KAFKA-3160), because magic-0 readers of that era expect it.
    /// </summary>
    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int? level, byte magic)
    {
        var header = destination.GetSpan(7);
        BinaryPrimitives.WriteUInt32LittleEndian(header, FrameMagic);
        header[4] = Flg;
        header[5] = Bd;
        header[6] = HeaderChecksum(header[..6], brokenKafka3160: magic == 0);
        destination.Advance(7);

        var lz4Level = ToLevel(level);
        for (var pos = 0; pos < source.Length; pos += BlockSize)
        {
            var block = source.Slice(pos, Math.Min(BlockSize, source.Length - pos));
            var span = destination.GetSpan(4 + Math.Max(block.Length, LZ4Codec.MaximumOutputSize(block.Length)));
            var n = LZ4Codec.Encode(block, span[4..], lz4Level);
            if (n <= 0 || n >= block.Length)
            {
                // Incompressible: store it, as the frame format allows, so the frame never grows by more than 4 bytes a block.
                block.CopyTo(span[4..]);
                BinaryPrimitives.WriteInt32LittleEndian(span, block.Length | Uncompressed);
                destination.Advance(4 + block.Length);
            }
            else
            {
                BinaryPrimitives.WriteInt32LittleEndian(span, n);
                destination.Advance(4 + n);
            }
        }
        BinaryPrimitives.WriteUInt32LittleEndian(destination.GetSpan(4), 0);
        destination.Advance(4);
    }

    internal static LZ4Level ToLevel(int? level) => level switch
    {
        null or <= 2 => LZ4Level.L00_FAST,
        >= 12 => LZ4Level.L12_MAX,
        _ => (LZ4Level)level.Value,
    };

    internal static byte HeaderChecksum(ReadOnlySpan<byte> magicAndDescriptor, bool brokenKafka3160)
    {
        var covered = brokenKafka3160 ? magicAndDescriptor : magicAndDescriptor[4..];
        return (byte)((XxHash32.HashToUInt32(covered) >> 8) & 0xFF);
    }

    /// <summary>
    /// Reads one or more concatenated frames. <paramref name="legacyMagic"/> accepts the header checksum that early
    /// producers computed over the magic number too (KAFKA-3160).
    /// </summary>
    public static int Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int maxOutput, bool legacyMagic)
    {
        var total = 0;
        var pos = 0;
        do
        {
            total += DecompressFrame(source, ref pos, destination, maxOutput - total, maxOutput, legacyMagic);
        }
        while (pos < source.Length);
        return total;
    }

    private static int DecompressFrame(ReadOnlySpan<byte> source, ref int pos, IBufferWriter<byte> destination, int maxOutput, int limit, bool legacyMagic)
    {
        var frameStart = pos;
        Need(source, pos, 7, "frame header");
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(source[pos..]);
        if (magic != FrameMagic) Fail("magic", $"expected the LZ4 frame magic 04 22 4D 18 at offset {pos} but found {magic:X8} (raw LZ4 blocks are not Kafka's format)");
        var flg = source[pos + 4];
        var bd = source[pos + 5];
        if (flg >> 6 != 1) Fail("FLG", $"unsupported LZ4 frame version {flg >> 6}");
        if ((flg & 0x02) != 0) Fail("FLG", "reserved bit 1 is set");
        if ((flg & 0x01) != 0) Fail("FLG", "dictionary ids are not supported");
        if ((bd & 0x8F) != 0) Fail("BD", $"reserved bits are set in BD 0x{bd:X2}");
        var blockSizeId = (bd >> 4) & 0x7;
        if (blockSizeId < 4) Fail("BD", $"invalid maximum block size id {blockSizeId}");
        var blockMax = 1 << (2 * blockSizeId + 8);
        var independent = (flg & 0x20) != 0;
        var blockChecksum = (flg & 0x10) != 0;
        var hasContentSize = (flg & 0x08) != 0;
        var contentChecksum = (flg & 0x04) != 0;

        var descriptorEnd = pos + 6 + (hasContentSize ? 8 : 0);
        Need(source, pos, descriptorEnd + 1 - pos, "frame header");
        if (hasContentSize)
        {
            var contentSize = BinaryPrimitives.ReadUInt64LittleEndian(source[(pos + 6)..]);
            if (contentSize > (ulong)maxOutput) DecompressionLimit.Exceeded(CompressionType.Lz4, (long)Math.Min(contentSize, long.MaxValue / 2) + limit - maxOutput, limit, claimed: true);
        }
        var hc = source[descriptorEnd];
        var headerBytes = source[pos..descriptorEnd];
        if (hc != HeaderChecksum(headerBytes, false) && !(legacyMagic && hc == HeaderChecksum(headerBytes, true)))
            Fail("HC", $"header checksum 0x{hc:X2} does not match the frame descriptor");
        pos = descriptorEnd + 1;

        // Linked blocks refer back to earlier output, which an IBufferWriter cannot show us; decode those into a
        // contiguous scratch buffer and copy it out at the end.
        using var scratch = independent ? null : new PooledBufferWriter(0);
        var output = (IBufferWriter<byte>?)scratch ?? destination;
        var hasher = contentChecksum ? new XxHash32() : null;
        var total = 0;
        while (true)
        {
            Need(source, pos, 4, "block size");
            var raw = BinaryPrimitives.ReadUInt32LittleEndian(source[pos..]);
            pos += 4;
            if (raw == 0) break;
            var stored = (raw & 0x80000000) != 0;
            var length = (int)(raw & 0x7FFFFFFF);
            if (length > blockMax) Fail("block size", $"block of {length} bytes exceeds the frame's maximum block size {blockMax}");
            Need(source, pos, length + (blockChecksum ? 4 : 0), "block data");
            var data = source.Slice(pos, length);
            pos += length;
            if (blockChecksum)
            {
                if (XxHash32.HashToUInt32(data) != BinaryPrimitives.ReadUInt32LittleEndian(source[pos..])) Fail("block checksum", "block checksum mismatch");
                pos += 4;
            }

            int produced;
            Span<byte> target;
            if (stored)
            {
                if (length > maxOutput - total) DecompressionLimit.Exceeded(CompressionType.Lz4, (long)total + length + limit - maxOutput, limit, claimed: false);
                target = output.GetSpan(Math.Max(length, 1));
                data.CopyTo(target);
                produced = length;
            }
            else
            {
                var room = (int)Math.Min(Math.Min(blockMax, (long)length * MaxRatio + 64), (long)maxOutput - total);
                target = output.GetSpan(Math.Max(room, 1))[..room];
                produced = scratch is null
                    ? LZ4Codec.Decode(data, target)
                    : LZ4Codec.Decode(data, target, Dictionary(scratch));
                if (produced < 0)
                {
                    if (room == maxOutput - total) DecompressionLimit.Exceeded(CompressionType.Lz4, (long)total + room + 1 + limit - maxOutput, limit, claimed: false);
                    Fail("block data", "an LZ4 block is corrupt");
                }
            }
            hasher?.Append(target[..produced]);
            output.Advance(produced);
            total += produced;
        }
        if (contentChecksum)
        {
            Need(source, pos, 4, "content checksum");
            if (hasher!.GetCurrentHashAsUInt32() != BinaryPrimitives.ReadUInt32LittleEndian(source[pos..]))
                Fail("content checksum", $"content checksum mismatch in the frame at offset {frameStart}");
            pos += 4;
        }
        if (scratch is not null)
        {
            scratch.WrittenSpan.CopyTo(destination.GetSpan(scratch.WrittenCount));
            destination.Advance(scratch.WrittenCount);
        }
        return total;
    }

    private static ReadOnlySpan<byte> Dictionary(PooledBufferWriter scratch)
    {
        var written = scratch.WrittenSpan;
        return written[Math.Max(0, written.Length - 64 * 1024)..];
    }

    private static void Need(ReadOnlySpan<byte> source, int pos, int count, string field)
    {
        if ((long)source.Length - pos < count)
            Fail(field, $"needed {count} byte(s) at offset {pos} but only {source.Length - pos} remain (truncated frame)");
    }

    [DoesNotReturn]
    private static void Fail(string field, string problem) => DecompressionLimit.Corrupt(CompressionType.Lz4, field, problem);
}
