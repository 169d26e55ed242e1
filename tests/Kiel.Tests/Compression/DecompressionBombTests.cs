using Kiel.Protocol;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;
using static Kiel.Tests.Compression.CompressionCodecTests;

namespace Kiel.Tests.Compression;

/// <summary>A small input that expands past the configured maximum is refused without exhausting memory.</summary>
public class DecompressionBombTests
{
    private const int Limit = 1 << 20;
    private static readonly byte[] Zeros = new byte[32 << 20];

    private static void RefusedCheaply(CompressionType type, byte[] bomb, byte magic = 2)
    {
        using var w = new PooledBufferWriter(0);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<KafkaProtocolException>(() => CompressionCodec.Decompress(type, bomb, w, Limit, magic));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("maximum of 1048576 bytes", ex.Message);
        Assert.True(allocated < 8 << 20, $"{allocated} bytes allocated while refusing a {bomb.Length}-byte {type} bomb");
    }

    [Theory]
    [InlineData(CompressionType.Gzip, 2)]
    [InlineData(CompressionType.Snappy, 2)]
    [InlineData(CompressionType.Snappy, 1)]
    [InlineData(CompressionType.Lz4, 2)]
    [InlineData(CompressionType.Zstd, 2)]
    public void ThirtyTwoMegabytesOfZerosAreRefusedAtOneMegabyte(CompressionType type, byte magic)
    {
        var bomb = Compress(type, Zeros, magic, type == CompressionType.Gzip ? 1 : null);
        Assert.True(bomb.Length < Zeros.Length / 20);
        RefusedCheaply(type, bomb, magic);
    }

    [Fact]
    public void StreamedZstdWithoutAContentSizeIsBoundedWhileStreaming()
    {
        using var output = new MemoryStream();
        using (var z = new ZstdSharp.CompressionStream(output, 3, leaveOpen: true)) z.Write(Zeros);
        var bomb = output.ToArray();
        Assert.Equal(0, bomb[4] & 0xC0); // frame header: no content size field
        RefusedCheaply(CompressionType.Zstd, bomb);
    }

    [Fact]
    public void ASnappyBlockClaimingAGigabyteIsRefusedBeforeAllocating()
    {
        // Preamble varint 1 GiB, then a few bytes of nothing.
        byte[] bomb = [0x80, 0x80, 0x80, 0x80, 0x04, 0x00, 0x00, 0x00];
        RefusedCheaply(CompressionType.Snappy, bomb);
    }

    [Fact]
    public void AnLz4FrameClaimingATerabyteIsRefusedBeforeAllocating()
    {
        var frame = new List<byte> { 0x04, 0x22, 0x4D, 0x18, 0x68, 0x40 };
        frame.AddRange(BitConverter.GetBytes(1UL << 40));
        frame.Add((byte)((System.IO.Hashing.XxHash32.HashToUInt32(frame.Skip(4).ToArray()) >> 8) & 0xFF));
        frame.AddRange(new byte[4]);
        RefusedCheaply(CompressionType.Lz4, [.. frame]);
    }

    [Fact]
    public void AZstdFrameWhoseHeaderClaimsTooMuchIsRefusedBeforeAllocating()
    {
        using var compressor = new ZstdSharp.Compressor(1);
        var bomb = compressor.Wrap(new byte[4 << 20]).ToArray();
        Assert.Equal((ulong)(4 << 20), ZstdSharp.Decompressor.GetDecompressedSize(bomb));
        RefusedCheaply(CompressionType.Zstd, bomb);
    }

    [Fact]
    public void ASmallSnappyBlockCannotClaimAnImpossibleRatio()
    {
        // 512 KiB claimed (under the limit) from 8 bytes: more than snappy can expand, so corrupt, not allocated.
        byte[] lie = [0x80, 0x80, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00];
        using var w = new PooledBufferWriter(0);
        Assert.Throws<KafkaProtocolException>(() => CompressionCodec.Decompress(CompressionType.Snappy, lie, w, Limit));
        Assert.True(w.Capacity < 4096);
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void ARecordBatchBombIsRefusedByTheReader(CompressionType type)
    {
        using var builder = new RecordBatchBuilder(type, maxBatchBytes: int.MaxValue);
        var value = new byte[1 << 20];
        for (var i = 0; i < 8; i++) builder.Append(i, default, value, keyIsNull: true);
        var batch = builder.Seal().ToArray();
        Assert.True(batch.Length < 1 << 20);
        var ex = Assert.Throws<KafkaProtocolException>(() =>
        {
            using var reader = new RecordSetReader(batch, options: new RecordReaderOptions { MaxDecompressedBytes = 4 << 20 });
            while (reader.MoveNext()) { }
        });
        Assert.Contains("maximum", ex.Message);
    }

    [Fact]
    public void ALegacyWrapperBombIsRefusedByTheReader()
    {
        using var builder = new LegacyMessageSetBuilder(1, CompressionType.Gzip);
        var value = new byte[1 << 20];
        for (var i = 0; i < 8; i++) builder.Append(i, default, value, keyIsNull: true);
        var set = builder.Seal().ToArray();
        Assert.Throws<KafkaProtocolException>(() =>
        {
            using var reader = new RecordSetReader(set, options: new RecordReaderOptions { MaxDecompressedBytes = 4 << 20 });
            while (reader.MoveNext()) { }
        });
    }
}
