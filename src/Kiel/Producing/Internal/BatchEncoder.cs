using System.Buffers.Binary;
using System.IO.Hashing;
using Kiel.Protocol;
using Kiel.Protocol.Compression;

namespace Kiel.Producing.Internal;

/// <summary>Encodes a batch's records (<see cref="RecordArena"/> entries) as a magic 2 record batch or a magic 0/1 message set.</summary>
internal static class BatchEncoder
{
    public const int V2HeaderSize = 61;
    private const int CrcOffset = 17;
    private const int AttributesOffset = 21;
    private const int ProducerIdOffset = 43;
    private const int ProducerEpochOffset = 51;
    private const int BaseSequenceOffset = 53;

    /// <summary>Writes a record batch v2 into <paramref name="output"/> (cleared first).</summary>
    public static void EncodeV2(ReadOnlySpan<byte> arena, int count, CompressionType compression, int? level,
        ProducerIdentity producer, int baseSequence, RecordArena output, RecordArena scratch)
    {
        output.Truncate(0);
        output.GetSpan(V2HeaderSize)[..V2HeaderSize].Clear();
        output.Advance(V2HeaderSize);

        long baseTs = 0, maxTs = long.MinValue;
        var target = compression == CompressionType.None ? output : scratch;
        if (compression != CompressionType.None) scratch.Truncate(0);
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
            BatchCompression.Compress(compression, level, scratch.Span, output, magic: 2);

        var batch = output.MutableSpan;
        var h = batch;
        BinaryPrimitives.WriteInt64BigEndian(h, 0);
        BinaryPrimitives.WriteInt32BigEndian(h[8..], batch.Length - 12);
        BinaryPrimitives.WriteInt32BigEndian(h[12..], -1);
        h[16] = 2;
        BinaryPrimitives.WriteInt16BigEndian(h[AttributesOffset..], (short)compression);
        BinaryPrimitives.WriteInt32BigEndian(h[23..], count - 1);
        BinaryPrimitives.WriteInt64BigEndian(h[27..], baseTs);
        BinaryPrimitives.WriteInt64BigEndian(h[35..], maxTs);
        BinaryPrimitives.WriteInt32BigEndian(h[57..], count);
        Stamp(batch, producer, baseSequence);
    }

    /// <summary>Rewrites the producer id, epoch and base sequence of an encoded v2 batch and its CRC.</summary>
    public static void Stamp(Span<byte> batch, ProducerIdentity producer, int baseSequence)
    {
        BinaryPrimitives.WriteInt64BigEndian(batch[ProducerIdOffset..], producer.ProducerId);
        BinaryPrimitives.WriteInt16BigEndian(batch[ProducerEpochOffset..], producer.Epoch);
        BinaryPrimitives.WriteInt32BigEndian(batch[BaseSequenceOffset..], producer.ProducerId < 0 ? -1 : baseSequence);
        BinaryPrimitives.WriteUInt32BigEndian(batch[CrcOffset..], Crc32COf(batch[AttributesOffset..]));
    }

    private static void WriteRecordV2(RecordArena o, ref RecordArena.Entry e, long timestampDelta, int offsetDelta)
    {
        var keyLen = e.KeyIsNull ? -1 : e.Key.Length;
        var valueLen = e.ValueIsNull ? -1 : e.Value.Length;
        var body = 1 + VarInt.SizeOfVarLong(timestampDelta) + VarInt.SizeOfVarInt(offsetDelta)
                   + VarInt.SizeOfVarInt(keyLen) + Math.Max(0, keyLen)
                   + VarInt.SizeOfVarInt(valueLen) + Math.Max(0, valueLen)
                   + VarInt.SizeOfVarInt(e.HeaderCount);
        var hp = 0;
        for (var i = 0; i < e.HeaderCount; i++)
        {
            var hk = BinaryPrimitives.ReadInt32LittleEndian(e.Headers[hp..]);
            var hv = BinaryPrimitives.ReadInt32LittleEndian(e.Headers[(hp + 4 + hk)..]);
            body += VarInt.SizeOfVarInt(hk) + hk + VarInt.SizeOfVarInt(hv) + Math.Max(0, hv);
            hp += 8 + hk + Math.Max(0, hv);
        }
        var total = VarInt.SizeOfVarInt(body) + body;
        var s = o.GetSpan(total);
        var p = VarInt.WriteVarInt(s, body);
        s[p++] = 0;
        p += VarInt.WriteVarLong(s[p..], timestampDelta);
        p += VarInt.WriteVarInt(s[p..], offsetDelta);
        p += VarInt.WriteVarInt(s[p..], keyLen);
        if (keyLen > 0) { e.Key.CopyTo(s[p..]); p += keyLen; }
        p += VarInt.WriteVarInt(s[p..], valueLen);
        if (valueLen > 0) { e.Value.CopyTo(s[p..]); p += valueLen; }
        p += VarInt.WriteVarInt(s[p..], e.HeaderCount);
        hp = 0;
        for (var i = 0; i < e.HeaderCount; i++)
        {
            var hk = BinaryPrimitives.ReadInt32LittleEndian(e.Headers[hp..]);
            p += VarInt.WriteVarInt(s[p..], hk);
            e.Headers.Slice(hp + 4, hk).CopyTo(s[p..]); p += hk;
            hp += 4 + hk;
            var hv = BinaryPrimitives.ReadInt32LittleEndian(e.Headers[hp..]);
            hp += 4;
            p += VarInt.WriteVarInt(s[p..], hv);
            if (hv > 0) { e.Headers.Slice(hp, hv).CopyTo(s[p..]); p += hv; hp += hv; }
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
        BatchCompression.Compress(compression, level, scratch.Span, compressed, magic);
        // The wrapper's offset is the last inner offset; with magic 1 inner offsets are relative (0..n-1).
        WriteLegacyMessage(output, count - 1, magic, (byte)compression, maxTs, [], true, compressed.Span, false);
    }

    private static void WriteLegacyMessages(ReadOnlySpan<byte> arena, int count, byte magic, RecordArena o, out long maxTs)
    {
        maxTs = -1;
        var pos = 0;
        for (var i = 0; i < count; i++)
        {
            pos = RecordArena.Read(arena, pos, out var e);
            if (e.Timestamp > maxTs) maxTs = e.Timestamp;
            WriteLegacyMessage(o, i, magic, 0, e.Timestamp, e.Key, e.KeyIsNull, e.Value, e.ValueIsNull);
        }
    }

    private static void WriteLegacyMessage(RecordArena o, long offset, byte magic, byte attributes, long timestamp,
        ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull)
    {
        var size = 4 + 1 + 1 + (magic >= 1 ? 8 : 0) + 4 + (keyIsNull ? 0 : key.Length) + 4 + (valueIsNull ? 0 : value.Length);
        var s = o.GetSpan(12 + size);
        BinaryPrimitives.WriteInt64BigEndian(s, offset);
        BinaryPrimitives.WriteInt32BigEndian(s[8..], size);
        var p = 16;
        s[p++] = magic;
        s[p++] = attributes;
        if (magic >= 1) { BinaryPrimitives.WriteInt64BigEndian(s[p..], timestamp); p += 8; }
        BinaryPrimitives.WriteInt32BigEndian(s[p..], keyIsNull ? -1 : key.Length); p += 4;
        if (!keyIsNull) { key.CopyTo(s[p..]); p += key.Length; }
        BinaryPrimitives.WriteInt32BigEndian(s[p..], valueIsNull ? -1 : value.Length); p += 4;
        if (!valueIsNull) { value.CopyTo(s[p..]); p += value.Length; }
        BinaryPrimitives.WriteUInt32BigEndian(s[12..], Crc32.HashToUInt32(s[16..p]));
        o.Advance(p);
    }

    private static uint Crc32COf(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        var i = 0;
        for (; i + 8 <= data.Length; i += 8)
            crc = System.Numerics.BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++)
            crc = System.Numerics.BitOperations.Crc32C(crc, data[i]);
        return ~crc;
    }
}
