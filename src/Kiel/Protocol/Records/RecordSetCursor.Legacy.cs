using System.Buffers.Binary;
using System.IO.Hashing;
using Kiel.Protocol.Compression;

namespace Kiel.Protocol.Records;

// Legacy message sets (magic 0 and 1): each log entry is Offset int64, MessageSize int32, then a message with a
// CRC-32, magic, attributes, (magic 1) timestamp, key and value. A compressed entry is a wrapper whose value holds
// an inner message set; in magic 1 the inner offsets are relative and the wrapper carries the last absolute one.
internal sealed partial class RecordSetCursor
{
    private const string MessageName = "Message";

    private bool OpenLegacy(ReadOnlySpan<byte> entry, int start)
    {
        var message = ParseLegacy(entry);
        if (VerifyBatchCrc) CheckLegacyCrc(entry, Topic, Partition);
        var header = new RecordBatchHeader
        {
            BaseOffset = message.Offset,
            BatchLength = entry.Length - RecordBatchHeader.LogOverhead,
            PartitionLeaderEpoch = -1,
            Magic = message.Magic,
            Crc = message.Crc,
            Attributes = message.Attributes,
            LastOffsetDelta = 0,
            BaseTimestamp = message.Timestamp,
            MaxTimestamp = message.Timestamp,
            ProducerId = -1,
            ProducerEpoch = -1,
            BaseSequence = -1,
            RecordCount = 1,
        };
        var compression = (CompressionType)(message.Attributes & RecordBatchHeader.CompressionMask);
        _batch = header;
        if (compression == CompressionType.None)
        {
            if (message.Offset < MinOffset) return false;
            _inflated = false;
            _pos = start;
            _end = start + entry.Length;
            _count = 1;
            _index = 0;
            _legacyOffsetBase = 0;
            _batchOpen = true;
            return true;
        }

        // Both magic 0 and 1 wrappers carry the offset of their last inner message, so a wrapper wholly below the
        // minimum offset is skipped without decompressing it.
        if (message.Offset < MinOffset) return false;
        if (compression > CompressionType.Lz4)
            Fail(MessageName, message.Magic, "Attributes", $"compression codec {(int)compression} is not valid in a magic {message.Magic} message");
        if (message.ValueIsNull) Fail(MessageName, message.Magic, "Value", "a compressed wrapper message has a null value");

        var scratch = _scratch ??= new PooledBufferWriter(0);
        scratch.Clear();
        CompressionCodec.Decompress(compression, message.Value(entry), scratch, MaxDecompressedBytes, message.Magic);
        var inner = scratch.WrittenSpan;

        // One pass over the inner framing validates it and finds the first and last inner offsets, which magic 1
        // needs to turn relative offsets into absolute ones.
        long first = 0, last = 0;
        var count = 0;
        for (var p = 0; p < inner.Length;)
        {
            var size = InnerEntrySize(inner, p, message.Magic);
            var offset = BinaryPrimitives.ReadInt64BigEndian(inner[p..]);
            if (count == 0) first = offset;
            last = offset;
            count++;
            p += size;
        }
        if (count == 0) Fail(MessageName, message.Magic, "Value", "a compressed wrapper message holds no messages");
        _legacyOffsetBase = message.Magic >= 1 ? message.Offset - last : 0;
        _batch = header with
        {
            BaseOffset = first + _legacyOffsetBase,
            LastOffsetDelta = (int)Math.Clamp(last - first, int.MinValue, int.MaxValue),
            RecordCount = count,
        };
        _inflated = true;
        _pos = 0;
        _end = inner.Length;
        _count = count;
        _index = 0;
        _batchOpen = true;
        return true;
    }

    private static int InnerEntrySize(ReadOnlySpan<byte> inner, int p, byte magic)
    {
        if (inner.Length - p < RecordBatchHeader.LogOverhead)
            Fail(MessageName, magic, "MessageSize", $"the decompressed message set ends inside an entry header at offset {p}");
        var size = BinaryPrimitives.ReadInt32BigEndian(inner[(p + RecordBatchHeader.BatchLengthOffset)..]);
        if (size < RecordBatchHeader.LegacyMinMessageSize || size > inner.Length - p - RecordBatchHeader.LogOverhead)
            Fail(MessageName, magic, "MessageSize", $"inner message size {size} at offset {p} does not fit in the {inner.Length - p - RecordBatchHeader.LogOverhead} decompressed byte(s) left");
        return RecordBatchHeader.LogOverhead + size;
    }

    private bool NextLegacyRecord(ReadOnlySpan<byte> region, out Record record)
    {
        if (_index >= _count)
        {
            record = default;
            return false;
        }
        ReadOnlySpan<byte> entry;
        var wrapped = _batch.Compression != CompressionType.None;
        if (!wrapped)
        {
            entry = region[_pos.._end];
        }
        else
        {
            var size = InnerEntrySize(region[.._end], _pos, _batch.Magic);
            entry = region.Slice(_pos, size);
            _pos += size;
        }
        _index++;
        // An uncompressed message was parsed and its CRC checked when its batch was opened.
        var message = ParseLegacy(entry);
        if (wrapped)
        {
            if (VerifyInnerCrc) CheckLegacyCrc(entry, Topic, Partition);
            if ((message.Attributes & RecordBatchHeader.CompressionMask) != 0)
                Fail(MessageName, message.Magic, "Attributes", "a message inside a compressed wrapper is itself compressed");
        }

        long timestamp;
        TimestampType type;
        if (message.Magic == 0)
        {
            timestamp = -1;
            type = TimestampType.NotAvailable;
        }
        else if (_batch.TimestampType == TimestampType.LogAppendTime)
        {
            // Inner messages of a LogAppendTime wrapper take the wrapper's timestamp, whatever they carry.
            timestamp = _batch.MaxTimestamp;
            type = TimestampType.LogAppendTime;
        }
        else
        {
            timestamp = message.Timestamp;
            type = (message.Attributes & RecordBatchHeader.TimestampTypeFlag) != 0 ? TimestampType.LogAppendTime : TimestampType.CreateTime;
        }
        record = new Record(message.Offset + _legacyOffsetBase, timestamp, type,
            message.Key(entry), message.KeyIsNull, message.Value(entry), message.ValueIsNull, default, 0);
        return true;
    }

    /// <summary>Checks the CRC-32 of one complete legacy log entry.</summary>
    internal static void CheckLegacyCrc(ReadOnlySpan<byte> entry, string? topic, int partition)
    {
        if (entry.Length < RecordBatchHeader.LegacyAttributesOffset)
            Fail(MessageName, -1, "MessageSize", $"message size {entry.Length - RecordBatchHeader.LogOverhead} is smaller than a message header");
        var stored = BinaryPrimitives.ReadUInt32BigEndian(entry[RecordBatchHeader.LegacyCrcOffset..]);
        var crc = Crc32.HashToUInt32(entry[RecordBatchHeader.MagicOffset..]);
        if (crc != stored)
            throw new CorruptRecordException(topic, partition, BinaryPrimitives.ReadInt64BigEndian(entry), stored, crc, "CRC-32");
    }

    /// <summary>Parses one complete log entry (offset, size and message) whose bytes are all present.</summary>
    internal static LegacyMessage ParseLegacy(ReadOnlySpan<byte> entry)
    {
        var magic = entry[RecordBatchHeader.MagicOffset];
        if (magic > 1) Fail(MessageName, magic, "Magic", $"magic {magic} inside a legacy message set");
        var m = new LegacyMessage
        {
            Offset = BinaryPrimitives.ReadInt64BigEndian(entry),
            Crc = BinaryPrimitives.ReadUInt32BigEndian(entry[RecordBatchHeader.LegacyCrcOffset..]),
            Magic = magic,
            Attributes = entry[RecordBatchHeader.LegacyAttributesOffset],
            Timestamp = -1,
        };
        var p = RecordBatchHeader.LegacyBodyOffset;
        if (magic == 1)
        {
            Need(entry, p, 8, magic, "Timestamp");
            m.Timestamp = BinaryPrimitives.ReadInt64BigEndian(entry[p..]);
            p += 8;
        }
        m.KeyLength = ReadLegacyLength(entry, ref p, magic, "KeyLength");
        m.KeyStart = p;
        if (m.KeyLength > 0) p += m.KeyLength;
        m.ValueLength = ReadLegacyLength(entry, ref p, magic, "ValueLength");
        m.ValueStart = p;
        if (m.ValueLength > 0) p += m.ValueLength;
        if (p != entry.Length)
            Fail(MessageName, magic, "MessageSize", $"message size {entry.Length - RecordBatchHeader.LogOverhead} but its fields take {p - RecordBatchHeader.LogOverhead}");
        return m;
    }

    private static int ReadLegacyLength(ReadOnlySpan<byte> entry, ref int p, byte magic, string field)
    {
        Need(entry, p, 4, magic, field);
        var length = BinaryPrimitives.ReadInt32BigEndian(entry[p..]);
        p += 4;
        if (length < -1) Fail(MessageName, magic, field, $"negative length {length} (only -1, meaning null, is allowed)");
        if (length > entry.Length - p) Fail(MessageName, magic, field, $"length {length} exceeds the {entry.Length - p} byte(s) left in the message");
        return length;
    }

    private static void Need(ReadOnlySpan<byte> entry, int p, int count, byte magic, string field)
    {
        if (entry.Length - p < count) Fail(MessageName, magic, field, $"needed {count} byte(s) but the message has {entry.Length - p} left");
    }
}

/// <summary>The fields of a legacy message, as positions into its entry.</summary>
internal struct LegacyMessage
{
    public long Offset;
    public uint Crc;
    public byte Magic;
    public byte Attributes;
    public long Timestamp;
    public int KeyStart;
    public int KeyLength;
    public int ValueStart;
    public int ValueLength;

    public readonly bool KeyIsNull => KeyLength < 0;
    public readonly bool ValueIsNull => ValueLength < 0;
    public readonly ReadOnlySpan<byte> Key(ReadOnlySpan<byte> entry) => KeyLength < 0 ? default : entry.Slice(KeyStart, KeyLength);
    public readonly ReadOnlySpan<byte> Value(ReadOnlySpan<byte> entry) => ValueLength < 0 ? default : entry.Slice(ValueStart, ValueLength);
}
