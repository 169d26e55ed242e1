using FsCheck.Xunit;
using Kiel.Protocol;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;
using static Kiel.Tests.Records.RecordTestKit;

namespace Kiel.Tests.Records;

using RecordHeader = Kiel.Protocol.Records.RecordHeader;

public class RecordBatchRoundTripTests
{
    [Property(MaxTest = 60)]
    public void EveryCodecRoundTrips(int seed)
    {
        var records = RandomRecords(seed);
        foreach (var codec in AllCodecs)
        {
            var batch = BuildBatch(records, codec);
            var read = ReadAll(batch);
            Assert.Equal(Expected(records, 0, 2), read);

            using var reader = new RecordSetReader(batch);
            Assert.True(reader.MoveNextBatch());
            Assert.Equal(codec, reader.CurrentBatch.Compression);
            Assert.Equal(records.Count, reader.CurrentBatch.RecordCount);
            Assert.Equal(records.Count - 1, reader.CurrentBatch.LastOffsetDelta);
            Assert.Equal(records[0].Timestamp, reader.CurrentBatch.BaseTimestamp);
            Assert.Equal(records.Max(r => r.Timestamp), reader.CurrentBatch.MaxTimestamp);
        }
    }

    [Property(MaxTest = 30)]
    public void ConcatenatedBatchesAreReadInOrderAndMinOffsetSkips(int seed)
    {
        var random = new Random(seed);
        var set = new List<byte>();
        var expected = new List<ReadRecord>();
        long offset = random.Next(0, 1000);
        for (var b = 0; b < 4; b++)
        {
            var records = RandomRecords(seed * 31 + b, maxCount: 8);
            var batch = BuildBatch(records, AllCodecs[random.Next(AllCodecs.Length)]);
            RecordBatch.SetBaseOffset(batch, offset);
            set.AddRange(batch);
            expected.AddRange(Expected(records, offset, 2));
            offset += records.Count;
        }
        var bytes = set.ToArray();
        Assert.Equal(expected, ReadAll(bytes));
        var min = expected[random.Next(expected.Count)].Offset;
        Assert.Equal(expected.Where(r => r.Offset >= min).ToList(), ReadAll(bytes, min));
    }

    [Fact]
    public void LargeBatchesCrossCodecBlockBoundaries()
    {
        var records = Enumerable.Range(0, 3000)
            .Select(i => new TestRecord(1_700_000_000_000 + i, BitConverter.GetBytes(i), new byte[100 + i % 50], []))
            .ToList();
        foreach (var codec in AllCodecs)
            Assert.Equal(Expected(records, 0, 2), ReadAll(BuildBatch(records, codec)));
    }

    [Theory]
    [InlineData(CompressionType.Gzip, 1)]
    [InlineData(CompressionType.Gzip, 9)]
    [InlineData(CompressionType.Lz4, 9)]
    [InlineData(CompressionType.Lz4, 12)]
    [InlineData(CompressionType.Zstd, 1)]
    [InlineData(CompressionType.Zstd, 19)]
    [InlineData(CompressionType.Zstd, -5)]
    public void CompressionLevelsAreHonoured(CompressionType codec, int level)
    {
        var records = RandomRecords(7, 50);
        Assert.Equal(Expected(records, 0, 2), ReadAll(BuildBatch(records, codec, level)));
    }

    [Fact]
    public void InvalidLevelsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecordBatchBuilder(CompressionType.Gzip, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecordBatchBuilder(CompressionType.Zstd, 23));
        Assert.NotNull(CompressionCodec.ValidateLevel(CompressionType.Lz4, 18));
        Assert.Null(CompressionCodec.ValidateLevel(CompressionType.Snappy, 5));
    }

    [Fact]
    public void ProducerStateCanBeSetAfterSealing()
    {
        using var builder = new RecordBatchBuilder(CompressionType.Lz4);
        builder.Append(1, "k"u8, "v"u8);
        builder.Append(2, "k"u8, "w"u8);
        builder.Seal();
        builder.SetProducerState(4711, 3, int.MaxValue - 1, transactional: true);
        using var reader = new RecordSetReader(builder.Seal().Span);
        Assert.True(reader.MoveNextBatch());
        Assert.Equal(4711, reader.CurrentBatch.ProducerId);
        Assert.Equal(3, reader.CurrentBatch.ProducerEpoch);
        Assert.Equal(int.MaxValue - 1, reader.CurrentBatch.BaseSequence);
        Assert.True(reader.CurrentBatch.IsTransactional);
        Assert.True(reader.CurrentBatch.HasProducerId);
        Assert.Equal(2, ReadAll(builder.Seal().Span).Count);
    }

    [Fact]
    public void ProducerStateSetBeforeSealingIsWritten()
    {
        using var builder = new RecordBatchBuilder();
        builder.SetProducerState(9, 1, 100);
        builder.Append(1, "k"u8, "v"u8);
        var batch = builder.Seal().ToArray();
        var header = RecordBatchHeader.Read(batch);
        Assert.Equal((9L, (short)1, 100, false), (header.ProducerId, header.ProducerEpoch, header.BaseSequence, header.IsTransactional));
    }

    [Fact]
    public void ControlBatchesAreRecognisedAndHiddenByDefault()
    {
        using var data = new RecordBatchBuilder();
        data.SetProducerState(5, 0, 0, transactional: true);
        data.Append(10, "k"u8, "v"u8);
        var dataBatch = data.Seal().ToArray();

        using var marker = new RecordBatchBuilder();
        marker.SetProducerState(5, 0, -1, transactional: true);
        marker.AppendEndTransactionMarker(ControlRecordType.Abort, 42, 11);
        var markerBatch = marker.Seal().ToArray();
        RecordBatch.SetBaseOffset(markerBatch, 1);
        var set = dataBatch.Concat(markerBatch).ToArray();

        Assert.Single(ReadAll(set));
        Assert.Equal(2, ReadAll(set, options: new RecordReaderOptions { IncludeControlRecords = true }).Count);

        using var reader = new RecordSetReader(set);
        Assert.True(reader.MoveNextBatch());
        Assert.False(reader.CurrentBatch.IsControl);
        Assert.True(reader.MoveNextBatch());
        Assert.True(reader.CurrentBatch.IsControl);
        Assert.True(reader.CurrentBatch.IsTransactional);
        Assert.True(reader.MoveNextRecord());
        Assert.Equal(ControlRecordType.Abort, ControlRecord.ReadType(reader.Current.Key));
        Assert.Equal(42, ControlRecord.ReadCoordinatorEpoch(reader.Current.Value));
        Assert.Equal(1, reader.Current.Offset);
    }

    [Fact]
    public void LogAppendTimeGivesEveryRecordTheBatchMaxTimestamp()
    {
        var batch = BuildBatch(RandomRecords(3, 5));
        var attributes = (short)(System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(batch.AsSpan(21)) | RecordBatchHeader.TimestampTypeFlag);
        System.Buffers.Binary.BinaryPrimitives.WriteInt16BigEndian(batch.AsSpan(21), attributes);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(batch.AsSpan(35), 1234);
        RecordBatch.UpdateCrc(batch);
        Assert.All(ReadAll(batch), r => Assert.Equal((1234L, TimestampType.LogAppendTime), (r.Timestamp, r.TimestampType)));
    }

    [Fact]
    public void EmptyBatchesAreReturnedByBatchButHaveNoRecords()
    {
        using var builder = new RecordBatchBuilder();
        var batch = builder.Seal().ToArray();
        using var reader = new RecordSetReader(batch);
        Assert.True(reader.MoveNextBatch());
        Assert.Equal(0, reader.CurrentBatch.RecordCount);
        Assert.False(reader.MoveNextRecord());
        Assert.Empty(ReadAll(batch));
    }

    [Fact]
    public void TryAppendRefusesPastTheLimitButTakesTheFirstRecord()
    {
        using var builder = new RecordBatchBuilder(maxBatchBytes: 200);
        Assert.True(builder.TryAppend(1, default, new byte[500]));
        Assert.False(builder.TryAppend(1, default, new byte[10]));
        builder.Reset();
        Assert.True(builder.TryAppend(1, default, new byte[10]));
        Assert.True(builder.TryAppend(1, default, new byte[10]));
        Assert.Equal(2, ReadAll(builder.Seal().Span).Count);
        Assert.Throws<InvalidOperationException>(() => builder.Append(1, default, default));
    }

    [Fact]
    public void BuilderIsReusableAfterReset()
    {
        using var builder = new RecordBatchBuilder(CompressionType.Zstd);
        for (var round = 0; round < 3; round++)
        {
            builder.Reset();
            var records = RandomRecords(round);
            foreach (var r in records)
                builder.Append(r.Timestamp, r.Key, r.Value, r.Headers.Select(h => new RecordHeader(h.Key, h.Value)).ToArray(), r.Key is null, r.Value is null);
            Assert.Equal(Expected(records, 0, 2), ReadAll(builder.Seal().Span));
        }
    }

    [Fact]
    public void AppendingAllocatesNothingPerRecord()
    {
        using var builder = new RecordBatchBuilder(maxBatchBytes: int.MaxValue);
        var value = new byte[100];
        RecordHeader[] headers = [new("trace", new byte[8])];
        for (var i = 0; i < 2000; i++) builder.Append(i, "key"u8, value, headers);
        builder.Seal(); // first use builds the CRC tables once
        builder.Reset();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 2000; i++) builder.Append(i, "key"u8, value, headers);
        var batch = builder.Seal();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1024, $"{allocated} bytes allocated for 2000 records");

        before = GC.GetAllocatedBytesForCurrentThread();
        var count = 0;
        var reader = new RecordSetReader(batch.Span);
        while (reader.MoveNext()) count += reader.Current.Value.Length > 0 ? 1 : 0;
        reader.Dispose();
        allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(2000, count);
        Assert.True(allocated < 1024, $"{allocated} bytes allocated iterating 2000 records");
    }

    [Fact]
    public void ReadingSealedMemoryAfterResetIsNotAllowedToCorruptAnything()
    {
        using var builder = new RecordBatchBuilder();
        builder.Append(1, "a"u8, "b"u8);
        Assert.True(builder.IsSealed is false);
        builder.Seal();
        Assert.Throws<InvalidOperationException>(() => builder.Append(1, "a"u8, "b"u8));
    }

    [Fact]
    public void UnknownCodecIsRejected()
    {
        var batch = BuildBatch(RandomRecords(1, 3));
        batch[22] |= 0x05;
        RecordBatch.UpdateCrc(batch);
        var ex = Assert.Throws<KafkaProtocolException>(() => ReadAll(batch));
        Assert.Equal("Attributes", ex.Field);
    }
}
