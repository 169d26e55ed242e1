using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Kiel.Protocol.Compression;

namespace Kiel.Protocol.Records;

/// <summary>
/// The one parser of record sets (the <c>records</c> field of a Fetch or Produce): magic-2 record batches and legacy
/// magic-0/1 messages, compressed or not, in any mix. A resumable cursor: it keeps only positions, so the set can be
/// a view of a receive buffer that the caller holds (a fetch lease) and passes again on every call. Nothing is
/// allocated per record; compressed batches are decompressed into one pooled buffer, reused batch after batch and
/// returned on <see cref="Dispose"/>. <see cref="RecordSetReader"/> is the span-based front of the same cursor.
/// </summary>
/// <remarks>
/// Records below <see cref="MinOffset"/> are skipped, and an incomplete last batch (the broker's cut at the fetch
/// size) ends the set quietly unless <see cref="AllowTruncatedTail"/> is off. A checksum mismatch raises
/// <see cref="CorruptRecordException"/>; any other damage raises <see cref="KafkaProtocolException"/> naming the field.
/// </remarks>
internal sealed partial class RecordSetCursor : IDisposable
{
    private const string BatchName = "RecordBatch";

    /// <summary>The smallest magic-2 record: 7 one-byte fields (length, attributes, deltas, lengths, header count).</summary>
    private const int MinRecordSize = 7;

    private int _next;
    private int _truncatedTail;

    private RecordBatchHeader _batch;
    private bool _batchOpen;
    private bool _inflated;
    private int _pos;
    private int _end;
    private int _index;
    private int _count;
    private long _legacyOffsetBase;
    private TimestampType _timestampType;
    private PooledBufferWriter? _scratch;

    /// <summary>Check each magic-2 batch's CRC-32C and each uncompressed or wrapper legacy message's CRC-32.</summary>
    public bool VerifyBatchCrc { get; set; } = true;

    /// <summary>Check the CRC-32 of the messages inside a compressed legacy wrapper.</summary>
    public bool VerifyInnerCrc { get; set; } = true;

    /// <summary>The largest decompressed size of one batch or wrapper message.</summary>
    public int MaxDecompressedBytes { get; set; } = CompressionCodec.DefaultMaxDecompressedBytes;

    /// <summary>Ignore an incomplete batch at the end of the set.</summary>
    public bool AllowTruncatedTail { get; set; } = true;

    /// <summary>Records below this offset, and batches wholly below it, are skipped.</summary>
    public long MinOffset { get; set; } = long.MinValue;

    /// <summary>The topic named by a <see cref="CorruptRecordException"/>, or null.</summary>
    public string? Topic { get; set; }

    /// <summary>The partition named by a <see cref="CorruptRecordException"/>, or -1.</summary>
    public int Partition { get; set; } = -1;

    /// <summary>The header of the current batch (synthesised for a legacy message).</summary>
    public RecordBatchHeader CurrentBatch => _batch;

    /// <summary>The current batch's partition leader epoch (-1 for legacy messages), without copying the header.</summary>
    public int PartitionLeaderEpoch => _batch.PartitionLeaderEpoch;

    /// <summary>True while the current batch has records left to read.</summary>
    public bool IsBatchOpen => _batchOpen;

    /// <summary>The bytes consumed from the set so far, whole batches only.</summary>
    public int BytesConsumed => _next;

    /// <summary>The size of the incomplete batch that ended the set, or 0.</summary>
    public int TruncatedTailBytes => _truncatedTail;

    /// <summary>Starts again at the beginning of a (new) set, keeping the decompression buffer.</summary>
    public void Reset()
    {
        _next = 0;
        _truncatedTail = 0;
        _batch = default;
        _batchOpen = false;
    }

    /// <summary>Skips the rest of the current batch.</summary>
    public void CloseBatch() => _batchOpen = false;

    /// <summary>
    /// Moves to the next batch of <paramref name="set"/> whose last offset is at least <see cref="MinOffset"/>,
    /// including empty and control batches. Returns false at the end of the set or at an incomplete last batch.
    /// </summary>
    public bool MoveNextBatch(ReadOnlySpan<byte> set)
    {
        _batchOpen = false;
        while (true)
        {
            var rest = set[_next..];
            if (rest.IsEmpty) return false;
            if (rest.Length < RecordBatchHeader.LogOverhead) return Truncated(rest.Length, set.Length);
            var length = BinaryPrimitives.ReadInt32BigEndian(rest[RecordBatchHeader.BatchLengthOffset..]);
            if (length < RecordBatchHeader.LegacyMinMessageSize)
                Fail(BatchName, -1, "BatchLength", $"length {length} at offset {_next} is smaller than any batch or message ({RecordBatchHeader.LegacyMinMessageSize} bytes)");
            if (rest.Length - RecordBatchHeader.LogOverhead < length) return Truncated(rest.Length, set.Length);
            var start = _next;
            var entry = rest[..(RecordBatchHeader.LogOverhead + length)];
            _next += entry.Length;
            var magic = entry[RecordBatchHeader.MagicOffset];
            var open = magic switch
            {
                2 => OpenBatch(entry, start),
                0 or 1 => OpenLegacy(entry, start),
                _ => throw new KafkaProtocolException(BatchName, magic, "Magic", $"unknown magic byte {magic} (expected 0, 1 or 2)"),
            };
            if (open) return true;
        }
    }

    /// <summary>Moves to the next record of the current batch at or above <see cref="MinOffset"/>.</summary>
    /// <param name="set">The same set given to <see cref="MoveNextBatch"/>.</param>
    /// <param name="record">The record, a view of <paramref name="set"/> or of the decompression buffer, valid until the next call.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MoveNextRecord(ReadOnlySpan<byte> set, out Record record)
    {
        if (!_batchOpen)
        {
            record = default;
            return false;
        }
        var region = _inflated ? _scratch!.WrittenSpan : set;
        while (true)
        {
            bool more = _batch.Magic == 2 ? NextRecord(region[.._end], out record) : NextLegacyRecord(region, out record);
            if (!more)
            {
                _batchOpen = false;
                return false;
            }
            if (record.Offset >= MinOffset) return true;
        }
    }

    /// <summary>Returns the decompression buffer to the pool.</summary>
    public void Dispose()
    {
        _scratch?.Dispose();
        _batchOpen = false;
    }

    private bool Truncated(int bytes, int setLength)
    {
        if (!AllowTruncatedTail)
            Fail(BatchName, -1, "BatchLength", $"the set ends with an incomplete batch of {bytes} byte(s) at offset {_next}");
        _truncatedTail = bytes;
        _next = setLength;
        return false;
    }

    /// <summary>Checks a complete entry's framing and checksum; shared with <see cref="RecordSetScanner"/>.</summary>
    internal static void CheckEntry(ReadOnlySpan<byte> entry, bool verifyCrc, string? topic, int partition)
    {
        var magic = entry[RecordBatchHeader.MagicOffset];
        if (magic == 2)
        {
            if (entry.Length < RecordBatchHeader.Size)
                Fail(BatchName, 2, "BatchLength", $"batch length {entry.Length - RecordBatchHeader.LogOverhead} is smaller than a record batch header ({RecordBatchHeader.MinBatchLength} bytes)");
            if (!verifyCrc) return;
            var stored = BinaryPrimitives.ReadUInt32BigEndian(entry[RecordBatchHeader.CrcOffset..]);
            var crc = Crc32C.Compute(entry[RecordBatchHeader.AttributesOffset..]);
            if (crc != stored)
                throw new CorruptRecordException(topic, partition, BinaryPrimitives.ReadInt64BigEndian(entry), stored, crc, "CRC-32C");
        }
        else if (magic <= 1)
        {
            if (verifyCrc) CheckLegacyCrc(entry, topic, partition);
        }
        else
        {
            throw new KafkaProtocolException(BatchName, magic, "Magic", $"unknown magic byte {magic} (expected 0, 1 or 2)");
        }
    }

    private bool OpenBatch(ReadOnlySpan<byte> entry, int start)
    {
        CheckEntry(entry, VerifyBatchCrc, Topic, Partition);
        var header = RecordBatchHeader.Read(entry);
        if ((int)header.Compression > (int)CompressionType.Zstd)
            Fail(BatchName, 2, "Attributes", $"unknown compression codec {(int)header.Compression}");
        if (header.RecordCount < 0) Fail(BatchName, 2, "RecordsCount", $"negative record count {header.RecordCount}");
        _batch = header;
        if (header.LastOffset < MinOffset) return false;

        int length;
        if (header.Compression != CompressionType.None)
        {
            var scratch = _scratch ??= new PooledBufferWriter(0);
            scratch.Clear();
            CompressionCodec.Decompress(header.Compression, entry[RecordBatchHeader.Size..], scratch, MaxDecompressedBytes, 2);
            _inflated = true;
            _pos = 0;
            _end = length = scratch.WrittenCount;
        }
        else
        {
            _inflated = false;
            _pos = start + RecordBatchHeader.Size;
            _end = start + entry.Length;
            length = _end - _pos;
        }
        if ((long)header.RecordCount * MinRecordSize > length)
            Fail(BatchName, 2, "RecordsCount", $"{header.RecordCount} records cannot fit in {length} bytes of records");
        _index = 0;
        _count = header.RecordCount;
        _timestampType = header.TimestampType;
        _batchOpen = true;
        return true;
    }

    private bool NextRecord(ReadOnlySpan<byte> records, out Record record)
    {
        if (_index >= _count)
        {
            if (_pos != _end)
                Fail(BatchName, 2, "Records", $"{_end - _pos} byte(s) remain after the {_count} records the batch declares");
            record = default;
            return false;
        }
        var pos = _pos;
        var length = ReadVarInt(records, ref pos, "Records[].Length");
        if (length < 0 || length > records.Length - pos)
            Fail(BatchName, 2, "Records[].Length", $"record {_index} claims {length} bytes but {records.Length - pos} remain");
        var body = records.Slice(pos, length);
        _pos = pos + length;
        _index++;

        var p = 0;
        if (body.IsEmpty) Fail(BatchName, 2, "Records[].Attributes", "record is empty");
        p++; // attributes: unused
        var timestampDelta = ReadVarLong(body, ref p, "Records[].TimestampDelta");
        var offsetDelta = ReadVarInt(body, ref p, "Records[].OffsetDelta");
        var keyLength = ReadLength(body, ref p, "Records[].KeyLength");
        var key = keyLength < 0 ? default : body.Slice(p, keyLength);
        if (keyLength > 0) p += keyLength;
        var valueLength = ReadLength(body, ref p, "Records[].ValueLength");
        var value = valueLength < 0 ? default : body.Slice(p, valueLength);
        if (valueLength > 0) p += valueLength;
        var headerCount = ReadVarInt(body, ref p, "Records[].HeadersCount");
        if (headerCount < 0 || headerCount > (body.Length - p) / 2)
            Fail(BatchName, 2, "Records[].HeadersCount", $"header count {headerCount} cannot fit in the {body.Length - p} remaining byte(s) of record {_index - 1}");
        var headersStart = p;
        for (var h = 0; h < headerCount; h++)
        {
            var hk = ReadLength(body, ref p, "Records[].Headers[].KeyLength");
            if (hk < 0) Fail(BatchName, 2, "Records[].Headers[].KeyLength", "a header key cannot be null");
            p += hk;
            var hv = ReadLength(body, ref p, "Records[].Headers[].ValueLength");
            if (hv > 0) p += hv;
        }
        if (p != body.Length)
            Fail(BatchName, 2, "Records[].Length", $"record {_index - 1} declares {length} bytes but its fields take {p}");

        var type = _timestampType;
        var timestamp = type == TimestampType.LogAppendTime ? _batch.MaxTimestamp : _batch.BaseTimestamp + timestampDelta;
        record = new Record(_batch.BaseOffset + offsetDelta, timestamp, type,
            key, keyLength < 0, value, valueLength < 0, body[headersStart..], headerCount);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ReadVarInt(ReadOnlySpan<byte> s, ref int p, string field)
    {
        // Most lengths and deltas fit one byte; skip the general decoder for them.
        if ((uint)p < (uint)s.Length && s[p] < 0x80)
        {
            uint b = s[p++];
            return (int)(b >> 1) ^ -(int)(b & 1);
        }
        var n = VarInt.TryReadUnsigned(s[p..], out uint raw);
        if (n <= 0) BadVarInt(n, field);
        p += n;
        return VarInt.UnZigZag(raw);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long ReadVarLong(ReadOnlySpan<byte> s, ref int p, string field)
    {
        if ((uint)p < (uint)s.Length && s[p] < 0x80)
        {
            uint b = s[p++];
            return (int)(b >> 1) ^ -(int)(b & 1);
        }
        var n = VarInt.TryReadUnsigned(s[p..], out ulong raw);
        if (n <= 0) BadVarInt(n, field);
        p += n;
        return VarInt.UnZigZag(raw);
    }

    /// <summary>Reads a length that may be -1 (null) and must fit in what remains.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ReadLength(ReadOnlySpan<byte> s, ref int p, string field)
    {
        var length = ReadVarInt(s, ref p, field);
        if (length < -1 || length > s.Length - p) BadLength(length, s.Length - p, field);
        return length;
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void BadVarInt(int n, string field) =>
        Fail(BatchName, 2, field, n == 0 ? "the record ends inside a varint (truncated)" : "varint is longer than its type allows");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void BadLength(int length, int remaining, string field) =>
        Fail(BatchName, 2, field, length < -1
            ? $"negative length {length} (only -1, meaning null, is allowed)"
            : $"length {length} exceeds the {remaining} byte(s) left in the record");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void Fail(string structure, int version, string field, string problem) =>
        throw new KafkaProtocolException(structure, version, field, problem);
}
