using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;

namespace Kiel.Protocol.Records;

/// <summary>
/// The one writer of record-batch bytes: the records of a magic-2 batch, its header and CRC, and legacy magic-0/1
/// message entries. <see cref="RecordBatchBuilder"/>, <see cref="LegacyMessageSetBuilder"/> and the producer's
/// batch encoder all write through it, so the layout lives here and in <see cref="RecordBatchHeader"/> only.
/// </summary>
internal static class RecordBatchWriter
{
    /// <summary>Reserves the header of a magic-2 batch (zeroed) at the start of <paramref name="output"/>.</summary>
    public static void BeginBatch(IBufferWriter<byte> output)
    {
        output.GetSpan(RecordBatchHeader.Size)[..RecordBatchHeader.Size].Clear();
        output.Advance(RecordBatchHeader.Size);
    }

    /// <summary>The size of a record's body (after its length prefix) with these parts.</summary>
    public static int RecordBodySize(long timestampDelta, int offsetDelta, int keyLength, int valueLength, int headerCount, int headersSize) =>
        1 + VarInt.SizeOfVarLong(timestampDelta) + VarInt.SizeOfVarInt(offsetDelta)
        + VarInt.SizeOfVarInt(keyLength) + Math.Max(keyLength, 0)
        + VarInt.SizeOfVarInt(valueLength) + Math.Max(valueLength, 0)
        + VarInt.SizeOfVarInt(headerCount) + headersSize;

    /// <summary>The size of a record with this body, its length prefix included.</summary>
    public static int RecordSize(int bodySize) => VarInt.SizeOfVarInt(bodySize) + bodySize;

    /// <summary>The encoded size of one header (key length -1 is not allowed; value length -1 is null).</summary>
    public static int HeaderSize(int keyLength, int valueLength) =>
        VarInt.SizeOfVarInt(keyLength) + keyLength + VarInt.SizeOfVarInt(valueLength) + Math.Max(valueLength, 0);

    /// <summary>
    /// Writes a record's length prefix and every field up to and including the header count; the caller writes the
    /// <paramref name="headerCount"/> headers after it with <see cref="WriteHeader"/>. Returns the bytes written. With
    /// <paramref name="streamValue"/> the value is copied with <see cref="StreamingCopy"/> (the same bytes, around the caches).
    /// </summary>
    public static int WriteRecordStart(Span<byte> s, int bodySize, long timestampDelta, int offsetDelta,
        ReadOnlySpan<byte> key, int keyLength, ReadOnlySpan<byte> value, int valueLength, int headerCount, bool streamValue = false)
    {
        var p = VarInt.WriteVarInt(s, bodySize);
        s[p++] = 0; // attributes: unused
        p += VarInt.WriteVarLong(s[p..], timestampDelta);
        p += VarInt.WriteVarInt(s[p..], offsetDelta);
        p += WriteBytes(s[p..], key, keyLength);
        p += WriteBytes(s[p..], value, valueLength, streamValue);
        p += VarInt.WriteVarInt(s[p..], headerCount);
        return p;
    }

    /// <summary>Writes one header (UTF-8 key, value or null when <paramref name="valueLength"/> is -1); returns the bytes written.</summary>
    public static int WriteHeader(Span<byte> s, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, int valueLength)
    {
        var p = WriteBytes(s, key, key.Length);
        return p + WriteBytes(s[p..], value, valueLength);
    }

    /// <summary>
    /// Writes a varint length and the bytes (none for a length of -1 or 0); returns the bytes written. With
    /// <paramref name="stream"/> the bytes are copied with <see cref="StreamingCopy"/>.
    /// </summary>
    public static int WriteBytes(Span<byte> s, ReadOnlySpan<byte> bytes, int length, bool stream = false)
    {
        var p = VarInt.WriteVarInt(s, length);
        if (length <= 0) return p;
        if (stream) StreamingCopy.Copy(bytes[..length], s[p..]);
        else bytes[..length].CopyTo(s[p..]);
        return p + length;
    }

    /// <summary>
    /// Fills the header of a finished batch (its records, compressed or not, follow the 61 reserved bytes) and its CRC.
    /// </summary>
    public static void FinishBatch(Span<byte> batch, short attributes, int count, long baseTimestamp, long maxTimestamp,
        long producerId, short producerEpoch, int baseSequence)
    {
        new RecordBatchHeader
        {
            BaseOffset = 0,
            BatchLength = batch.Length - RecordBatchHeader.LogOverhead,
            PartitionLeaderEpoch = -1,
            Magic = 2,
            Crc = 0,
            Attributes = attributes,
            LastOffsetDelta = count - 1,
            BaseTimestamp = baseTimestamp,
            MaxTimestamp = maxTimestamp,
            ProducerId = producerId,
            ProducerEpoch = producerEpoch,
            BaseSequence = baseSequence,
            RecordCount = count,
        }.Write(batch);
        RecordBatch.UpdateCrc(batch);
    }

    /// <summary>The size of one legacy log entry with these lengths (-1 for null).</summary>
    public static int LegacyEntrySize(byte magic, int keyLength, int valueLength) =>
        RecordBatchHeader.LegacyBodyOffset + (magic >= 1 ? 8 : 0) + 4 + Math.Max(keyLength, 0) + 4 + Math.Max(valueLength, 0);

    /// <summary>Appends one legacy log entry (offset, size and message with its CRC-32) to <paramref name="output"/>.</summary>
    public static void WriteLegacyEntry(IBufferWriter<byte> output, long offset, byte magic, byte attributes, long timestamp,
        ReadOnlySpan<byte> key, int keyLength, ReadOnlySpan<byte> value, int valueLength)
    {
        var size = LegacyEntrySize(magic, keyLength, valueLength);
        var s = output.GetSpan(size)[..size];
        BinaryPrimitives.WriteInt64BigEndian(s, offset);
        BinaryPrimitives.WriteInt32BigEndian(s[RecordBatchHeader.BatchLengthOffset..], size - RecordBatchHeader.LogOverhead);
        s[RecordBatchHeader.MagicOffset] = magic;
        s[RecordBatchHeader.LegacyAttributesOffset] = attributes;
        var p = RecordBatchHeader.LegacyBodyOffset;
        if (magic >= 1)
        {
            BinaryPrimitives.WriteInt64BigEndian(s[p..], timestamp);
            p += 8;
        }
        BinaryPrimitives.WriteInt32BigEndian(s[p..], keyLength);
        p += 4;
        if (keyLength > 0) key[..keyLength].CopyTo(s[p..]);
        p += Math.Max(keyLength, 0);
        BinaryPrimitives.WriteInt32BigEndian(s[p..], valueLength);
        p += 4;
        if (valueLength > 0) value[..valueLength].CopyTo(s[p..]);
        BinaryPrimitives.WriteUInt32BigEndian(s[RecordBatchHeader.LegacyCrcOffset..], Crc32.HashToUInt32(s[RecordBatchHeader.MagicOffset..]));
        output.Advance(size);
    }
}
