using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;
using static Kiel.Tests.Records.RecordTestKit;

namespace Kiel.Tests.Records;

using RecordHeader = Kiel.Protocol.Records.RecordHeader;

/// <summary>Byte-exact checks against the vectors in GUIDE.md §18 (cross-checked there with kafka-python 2.0.2).</summary>
public class RecordBatchVectorTests
{
    private const long Ts = 1700000000000;

    private static readonly byte[] GuideBatch = Hex("""
        00 00 00 00 00 00 00 00  00 00 00 3a  ff ff ff ff  02  bb cc 41 15
        00 00  00 00 00 00  00 00 01 8b cf e5 68 00  00 00 01 8b cf e5 68 00
        ff ff ff ff ff ff ff ff  ff ff  ff ff ff ff  00 00 00 01
        10 00 00 00 01 04 68 69 00
        """);

    [Fact]
    public void BuilderWritesTheGuideBatch()
    {
        using var builder = new RecordBatchBuilder();
        builder.Append(Ts, default, "hi"u8, keyIsNull: true);
        Assert.Equal(Convert.ToHexString(GuideBatch), Convert.ToHexString(builder.Seal().Span));
    }

    [Fact]
    public void ReaderReadsTheGuideBatch()
    {
        using var reader = new RecordSetReader(GuideBatch);
        Assert.True(reader.MoveNextBatch());
        var h = reader.CurrentBatch;
        Assert.Equal(0, h.BaseOffset);
        Assert.Equal(0x3a, h.BatchLength);
        Assert.Equal(-1, h.PartitionLeaderEpoch);
        Assert.Equal(2, h.Magic);
        Assert.Equal(0xbbcc4115u, h.Crc);
        Assert.Equal(CompressionType.None, h.Compression);
        Assert.Equal(TimestampType.CreateTime, h.TimestampType);
        Assert.False(h.IsTransactional);
        Assert.False(h.IsControl);
        Assert.Equal(0, h.LastOffsetDelta);
        Assert.Equal(Ts, h.BaseTimestamp);
        Assert.Equal(Ts, h.MaxTimestamp);
        Assert.Equal(-1, h.ProducerId);
        Assert.Equal(-1, h.ProducerEpoch);
        Assert.Equal(-1, h.BaseSequence);
        Assert.Equal(1, h.RecordCount);
        Assert.Equal(1, h.NextOffset);
        Assert.True(reader.MoveNextRecord());
        var r = reader.Current;
        Assert.True(r.IsKeyNull);
        Assert.Equal("hi"u8.ToArray(), r.Value.ToArray());
        Assert.Equal(Ts, r.Timestamp);
        Assert.Equal(0, r.HeaderCount);
        Assert.False(reader.MoveNextRecord());
        Assert.False(reader.MoveNextBatch());
    }

    [Fact]
    public void KafkaPythonsLeaderEpochOfZeroDoesNotChangeTheCrc()
    {
        var kafkaPython = GuideBatch.ToArray();
        kafkaPython.AsSpan(12, 4).Clear();
        var records = ReadAll(kafkaPython);
        Assert.Single(records);
    }

    [Theory]
    [InlineData(0, "00 00 00 00 00 00 00 00  00 00 00 10  fd 6e bd db  00  00  ff ff ff ff  00 00 00 02 68 69")]
    [InlineData(1, "00 00 00 00 00 00 00 00  00 00 00 18  db a4 e6 e2  01  00  00 00 01 8b cf e5 68 00  ff ff ff ff  00 00 00 02 68 69")]
    public void LegacyMessagesMatchKafkaPython(byte magic, string hex)
    {
        var expected = Hex(hex);
        using var builder = new LegacyMessageSetBuilder(magic);
        builder.Append(Ts, default, "hi"u8, keyIsNull: true);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(builder.Seal().Span));

        var read = Assert.Single(ReadAll(expected));
        Assert.Equal(0, read.Offset);
        Assert.Null(read.Key);
        Assert.Equal("hi"u8.ToArray(), read.Value);
        Assert.Equal(magic == 0 ? -1 : Ts, read.Timestamp);
        Assert.Equal(magic == 0 ? TimestampType.NotAvailable : TimestampType.CreateTime, read.TimestampType);
    }

    [Fact]
    public void HeadersAreWrittenAsVarintLengthPrefixedPairs()
    {
        using var builder = new RecordBatchBuilder();
        builder.Append(Ts, "k"u8, "v"u8, [new RecordHeader("a", new byte[] { 1 }), new RecordHeader("b", null)]);
        var batch = builder.Seal().ToArray();
        // record: length, attr, ts delta, offset delta, key -> 02 'k', value -> 02 'v', 2 headers: 'a'=01, 'b'=null
        var record = batch.AsSpan(RecordBatchHeader.Size).ToArray();
        Assert.Equal("1E000000026B027604026102010262" + "01", Convert.ToHexString(record));
    }
}
