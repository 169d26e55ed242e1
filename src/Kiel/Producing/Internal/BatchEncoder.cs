using System.Buffers.Binary;
using System.Text;
using Kiel.Protocol;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;

namespace Kiel.Producing.Internal;

/// <summary>
/// A batch's records are written at append in their magic 2 wire form, after a reserved record-batch header: an
/// uncompressed batch for a magic 2 broker is then sent from its own buffer once the header is filled in
/// (<see cref="FinishInPlace"/>), with no copy. A compressed batch compresses those records into a wire arena; a
/// broker of an older format gets a message set written from them (<see cref="EncodeLegacy"/>), and MESSAGE_TOO_LARGE
/// splits them (<see cref="CopyRecord"/>). The layouts themselves are <see cref="RecordBatchWriter"/>'s.
/// </summary>
/// <remarks>Until the batch is finished its header holds only the base and maximum timestamps (the first record's, and
/// the largest so far); records' offset deltas are their index in the batch, their timestamp deltas from the base.</remarks>
internal static class BatchEncoder
{
    /// <summary>The bytes a magic 2 batch adds to its records.</summary>
    public const int V2HeaderSize = RecordBatchHeader.Size;

    /// <summary>
    /// Appends one record to a batch under construction (reserving its header first when it is empty), as record
    /// number <paramref name="offsetDelta"/> of the batch.
    /// </summary>
    public static void AppendRecord(RecordArena arena, int offsetDelta, long timestamp, ReadOnlySpan<byte> key, bool keyIsNull,
        ReadOnlySpan<byte> value, bool valueIsNull, Headers? headers, bool streamValue = false)
    {
        long baseTs;
        if (arena.Length == 0)
        {
            RecordBatchWriter.BeginBatch(arena);
            baseTs = timestamp;
            var h = arena.MutableSpan;
            BinaryPrimitives.WriteInt64BigEndian(h[RecordBatchHeader.BaseTimestampOffset..], timestamp);
            BinaryPrimitives.WriteInt64BigEndian(h[RecordBatchHeader.MaxTimestampOffset..], timestamp);
        }
        else
        {
            var h = arena.MutableSpan;
            baseTs = BinaryPrimitives.ReadInt64BigEndian(h[RecordBatchHeader.BaseTimestampOffset..]);
            if (timestamp > BinaryPrimitives.ReadInt64BigEndian(h[RecordBatchHeader.MaxTimestampOffset..]))
                BinaryPrimitives.WriteInt64BigEndian(h[RecordBatchHeader.MaxTimestampOffset..], timestamp);
        }
        var keyLen = keyIsNull ? -1 : key.Length;
        var valueLen = valueIsNull ? -1 : value.Length;
        var headerCount = headers?.Count ?? 0;
        var headersSize = 0;
        for (var i = 0; i < headerCount; i++)
        {
            var h = headers![i];
            headersSize += RecordBatchWriter.HeaderSize(Encoding.UTF8.GetByteCount(h.Key), h.Value is { } v ? v.Length : -1);
        }
        var tsDelta = timestamp - baseTs;
        var body = RecordBatchWriter.RecordBodySize(tsDelta, offsetDelta, keyLen, valueLen, headerCount, headersSize);
        var size = RecordBatchWriter.RecordSize(body);
        var s = arena.GetSpan(size)[..size];
        var p = RecordBatchWriter.WriteRecordStart(s, body, tsDelta, offsetDelta, key, keyLen, value, valueLen, headerCount, streamValue);
        for (var i = 0; i < headerCount; i++)
        {
            var h = headers![i];
            var n = Encoding.UTF8.GetByteCount(h.Key);
            p += VarInt.WriteVarInt(s[p..], n);
            p += Encoding.UTF8.GetBytes(h.Key, s[p..]);
            p += h.Value is { } v ? RecordBatchWriter.WriteBytes(s[p..], v.Span, v.Length) : VarInt.WriteVarInt(s[p..], -1);
        }
        if (p != size) throw new InvalidOperationException($"A record was sized at {size} bytes but written in {p}.");
        arena.Advance(size);
    }

    /// <summary>The first record's timestamp of a batch under construction.</summary>
    public static long BaseTimestamp(ReadOnlySpan<byte> batch) => BinaryPrimitives.ReadInt64BigEndian(batch[RecordBatchHeader.BaseTimestampOffset..]);

    /// <summary>The largest record timestamp of a batch under construction.</summary>
    public static long MaxTimestamp(ReadOnlySpan<byte> batch) => BinaryPrimitives.ReadInt64BigEndian(batch[RecordBatchHeader.MaxTimestampOffset..]);

    /// <summary>
    /// Fills in the header of an uncompressed batch under construction and its CRC, making it the wire form
    /// (again after a leader with another format, or a new producer identity, only the header changes).
    /// </summary>
    public static void FinishInPlace(Span<byte> batch, int count, ProducerIdentity producer, int baseSequence, bool transactional = false) =>
        RecordBatchWriter.FinishBatch(batch, transactional ? RecordBatchHeader.TransactionalFlag : (short)0, count,
            BaseTimestamp(batch), MaxTimestamp(batch), producer.ProducerId, producer.Epoch, producer.ProducerId < 0 ? -1 : baseSequence);

    /// <summary>
    /// Writes a compressed record batch v2 of a batch under construction into <paramref name="output"/> (cleared first):
    /// its records compressed as they are. A transactional producer's batch has the transactional attribute.
    /// </summary>
    public static void EncodeCompressedV2(ReadOnlySpan<byte> batch, int count, CompressionType compression, int? level,
        ProducerIdentity producer, int baseSequence, RecordArena output, bool transactional = false)
    {
        if (compression == CompressionType.None) throw new ArgumentException("An uncompressed batch is finished in place.", nameof(compression));
        output.Truncate(0);
        RecordBatchWriter.BeginBatch(output);
        CompressionCodec.Compress(compression, batch[V2HeaderSize..], output, level, magic: 2);
        RecordBatchWriter.FinishBatch(output.MutableSpan,
            (short)((int)compression | (transactional ? RecordBatchHeader.TransactionalFlag : 0)), count,
            BaseTimestamp(batch), MaxTimestamp(batch), producer.ProducerId, producer.Epoch, producer.ProducerId < 0 ? -1 : baseSequence);
    }

    /// <summary>Rewrites the producer id, epoch and base sequence of an encoded v2 batch and its CRC (a retry after an epoch bump).</summary>
    public static void Stamp(Span<byte> batch, ProducerIdentity producer, int baseSequence) =>
        RecordBatch.SetProducerState(batch, producer.ProducerId, producer.Epoch, producer.ProducerId < 0 ? -1 : baseSequence);

    /// <summary>One record of a batch under construction; spans point into the batch.</summary>
    public ref struct Entry
    {
        public long TimestampDelta;
        public ReadOnlySpan<byte> Key;
        public bool KeyIsNull;
        public ReadOnlySpan<byte> Value;
        public bool ValueIsNull;
        /// <summary>From the key's length to the record's end: what a copy of the record under a new base keeps.</summary>
        public ReadOnlySpan<byte> Rest;
    }

    /// <summary>The position of a batch under construction's first record.</summary>
    public const int FirstRecord = V2HeaderSize;

    /// <summary>Reads the record at <paramref name="position"/> of a batch under construction; returns the position of the next.</summary>
    public static int ReadRecord(ReadOnlySpan<byte> batch, int position, out Entry entry)
    {
        entry = default;
        var p = position;
        var length = ReadVarInt(batch, ref p);
        var end = p + length;
        var record = batch[..end];
        p++; // attributes
        entry.TimestampDelta = ReadVarLong(record, ref p);
        ReadVarInt(record, ref p); // offset delta
        var restStart = p;
        var kl = ReadVarInt(record, ref p);
        entry.KeyIsNull = kl < 0;
        if (kl > 0) { entry.Key = record.Slice(p, kl); p += kl; }
        var vl = ReadVarInt(record, ref p);
        entry.ValueIsNull = vl < 0;
        if (vl > 0) { entry.Value = record.Slice(p, vl); p += vl; }
        entry.Rest = record[restStart..end];
        return end;
    }

    /// <summary>Appends a record read from another batch under construction as record <paramref name="offsetDelta"/>
    /// of <paramref name="target"/> with timestamp <paramref name="timestamp"/> (a split's halves).</summary>
    public static void CopyRecord(RecordArena target, int offsetDelta, long timestamp, ReadOnlySpan<byte> rest)
    {
        long baseTs;
        if (target.Length == 0)
        {
            RecordBatchWriter.BeginBatch(target);
            baseTs = timestamp;
            var h = target.MutableSpan;
            BinaryPrimitives.WriteInt64BigEndian(h[RecordBatchHeader.BaseTimestampOffset..], timestamp);
            BinaryPrimitives.WriteInt64BigEndian(h[RecordBatchHeader.MaxTimestampOffset..], timestamp);
        }
        else
        {
            var h = target.MutableSpan;
            baseTs = BaseTimestamp(h);
            if (timestamp > MaxTimestamp(h)) BinaryPrimitives.WriteInt64BigEndian(h[RecordBatchHeader.MaxTimestampOffset..], timestamp);
        }
        var tsDelta = timestamp - baseTs;
        var body = 1 + VarInt.SizeOfVarLong(tsDelta) + VarInt.SizeOfVarInt(offsetDelta) + rest.Length;
        var size = RecordBatchWriter.RecordSize(body);
        var s = target.GetSpan(size);
        var p = VarInt.WriteVarInt(s, body);
        s[p++] = 0;
        p += VarInt.WriteVarLong(s[p..], tsDelta);
        p += VarInt.WriteVarInt(s[p..], offsetDelta);
        rest.CopyTo(s[p..]);
        target.Advance(p + rest.Length);
    }

    private static int ReadVarInt(ReadOnlySpan<byte> s, ref int p)
    {
        var n = VarInt.TryReadUnsigned(s[p..], out uint u);
        if (n <= 0) throw new InvalidOperationException("A producer batch's record is malformed (a varint at " + p + ").");
        p += n;
        return VarInt.UnZigZag(u);
    }

    private static long ReadVarLong(ReadOnlySpan<byte> s, ref int p)
    {
        var n = VarInt.TryReadUnsigned(s[p..], out ulong u);
        if (n <= 0) throw new InvalidOperationException("A producer batch's record is malformed (a varint at " + p + ").");
        p += n;
        return VarInt.UnZigZag(u);
    }

    /// <summary>Writes a magic 0 or 1 message set of a batch under construction (headers are dropped: these formats
    /// have none). Compressed sets are one wrapper message whose value is the compressed inner set.</summary>
    public static void EncodeLegacy(ReadOnlySpan<byte> batch, int count, byte magic, CompressionType compression, int? level,
        RecordArena output, RecordArena scratch)
    {
        output.Truncate(0);
        if (compression == CompressionType.None)
        {
            WriteLegacyMessages(batch, count, magic, output, out _);
            return;
        }
        scratch.Truncate(0);
        WriteLegacyMessages(batch, count, magic, scratch, out var maxTs);
        using var compressed = new RecordArena(scratch.Length / 2 + 64);
        CompressionCodec.Compress(compression, scratch.Span, compressed, level, magic);
        // The wrapper's offset is the last inner offset; with magic 1 inner offsets are relative (0..n-1).
        RecordBatchWriter.WriteLegacyEntry(output, count - 1, magic, (byte)compression, maxTs, [], -1, compressed.Span, compressed.Length);
    }

    private static void WriteLegacyMessages(ReadOnlySpan<byte> batch, int count, byte magic, RecordArena o, out long maxTs)
    {
        maxTs = -1;
        if (count == 0) return;
        var baseTs = BaseTimestamp(batch);
        var pos = FirstRecord;
        for (var i = 0; i < count; i++)
        {
            pos = ReadRecord(batch, pos, out var e);
            var ts = baseTs + e.TimestampDelta;
            if (ts > maxTs) maxTs = ts;
            RecordBatchWriter.WriteLegacyEntry(o, i, magic, 0, ts, e.Key, e.KeyIsNull ? -1 : e.Key.Length,
                e.Value, e.ValueIsNull ? -1 : e.Value.Length);
        }
    }
}
