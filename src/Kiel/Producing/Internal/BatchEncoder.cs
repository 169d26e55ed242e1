using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;

namespace Kiel.Producing.Internal;

/// <summary>
/// Encodes a batch's records (<see cref="RecordArena"/> entries) as a magic 2 record batch or a magic 0/1 message set,
/// through the records layer's <see cref="RecordBatchWriter"/>: this class only walks the arena.
/// </summary>
internal static class BatchEncoder
{
    /// <summary>The bytes a magic 2 batch adds to its records.</summary>
    public const int V2HeaderSize = RecordBatchHeader.Size;

    /// <summary>Writes a record batch v2 into <paramref name="output"/> (cleared first); a transactional producer's batch has the transactional attribute.</summary>
    public static void EncodeV2(ReadOnlySpan<byte> arena, int count, CompressionType compression, int? level,
        ProducerIdentity producer, int baseSequence, RecordArena output, RecordArena? scratch, bool transactional = false)
    {
        output.Truncate(0);
        RecordBatchWriter.BeginBatch(output);

        long baseTs = 0, maxTs = long.MinValue;
        // The records go straight to the output when not compressed (scratch may be null then), else through scratch.
        if (compression != CompressionType.None && scratch is null) throw new ArgumentNullException(nameof(scratch), "a compressed batch needs a scratch arena");
        var target = compression == CompressionType.None ? output : scratch!;
        if (compression != CompressionType.None) target.Truncate(0);
        var pos = 0;
        for (var i = 0; i < count; i++)
        {
            pos = RecordArena.Read(arena, pos, out var e);
            if (i == 0) baseTs = e.Timestamp;
            if (e.Timestamp > maxTs) maxTs = e.Timestamp;
            WriteRecordV2(target, ref e, e.Timestamp - baseTs, i);
        }
        if (count == 0) maxTs = baseTs;
        if (compression != CompressionType.None)
            CompressionCodec.Compress(compression, target.Span, output, level, magic: 2);

        RecordBatchWriter.FinishBatch(output.MutableSpan,
            (short)((int)compression | (transactional ? RecordBatchHeader.TransactionalFlag : 0)), count, baseTs, maxTs,
            producer.ProducerId, producer.Epoch, producer.ProducerId < 0 ? -1 : baseSequence);
    }

    /// <summary>Rewrites the producer id, epoch and base sequence of an encoded v2 batch and its CRC (a retry after an epoch bump).</summary>
    public static void Stamp(Span<byte> batch, ProducerIdentity producer, int baseSequence) =>
        RecordBatch.SetProducerState(batch, producer.ProducerId, producer.Epoch, producer.ProducerId < 0 ? -1 : baseSequence);

    private static void WriteRecordV2(RecordArena o, ref RecordArena.Entry e, long timestampDelta, int offsetDelta)
    {
        var keyLen = e.KeyIsNull ? -1 : e.Key.Length;
        var valueLen = e.ValueIsNull ? -1 : e.Value.Length;
        var headersSize = 0;
        var hp = 0;
        for (var i = 0; i < e.HeaderCount; i++)
        {
            hp = RecordArena.ReadHeader(e.Headers, hp, out var hk, out _, out var hvLength);
            headersSize += RecordBatchWriter.HeaderSize(hk.Length, hvLength);
        }
        var body = RecordBatchWriter.RecordBodySize(timestampDelta, offsetDelta, keyLen, valueLen, e.HeaderCount, headersSize);
        var s = o.GetSpan(RecordBatchWriter.RecordSize(body));
        var p = RecordBatchWriter.WriteRecordStart(s, body, timestampDelta, offsetDelta, e.Key, keyLen, e.Value, valueLen, e.HeaderCount);
        hp = 0;
        for (var i = 0; i < e.HeaderCount; i++)
        {
            hp = RecordArena.ReadHeader(e.Headers, hp, out var hk, out var hv, out var hvLength);
            p += RecordBatchWriter.WriteHeader(s[p..], hk, hv, hvLength);
        }
        o.Advance(p);
    }

    /// <summary>Writes a magic 0 or 1 message set (headers are dropped: these formats have none).
    /// Compressed sets are one wrapper message whose value is the compressed inner set.</summary>
    public static void EncodeLegacy(ReadOnlySpan<byte> arena, int count, byte magic, CompressionType compression, int? level,
        RecordArena output, RecordArena scratch)
    {
        output.Truncate(0);
        if (compression == CompressionType.None)
        {
            WriteLegacyMessages(arena, count, magic, output, out _);
            return;
        }
        scratch.Truncate(0);
        WriteLegacyMessages(arena, count, magic, scratch, out var maxTs);
        using var compressed = new RecordArena(scratch.Length / 2 + 64);
        CompressionCodec.Compress(compression, scratch.Span, compressed, level, magic);
        // The wrapper's offset is the last inner offset; with magic 1 inner offsets are relative (0..n-1).
        RecordBatchWriter.WriteLegacyEntry(output, count - 1, magic, (byte)compression, maxTs, [], -1, compressed.Span, compressed.Length);
    }

    private static void WriteLegacyMessages(ReadOnlySpan<byte> arena, int count, byte magic, RecordArena o, out long maxTs)
    {
        maxTs = -1;
        var pos = 0;
        for (var i = 0; i < count; i++)
        {
            pos = RecordArena.Read(arena, pos, out var e);
            if (e.Timestamp > maxTs) maxTs = e.Timestamp;
            RecordBatchWriter.WriteLegacyEntry(o, i, magic, 0, e.Timestamp, e.Key, e.KeyIsNull ? -1 : e.Key.Length,
                e.Value, e.ValueIsNull ? -1 : e.Value.Length);
        }
    }
}
