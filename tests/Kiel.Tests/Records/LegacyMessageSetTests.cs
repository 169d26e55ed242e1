using System.Buffers.Binary;
using FsCheck.Xunit;
using Kiel.Protocol;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;
using static Kiel.Tests.Records.RecordTestKit;

namespace Kiel.Tests.Records;

public class LegacyMessageSetTests
{
    private static readonly CompressionType[] LegacyCodecs =
        [CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4];

    [Property(MaxTest = 40)]
    public void EveryMagicAndCodecRoundTrips(int seed)
    {
        var records = RandomRecords(seed, headers: false);
        foreach (byte magic in new byte[] { 0, 1 })
        foreach (var codec in LegacyCodecs)
        {
            var set = BuildLegacy(magic, records, codec, baseOffset: 500);
            Assert.Equal(Expected(records, 500, magic), ReadAll(set));
        }
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    public void MagicOneWrapperOffsetsAreRelativeToTheLastInnerMessage(CompressionType codec)
    {
        var records = RandomRecords(11, headers: false).Take(3).ToList();
        while (records.Count < 3) records.Add(records[0]);
        var set = BuildLegacy(1, records, codec);
        // The broker rewrites the wrapper offset to the absolute offset of the last inner message.
        BinaryPrimitives.WriteInt64BigEndian(set, 102);
        var read = ReadAll(set);
        Assert.Equal([100L, 101L, 102L], read.Select(r => r.Offset));

        using var reader = new RecordSetReader(set);
        Assert.True(reader.MoveNextBatch());
        Assert.Equal(100, reader.CurrentBatch.BaseOffset);
        Assert.Equal(102, reader.CurrentBatch.LastOffset);
        Assert.Equal(3, reader.CurrentBatch.RecordCount);
        Assert.Equal(codec, reader.CurrentBatch.Compression);
    }

    [Fact]
    public void MagicZeroInnerOffsetsAreAbsolute()
    {
        var records = RandomRecords(5, headers: false);
        var set = BuildLegacy(0, records, CompressionType.Gzip, baseOffset: 7000);
        Assert.Equal(Enumerable.Range(7000, records.Count).Select(i => (long)i), ReadAll(set).Select(r => r.Offset));
    }

    [Fact]
    public void CompressedWrapperSkipsInnerMessagesBelowTheMinimumOffset()
    {
        // Kiel redelivered these (L18).
        var records = Enumerable.Range(0, 10).Select(i => new TestRecord(i, null, [(byte)i], [])).ToList();
        var set = BuildLegacy(1, records, CompressionType.Snappy);
        BinaryPrimitives.WriteInt64BigEndian(set, 109);
        Assert.Equal([105L, 106L, 107L, 108L, 109L], ReadAll(set, 105).Select(r => r.Offset));
        Assert.Empty(ReadAll(set, 110));
    }

    [Fact]
    public void LogAppendTimeWrapperGivesInnerMessagesItsTimestamp()
    {
        var records = Enumerable.Range(0, 3).Select(i => new TestRecord(1000 + i, null, [(byte)i], [])).ToList();
        var set = BuildLegacy(1, records, CompressionType.Gzip);
        set[17] |= 0x08;
        BinaryPrimitives.WriteInt64BigEndian(set.AsSpan(18), 99_999);
        BinaryPrimitives.WriteUInt32BigEndian(set.AsSpan(12), System.IO.Hashing.Crc32.HashToUInt32(set.AsSpan(16)));
        Assert.All(ReadAll(set), r => Assert.Equal((99_999L, TimestampType.LogAppendTime), (r.Timestamp, r.TimestampType)));
    }

    [Fact]
    public void PartialMessageAtTheEndIsDroppedNotOverrun()
    {
        // Kiel read past the declared set into the next partition's bytes (L16).
        var records = RandomRecords(2, maxCount: 5, headers: false);
        while (records.Count < 2) records.Add(records[0]);
        var set = BuildLegacy(1, records);
        for (var cut = 1; cut < set.Length; cut++)
        {
            var read = ReadAll(set.AsSpan(0, cut));
            Assert.True(read.Count < records.Count);
            Assert.Equal(Expected(records, 0, 1).Take(read.Count), read);
        }
        Assert.Throws<KafkaProtocolException>(() => ReadAll(set.AsSpan(0, set.Length - 1), options: new RecordReaderOptions { AllowTruncatedTail = false }));
    }

    [Fact]
    public void BadCrcIsRejectedUnlessCheckingIsOff()
    {
        var set = BuildLegacy(0, [new TestRecord(0, "k"u8.ToArray(), "v"u8.ToArray(), [])]);
        set[^1] ^= 0xFF;
        var ex = Assert.Throws<CorruptRecordException>(() => ReadAll(set));
        Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(set.AsSpan(RecordBatchHeader.LegacyCrcOffset)), ex.ExpectedCrc);
        Assert.Equal(System.IO.Hashing.Crc32.HashToUInt32(set.AsSpan(RecordBatchHeader.MagicOffset)), ex.ActualCrc);
        Assert.Throws<CorruptRecordException>(() => ConsumerPath.Read(set));
        Assert.Single(ConsumerPath.Read(set, checkCrcs: false));
        Assert.Single(ReadAll(set, options: new RecordReaderOptions { VerifyCrc = false }));
    }

    [Fact]
    public void MixedFormatsInOneSetAreAllRead()
    {
        var a = BuildLegacy(0, [new TestRecord(0, null, [1], [])], baseOffset: 0);
        var b = BuildLegacy(1, [new TestRecord(5, null, [2], [])], CompressionType.Gzip, baseOffset: 1);
        var c = BuildBatch([new TestRecord(6, null, [3], [])]);
        RecordBatch.SetBaseOffset(c, 2);
        var read = ReadAll([.. a, .. b, .. c]);
        Assert.Equal([0L, 1L, 2L], read.Select(r => r.Offset));
        Assert.Equal([1, 2, 3], read.Select(r => (int)r.Value![0]));
    }

    [Fact]
    public void NestedCompressionIsRejected()
    {
        var inner = BuildLegacy(1, [new TestRecord(0, null, [1], [])], CompressionType.Gzip);
        using var compressed = new PooledBufferWriter();
        CompressionCodec.Compress(CompressionType.Gzip, inner, compressed, magic: 1);
        var wrapper = BuildWrapper(1, 1, compressed.WrittenSpan.ToArray());
        var ex = Assert.Throws<KafkaProtocolException>(() => ReadAll(wrapper));
        Assert.Equal("Attributes", ex.Field);
    }

    [Fact]
    public void ZstdIsNotALegacyCodec()
    {
        var wrapper = BuildWrapper(1, 4, [1, 2, 3]);
        Assert.Throws<KafkaProtocolException>(() => ReadAll(wrapper));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LegacyMessageSetBuilder(1, CompressionType.Zstd));
    }

    internal static byte[] BuildWrapper(byte magic, byte attributes, byte[] value)
    {
        var size = 4 + 1 + 1 + (magic == 1 ? 8 : 0) + 4 + 4 + value.Length;
        var b = new byte[12 + size];
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), size);
        b[16] = magic;
        b[17] = attributes;
        var p = 18 + (magic == 1 ? 8 : 0);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(p), -1);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(p + 4), value.Length);
        value.CopyTo(b, p + 8);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(12), System.IO.Hashing.Crc32.HashToUInt32(b.AsSpan(16)));
        return b;
    }
}
