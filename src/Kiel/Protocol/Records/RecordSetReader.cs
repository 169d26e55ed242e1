using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Kiel.Protocol.Compression;

namespace Kiel.Protocol.Records;

/// <summary>
/// Walks the batches and records of a record set (the <c>records</c> field of a Fetch or Produce) in place: magic-2
/// record batches and legacy magic-0/1 messages, compressed or not, in any mix. Nothing is allocated per record;
/// compressed batches are decompressed into one pooled buffer that the reader reuses and returns on
/// <see cref="Dispose"/>.
/// </summary>
/// <remarks>
/// Use <see cref="MoveNextBatch"/> and <see cref="MoveNextRecord"/> for batch-level control (transactions, offsets of
/// empty batches), or <see cref="MoveNext"/> / <c>foreach</c> for the records alone. Records below the minimum offset
/// are skipped, and an incomplete last batch (the broker's cut at the fetch size) ends the set quietly; see
/// <see cref="TruncatedTailBytes"/>. Any other damage raises <see cref="KafkaProtocolException"/> naming the field.
/// </remarks>
internal ref partial struct RecordSetReader
{
    private const string BatchName = "RecordBatch";

    /// <summary>The smallest magic-2 record: 7 one-byte fields (length, attributes, deltas, lengths, header count).</summary>
    private const int MinRecordSize = 7;

    private readonly ReadOnlySpan<byte> _set;
    private readonly RecordReaderOptions _options;
    private readonly long _minOffset;
    private int _next;
    private int _truncatedTail;

    private RecordBatchHeader _batch;
    private bool _batchOpen;
    private ReadOnlySpan<byte> _records;
    private int _pos;
    private int _index;
    private int _count;
    private long _legacyOffsetBase;
    private Record _current;
    private PooledBufferWriter? _scratch;

    /// <summary>Reads <paramref name="recordSet"/>, skipping records below <paramref name="minOffset"/>.</summary>
    public RecordSetReader(ReadOnlySpan<byte> recordSet, long minOffset = long.MinValue, RecordReaderOptions? options = null)
    {
        _set = recordSet;
        _minOffset = minOffset;
        _options = options ?? RecordReaderOptions.Default;
        if (_options.Validate() is { } problem) throw new ArgumentException(problem, nameof(options));
    }

    /// <summary>The header of the current batch (synthesised for a legacy message).</summary>
    public readonly RecordBatchHeader CurrentBatch => _batch;

    /// <summary>The current record.</summary>
    public readonly Record Current => _current;

    /// <summary>The bytes consumed from the set so far, whole batches only.</summary>
    public readonly int BytesConsumed => _next;

    /// <summary>
    /// The size of the incomplete batch that ended the set, or 0. A non-zero value with no complete batch read means
    /// the first batch is larger than the fetch size (grow it to make progress on old Fetch versions).
    /// </summary>
    public readonly int TruncatedTailBytes => _truncatedTail;

    /// <summary>Supports <c>foreach</c> over the records.</summary>
    public readonly RecordSetReader GetEnumerator() => this;

    /// <summary>Moves to the next record in the set, across batches, skipping control batches unless asked not to.</summary>
    public bool MoveNext()
    {
        while (true)
        {
            if (_batchOpen && MoveNextRecord()) return true;
            if (!MoveNextBatch()) return false;
            if (_batch.IsControl && !_options.IncludeControlRecords) _batchOpen = false;
        }
    }

    /// <summary>
    /// Moves to the next batch whose last offset is at least the minimum offset, including empty and control
    /// batches. Returns false at the end of the set or at an incomplete last batch.
    /// </summary>
    public bool MoveNextBatch()
    {
        _batchOpen = false;
        while (true)
        {
            var rest = _set[_next..];
            if (rest.IsEmpty) return false;
            if (rest.Length < RecordBatchHeader.LogOverhead) return Truncated(rest.Length);
            var length = BinaryPrimitives.ReadInt32BigEndian(rest[8..]);
            if (length < LegacyMinMessageSize)
                Fail(BatchName, -1, "BatchLength", $"length {length} at offset {_next} is smaller than any batch or message ({LegacyMinMessageSize} bytes)");
            if (rest.Length - RecordBatchHeader.LogOverhead < length) return Truncated(rest.Length);
            var entry = rest[..(RecordBatchHeader.LogOverhead + length)];
            _next += entry.Length;
            var magic = entry[RecordBatchHeader.MagicOffset];
            var open = magic switch
            {
                2 => OpenBatch(entry),
                0 or 1 => OpenLegacy(entry),
                _ => throw new KafkaProtocolException(BatchName, magic, "Magic", $"unknown magic byte {magic} (expected 0, 1 or 2)"),
            };
            if (open) return true;
        }
    }

    /// <summary>Moves to the next record of the current batch at or above the minimum offset.</summary>
    public bool MoveNextRecord()
    {
        if (!_batchOpen) return false;
        while (true)
        {
            bool more = _batch.Magic == 2 ? NextRecord() : NextLegacyRecord();
            if (!more)
            {
                _batchOpen = false;
                return false;
            }
            if (_current.Offset >= _minOffset) return true;
        }
    }

    /// <summary>Returns the decompression buffer to the pool.</summary>
    public void Dispose()
    {
        _scratch?.Dispose();
        _batchOpen = false;
    }

    private bool Truncated(int bytes)
    {
        if (!_options.AllowTruncatedTail)
            Fail(BatchName, -1, "BatchLength", $"the set ends with an incomplete batch of {bytes} byte(s) at offset {_next}");
        _truncatedTail = bytes;
        _next = _set.Length;
        return false;
    }

    private bool OpenBatch(ReadOnlySpan<byte> entry)
    {
        if (entry.Length < RecordBatchHeader.Size)
            Fail(BatchName, 2, "BatchLength", $"batch length {entry.Length - RecordBatchHeader.LogOverhead} is smaller than a record batch header ({RecordBatchHeader.Size - RecordBatchHeader.LogOverhead} bytes)");
        var header = RecordBatchHeader.Read(entry);
        if (_options.VerifyCrc)
        {
            var crc = Crc32C.Compute(entry[RecordBatchHeader.AttributesOffset..]);
            if (crc != header.Crc)
                Fail(BatchName, 2, "CRC", $"stored CRC-32C 0x{header.Crc:X8} does not match the computed 0x{crc:X8} (batch at offset {header.BaseOffset})");
        }
        if ((int)header.Compression > (int)CompressionType.Zstd)
            Fail(BatchName, 2, "Attributes", $"unknown compression codec {(int)header.Compression}");
        if (header.RecordCount < 0) Fail(BatchName, 2, "RecordsCount", $"negative record count {header.RecordCount}");
        _batch = header;
        if (header.LastOffset < _minOffset) return false;

        var region = entry[RecordBatchHeader.Size..];
        if (header.Compression != CompressionType.None)
        {
            var scratch = _scratch ??= new PooledBufferWriter(0);
            scratch.Clear();
            CompressionCodec.Decompress(header.Compression, region, scratch, _options.MaxDecompressedBytes, 2);
            region = scratch.WrittenSpan;
        }
        if ((long)header.RecordCount * MinRecordSize > region.Length)
            Fail(BatchName, 2, "RecordsCount", $"{header.RecordCount} records cannot fit in {region.Length} bytes of records");
        _records = region;
        _pos = 0;
        _index = 0;
        _count = header.RecordCount;
        _batchOpen = true;
        return true;
    }

    private bool NextRecord()
    {
        if (_index >= _count)
        {
            if (_pos != _records.Length)
                Fail(BatchName, 2, "Records", $"{_records.Length - _pos} byte(s) remain after the {_count} records the batch declares");
            return false;
        }
        var length = ReadVarInt(_records, ref _pos, "Records[].Length");
        if (length < 0 || length > _records.Length - _pos)
            Fail(BatchName, 2, "Records[].Length", $"record {_index} claims {length} bytes but {_records.Length - _pos} remain");
        var body = _records.Slice(_pos, length);
        _pos += length;
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

        var timestamp = _batch.TimestampType == TimestampType.LogAppendTime ? _batch.MaxTimestamp : _batch.BaseTimestamp + timestampDelta;
        _current = new Record(_batch.BaseOffset + offsetDelta, timestamp, _batch.TimestampType,
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
    private static void Fail(string structure, int version, string field, string problem) =>
        throw new KafkaProtocolException(structure, version, field, problem);
}
