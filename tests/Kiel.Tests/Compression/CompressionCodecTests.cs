using System.Buffers.Binary;
using System.IO.Compression;
using FsCheck.Xunit;
using K4os.Compression.LZ4;
using Kiel.Protocol;
using Kiel.Protocol.Compression;

namespace Kiel.Tests.Compression;

public class CompressionCodecTests
{
    public static TheoryData<CompressionType, byte> CodecsAndMagics => new()
    {
        { CompressionType.Gzip, 2 }, { CompressionType.Snappy, 2 }, { CompressionType.Lz4, 2 }, { CompressionType.Zstd, 2 },
        { CompressionType.Gzip, 1 }, { CompressionType.Snappy, 1 }, { CompressionType.Lz4, 1 }, { CompressionType.Lz4, 0 }, { CompressionType.Snappy, 0 },
    };

    internal static byte[] Compress(CompressionType type, ReadOnlySpan<byte> data, byte magic = 2, int? level = null)
    {
        using var w = new PooledBufferWriter();
        CompressionCodec.Compress(type, data, w, level, magic);
        return w.WrittenSpan.ToArray();
    }

    internal static byte[] Decompress(CompressionType type, ReadOnlySpan<byte> data, byte magic = 2, int max = CompressionCodec.DefaultMaxDecompressedBytes)
    {
        using var w = new PooledBufferWriter();
        var n = CompressionCodec.Decompress(type, data, w, max, magic);
        Assert.Equal(n, w.WrittenCount);
        return w.WrittenSpan.ToArray();
    }

    [Property(MaxTest = 100)]
    public bool RandomBytesRoundTripInEveryCodec(byte[] data, bool repetitive)
    {
        if (repetitive) data = Enumerable.Repeat(data, 50).SelectMany(x => x).ToArray();
        foreach (var (type, magic) in CodecsAndMagics.Select(r => ((CompressionType)r[0], (byte)r[1])))
            if (!Decompress(type, Compress(type, data, magic), magic).AsSpan().SequenceEqual(data)) return false;
        return true;
    }

    [Theory]
    [MemberData(nameof(CodecsAndMagics))]
    public void SizesAroundBlockBoundariesRoundTrip(CompressionType type, byte magic)
    {
        var random = new Random(42);
        foreach (var size in new[] { 0, 1, 32 * 1024 - 1, 32 * 1024, 32 * 1024 + 5, 64 * 1024, 64 * 1024 + 1, 200_000 })
        {
            var data = new byte[size];
            for (var i = 0; i < size; i++) data[i] = (byte)(random.Next(3) == 0 ? random.Next(256) : 'x');
            Assert.Equal(data, Decompress(type, Compress(type, data, magic), magic));
        }
    }

    [Fact]
    public void GzipOutputIsAStandardGzipStream()
    {
        var data = "hello hello hello"u8.ToArray();
        using var input = new MemoryStream(Compress(CompressionType.Gzip, data, level: 9));
        using var gz = new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        gz.CopyTo(output);
        Assert.Equal(data, output.ToArray());
    }

    [Fact]
    public void ZstdIsRefusedForLegacyMagic()
    {
        using var w = new PooledBufferWriter();
        Assert.Throws<ArgumentException>(() => CompressionCodec.Compress(CompressionType.Zstd, [1], w, magic: 1));
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void CorruptInputIsAProtocolError(CompressionType type)
    {
        var random = new Random((int)type);
        var data = Enumerable.Range(0, 5000).Select(i => (byte)(i % 7 == 0 ? random.Next(256) : 'a')).ToArray();
        var compressed = Compress(type, data);
        for (var i = 0; i < 3000; i++)
        {
            var bad = compressed.ToArray();
            if (i % 3 == 0)
            {
                bad = bad[..random.Next(bad.Length)];
            }
            else
            {
                for (var f = 0; f < 1 + i % 3; f++) bad[random.Next(bad.Length)] ^= (byte)(1 << random.Next(8));
            }
            try
            {
                Decompress(type, bad, max: 1 << 20);
            }
            catch (KafkaProtocolException)
            {
            }
        }
        Assert.Throws<KafkaProtocolException>(() => Decompress(type, ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void UnknownCodecIsAProtocolError()
    {
        using var w = new PooledBufferWriter();
        var ex = Assert.Throws<KafkaProtocolException>(() => CompressionCodec.Decompress((CompressionType)6, [1, 2], w));
        Assert.Equal("attributes", ex.Field);
    }
}

public class SnappyFramingTests
{
    [Fact]
    public void LegacyMagicWritesXerialFraming()
    {
        var data = new byte[70_000];
        var framed = CompressionCodecTests.Compress(CompressionType.Snappy, data, magic: 1);
        Assert.Equal("82534E41505059000000000100000001", Convert.ToHexString(framed[..16]));
        // 70,000 bytes are three snappy-java chunks of up to 32 KiB.
        var pos = 16;
        var blocks = 0;
        while (pos < framed.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(framed.AsSpan(pos));
            pos += 4 + length;
            blocks++;
        }
        Assert.Equal(3, blocks);
        Assert.Equal(framed.Length, pos);
    }

    [Fact]
    public void RecordBatchesUseOneRawBlock()
    {
        var data = new byte[70_000];
        var raw = CompressionCodecTests.Compress(CompressionType.Snappy, data, magic: 2);
        Assert.Equal(data, Snappier.Snappy.DecompressToArray(raw));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(11)]
    [InlineData(40)]
    public void AShortLastXerialBlockIsNotDropped(int tail)
    {
        // Kiel's loop bound subtracted the header length and dropped a final block shorter than 12 bytes (L17).
        var data = new byte[32 * 1024 + tail];
        new Random(tail).NextBytes(data.AsSpan(32 * 1024));
        var framed = CompressionCodecTests.Compress(CompressionType.Snappy, data, magic: 0);
        var lastBlockLength = BinaryPrimitives.ReadInt32BigEndian(framed.AsSpan(framed.Length - (tail + 2) - 4));
        Assert.True(lastBlockLength < 60);
        Assert.Equal(data, CompressionCodecTests.Decompress(CompressionType.Snappy, framed));
    }

    [Fact]
    public void XerialAndRawAreBothReadWhateverTheMagic()
    {
        var data = "snappy snappy snappy snappy"u8.ToArray();
        foreach (byte writeMagic in new byte[] { 0, 2 })
        foreach (byte readMagic in new byte[] { 0, 1, 2 })
            Assert.Equal(data, CompressionCodecTests.Decompress(CompressionType.Snappy, CompressionCodecTests.Compress(CompressionType.Snappy, data, writeMagic), readMagic));
    }

    [Fact]
    public void XerialBlockLengthsThatOverrunAreProtocolErrors()
    {
        var framed = CompressionCodecTests.Compress(CompressionType.Snappy, new byte[100], magic: 1);
        BinaryPrimitives.WriteInt32BigEndian(framed.AsSpan(16), int.MaxValue);
        Assert.Equal("xerial block length", Assert.Throws<KafkaProtocolException>(() => CompressionCodecTests.Decompress(CompressionType.Snappy, framed)).Field);
        BinaryPrimitives.WriteInt32BigEndian(framed.AsSpan(16), -5);
        Assert.Throws<KafkaProtocolException>(() => CompressionCodecTests.Decompress(CompressionType.Snappy, framed));
        Assert.Throws<KafkaProtocolException>(() => CompressionCodecTests.Decompress(CompressionType.Snappy, framed[..18]));
    }
}

public class Lz4FrameTests
{
    [Fact]
    public void HeaderMatchesTheJavaClient()
    {
        Assert.Equal("04224D18604082", Convert.ToHexString(CompressionCodecTests.Compress(CompressionType.Lz4, [1, 2, 3], magic: 2)[..7]));
        Assert.Equal("04224D18604082", Convert.ToHexString(CompressionCodecTests.Compress(CompressionType.Lz4, [1, 2, 3], magic: 1)[..7]));
        // Magic 0 keeps the checksum computed over the magic number too (KAFKA-3160).
        Assert.Equal("04224D1860401A", Convert.ToHexString(CompressionCodecTests.Compress(CompressionType.Lz4, [1, 2, 3], magic: 0)[..7]));
    }

    [Fact]
    public void LegacyReadersAcceptTheBrokenHeaderChecksumAndRecordBatchesDoNot()
    {
        var frame = CompressionCodecTests.Compress(CompressionType.Lz4, "abcabcabc"u8, magic: 0);
        Assert.Equal("abcabcabc"u8.ToArray(), CompressionCodecTests.Decompress(CompressionType.Lz4, frame, magic: 0));
        Assert.Equal("abcabcabc"u8.ToArray(), CompressionCodecTests.Decompress(CompressionType.Lz4, frame, magic: 1));
        Assert.Equal("HC", Assert.Throws<KafkaProtocolException>(() => CompressionCodecTests.Decompress(CompressionType.Lz4, frame, magic: 2)).Field);
    }

    [Fact]
    public void LinkedBlocksChecksumsAndContentSizeAreRead()
    {
        // Hand-built frame: FLG 0x5C = version 01, linked blocks, block checksum, content size, content checksum; BD 0x40.
        var data = Enumerable.Range(0, 150_000).Select(i => (byte)(i % 251 < 100 ? 'q' : i % 13)).ToArray();
        var frame = new List<byte> { 0x04, 0x22, 0x4D, 0x18, 0x5C, 0x40 };
        var size = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(size, (ulong)data.Length);
        frame.AddRange(size);
        frame.Add((byte)((System.IO.Hashing.XxHash32.HashToUInt32(frame.Skip(4).ToArray()) >> 8) & 0xFF));
        // One chained encoder: each block may refer back into the previous 64 KiB, as linked-mode encoders do.
        using var encoder = K4os.Compression.LZ4.Encoders.LZ4Encoder.Create(true, LZ4Level.L00_FAST, 65536);
        for (var pos = 0; pos < data.Length; pos += 65536)
        {
            var block = data.AsSpan(pos, Math.Min(65536, data.Length - pos));
            var target = new byte[LZ4Codec.MaximumOutputSize(block.Length) + 16];
            K4os.Compression.LZ4.Encoders.LZ4EncoderExtensions.TopupAndEncode(encoder, block, target, true, false, out var loaded, out var n);
            Assert.Equal(block.Length, loaded);
            var header = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(header, n);
            frame.AddRange(header);
            frame.AddRange(target[..n]);
            var checksum = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(checksum, System.IO.Hashing.XxHash32.HashToUInt32(target.AsSpan(0, n)));
            frame.AddRange(checksum);
        }
        frame.AddRange(new byte[4]);
        var content = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(content, System.IO.Hashing.XxHash32.HashToUInt32(data));
        frame.AddRange(content);
        var bytes = frame.ToArray();
        Assert.Equal(data, CompressionCodecTests.Decompress(CompressionType.Lz4, bytes));

        var badContent = bytes.ToArray();
        badContent[^1] ^= 1;
        Assert.Equal("content checksum", Assert.Throws<KafkaProtocolException>(() => CompressionCodecTests.Decompress(CompressionType.Lz4, badContent)).Field);
        var badBlock = bytes.ToArray();
        badBlock[20] ^= 1;
        Assert.Throws<KafkaProtocolException>(() => CompressionCodecTests.Decompress(CompressionType.Lz4, badBlock));
    }

    [Fact]
    public void StoredBlocksAreCopied()
    {
        var random = new Random(3);
        var noise = new byte[1000];
        random.NextBytes(noise);
        var frame = CompressionCodecTests.Compress(CompressionType.Lz4, noise);
        Assert.True((BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(7)) & 0x80000000) != 0);
        Assert.Equal(noise, CompressionCodecTests.Decompress(CompressionType.Lz4, frame));
    }

    [Fact]
    public void RawLz4BlocksAndBadDescriptorsAreRejected()
    {
        var raw = LZ4Pickler.Pickle(new byte[100]);
        Assert.Equal("magic", Assert.Throws<KafkaProtocolException>(() => CompressionCodecTests.Decompress(CompressionType.Lz4, raw)).Field);
        var frame = CompressionCodecTests.Compress(CompressionType.Lz4, new byte[100]);
        var badVersion = frame.ToArray();
        badVersion[4] = 0xA0;
        Assert.Equal("FLG", Assert.Throws<KafkaProtocolException>(() => CompressionCodecTests.Decompress(CompressionType.Lz4, badVersion)).Field);
        var badBd = frame.ToArray();
        badBd[5] = 0x10;
        Assert.Equal("BD", Assert.Throws<KafkaProtocolException>(() => CompressionCodecTests.Decompress(CompressionType.Lz4, badBd)).Field);
    }
}
