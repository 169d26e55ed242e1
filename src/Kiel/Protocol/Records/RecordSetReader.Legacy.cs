using System.Buffers.Binary;
using System.IO.Hashing;
using Kiel.Protocol.Compression;

namespace Kiel.Protocol.Records;

// Legacy message sets (magic 0 and 1): each log entry is Offset int64, MessageSize int32, then a message with a
// CRC-32, magic, attributes, (magic 1) timestamp, key and value. A compressed entry is a wrapper whose value holds
// an inner message set; in magic 1 the inner offsets are relative and the wrapper carries the last absolute one.
internal ref partial struct RecordSetReader
{
    private const string MessageName = "Message";

    /// <summary>The smallest magic-0 message: CRC, magic, attributes, key length, value length.</summary>
    internal const int LegacyMinMessageSize = 14;

    private bool OpenLegacy(ReadOnlySpan<byte> entry)
    {
        var message = ParseLegacy(entry, _options.VerifyCrc);
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
        if (compression == CompressionType.None)
        {
            _batch = header;
            if (message.Offset < _minOffset) return false;
            _records = entry;
            _pos = 0;
            _count = 1;
            _index = 0;
            _legacyOffsetBase = 0;
            _batchOpen = true;
            return true;
        }

        // Both magic 0 and 1 wrappers carry the offset of their last inner message, so a wrapper wholly below the
        // minimum offset is skipped without decompressing it.
        _batch = header;
        if (message.Offset < _minOffset) return false;
        if (compression > CompressionType.Lz4)
            Fail(MessageName, message.Magic, "Attributes", $"compression codec {(int)compression} is not valid in a magic {message.Magic} message");
        if (message.ValueIsNull) Fail(MessageName, message.Magic, "Value", "a compressed wrapper message has a null value");

        var scratch = _scratch ??= new PooledBufferWriter(0);
        scratch.Clear();
        CompressionCodec.Decompress(compression, message.Value(entry), scratch, _options.MaxDecompressedBytes, message.Magic);
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
        _records = inner;
        _pos = 0;
        _count = count;
        _index = 0;
        _batchOpen = true;
        return true;
    }

    private static int InnerEntrySize(ReadOnlySpan<byte> inner, int p, byte magic)
    {
        if (inner.Length - p < RecordBatchHeader.LogOverhead)
            Fail(MessageName, magic, "MessageSize", $"the decompressed message set ends inside an entry header at offset {p}");
        var size = BinaryPrimitives.ReadInt32BigEndian(inner[(p + 8)..]);
        if (size < LegacyMinMessageSize || size > inner.Length - p - RecordBatchHeader.LogOverhead)
            Fail(MessageName, magic, "MessageSize", $"inner message size {size} at offset {p} does not fit in the {inner.Length - p - RecordBatchHeader.LogOverhead} decompressed byte(s) left");
        return RecordBatchHeader.LogOverhead + size;
    }

    private bool NextLegacyRecord()
    {
        if (_index >= _count) return false;
        ReadOnlySpan<byte> entry;
        if (_batch.Compression == CompressionType.None)
        {
            entry = _records;
        }
        else
        {
            var size = InnerEntrySize(_records, _pos, _batch.Magic);
            entry = _records.Slice(_pos, size);
            _pos += size;
        }
        _index++;
        // An uncompressed message was parsed and its CRC checked when its batch was opened.
        var message = ParseLegacy(entry, _options.VerifyCrc && _batch.Compression != CompressionType.None);
        if (_batch.Compression != CompressionType.None && (message.Attributes & RecordBatchHeader.CompressionMask) != 0)
            Fail(MessageName, message.Magic, "Attributes", "a message inside a compressed wrapper is itself compressed");

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
        _current = new Record(message.Offset + _legacyOffsetBase, timestamp, type,
            message.Key(entry), message.KeyIsNull, message.Value(entry), message.ValueIsNull, default, 0);
        return true;
    }

    /// <summary>Parses one complete log entry (offset, size and message) whose bytes are all present.</summary>
    internal static LegacyMessage ParseLegacy(ReadOnlySpan<byte> entry, bool verifyCrc)
    {
        var magic = entry[RecordBatchHeader.MagicOffset];
        if (magic > 1) Fail(MessageName, magic, "Magic", $"magic {magic} inside a legacy message set");
        var m = new LegacyMessage
        {
            Offset = BinaryPrimitives.ReadInt64BigEndian(entry),
            Crc = BinaryPrimitives.ReadUInt32BigEndian(entry[12..]),
            Magic = magic,
            Attributes = entry[17],
            Timestamp = -1,
        };
        var p = 18;
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
        if (verifyCrc)
        {
            var crc = Crc32.HashToUInt32(entry[RecordBatchHeader.MagicOffset..]);
            if (crc != m.Crc)
                Fail(MessageName, magic, "CRC", $"stored CRC-32 0x{m.Crc:X8} does not match the computed 0x{crc:X8} (message at offset {m.Offset})");
        }
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
