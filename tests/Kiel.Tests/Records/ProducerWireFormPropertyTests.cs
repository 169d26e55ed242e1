using FsCheck.Xunit;
using Kiel.Producing.Internal;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;
using static Kiel.Tests.Records.RecordTestKit;

namespace Kiel.Tests.Records;

/// <summary>
/// The producer's write path (records in their wire form at append, then finished in place, compressed, written as an
/// old message set, or split) against random records, read back by the consumer's reader, and against the general
/// record-batch builder, an encoder written apart from it.
/// </summary>
public class ProducerWireFormPropertyTests
{
    [Property(MaxTest = 60)]
    public void AnUncompressedBatchFinishedInPlaceIsTheBuildersBatch(int seed)
    {
        var records = RandomRecords(seed);
        using var arena = AppendToArena(records);
        BatchEncoder.FinishInPlace(arena.MutableSpan, records.Count, ProducerIdentity.None, 0);
        Assert.Equal(Convert.ToHexString(BuildBatch(records)), Convert.ToHexString(arena.Span));
        Assert.Equal(Expected(records, 0, 2), ReadAll(arena.Span));
    }

    [Property(MaxTest = 40)]
    public void EveryFormatReadsBackTheRecordsAppended(int seed)
    {
        var records = RandomRecords(seed);
        using var arena = AppendToArena(records);
        using var output = new RecordArena(64);
        using var scratch = new RecordArena(64);
        foreach (var codec in AllCodecs)
        {
            if (codec != CompressionType.None)
            {
                BatchEncoder.EncodeCompressedV2(arena.Span, records.Count, codec, null, new ProducerIdentity(7, 1), 3, output);
                Assert.Equal(Expected(records, 0, 2), ReadAll(output.Span));
                var header = RecordBatchHeader.Read(output.Span);
                Assert.Equal((records[0].Timestamp, records.Max(r => r.Timestamp), 7L, (short)1, 3), (header.BaseTimestamp, header.MaxTimestamp, header.ProducerId, header.ProducerEpoch, header.BaseSequence));
            }
            if (codec == CompressionType.Zstd) continue; // no zstd before magic 2
            foreach (var magic in new byte[] { 0, 1 })
            {
                BatchEncoder.EncodeLegacy(arena.Span, records.Count, magic, codec, null, output, scratch);
                Assert.Equal(Expected(records, 0, magic), ReadAll(output.Span));
            }
        }
    }

    [Property(MaxTest = 60)]
    public void CopiedRecordsMakeTwoBatchesOfTheirOwn(int seed)
    {
        // A split (MESSAGE_TOO_LARGE): each half re-based, offset deltas from 0 and timestamp deltas from its first record.
        var records = RandomRecords(seed, maxCount: 30);
        var at = new Random(seed).Next(0, records.Count + 1);
        using var arena = AppendToArena(records);
        using var first = new RecordArena(64);
        using var second = new RecordArena(64);
        var span = arena.Span;
        var baseTs = BatchEncoder.BaseTimestamp(span);
        var pos = BatchEncoder.FirstRecord;
        for (var i = 0; i < records.Count; i++)
        {
            pos = BatchEncoder.ReadRecord(span, pos, out var e);
            Assert.Equal(records[i].Key is null, e.KeyIsNull);
            Assert.Equal(records[i].Value is null, e.ValueIsNull);
            Assert.Equal(records[i].Timestamp, baseTs + e.TimestampDelta);
            BatchEncoder.CopyRecord(i < at ? first : second, i < at ? i : i - at, baseTs + e.TimestampDelta, e.Rest);
        }
        Assert.Equal(span.Length, pos);
        foreach (var (half, part) in new[] { (first, records.Take(at).ToList()), (second, records.Skip(at).ToList()) })
        {
            if (part.Count == 0) { Assert.Equal(0, half.Length); continue; }
            BatchEncoder.FinishInPlace(half.MutableSpan, part.Count, ProducerIdentity.None, 0);
            Assert.Equal(Convert.ToHexString(BuildBatch(part)), Convert.ToHexString(half.Span));
        }
    }
}
