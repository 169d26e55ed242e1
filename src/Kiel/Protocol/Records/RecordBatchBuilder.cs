using System.Text;
using Kiel.Protocol.Compression;

namespace Kiel.Protocol.Records;

/// <summary>
/// Builds one magic-2 record batch in pooled buffers. Appending a record allocates nothing: keys, values and headers
/// are copied from spans straight into the batch. <see cref="Seal"/> compresses, fills the header and the CRC, and
/// hands out the finished batch; <see cref="Reset"/> makes the builder ready for the next one, keeping its buffers.
/// </summary>
/// <remarks>Not thread-safe. The memory from <see cref="Seal"/> is valid until <see cref="Reset"/> or <see cref="Dispose"/>.</remarks>
internal sealed class RecordBatchBuilder : IDisposable
{
    private readonly PooledBufferWriter _records = new(4096);
    private PooledBufferWriter? _compressed;
    private ReadOnlyMemory<byte> _sealed;
    private bool _isSealed;
    private bool _isControl;

    /// <summary>Creates a builder.</summary>
    /// <param name="compression">The codec applied at <see cref="Seal"/>.</param>
    /// <param name="compressionLevel">The codec's level, or null for its default (see <see cref="CompressionCodec.ValidateLevel"/>).</param>
    /// <param name="maxBatchBytes">The uncompressed size past which <see cref="TryAppend"/> refuses more records; the first record is always taken.</param>
    public RecordBatchBuilder(CompressionType compression = CompressionType.None, int? compressionLevel = null, int maxBatchBytes = 1024 * 1024)
    {
        if (compression > CompressionType.Zstd) throw new ArgumentOutOfRangeException(nameof(compression), compression, "Unknown compression type.");
        if (compressionLevel is { } l && CompressionCodec.ValidateLevel(compression, l) is { } problem)
            throw new ArgumentOutOfRangeException(nameof(compressionLevel), l, problem);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchBytes, RecordBatchHeader.Size);
        Compression = compression;
        CompressionLevel = compressionLevel;
        MaxBatchBytes = maxBatchBytes;
        Reset();
    }

    /// <summary>The codec applied at <see cref="Seal"/>.</summary>
    public CompressionType Compression { get; }

    /// <summary>The codec's level, or null for its default.</summary>
    public int? CompressionLevel { get; }

    /// <summary>The uncompressed size past which <see cref="TryAppend"/> refuses more records.</summary>
    public int MaxBatchBytes { get; }

    /// <summary>The number of records appended.</summary>
    public int Count { get; private set; }

    /// <summary>The uncompressed size of the batch so far, header included.</summary>
    public int SizeInBytes => _records.WrittenCount;

    /// <summary>The first record's timestamp, or -1 while the batch is empty.</summary>
    public long BaseTimestamp { get; private set; }

    /// <summary>The largest record timestamp, or -1 while the batch is empty.</summary>
    public long MaxTimestamp { get; private set; }

    /// <summary>The producer id written into the header; -1 when not idempotent.</summary>
    public long ProducerId { get; private set; }

    /// <summary>The producer epoch written into the header; -1 when not idempotent.</summary>
    public short ProducerEpoch { get; private set; }

    /// <summary>The sequence number of the first record; -1 when not idempotent.</summary>
    public int BaseSequence { get; private set; }

    /// <summary>True when the batch belongs to a transaction.</summary>
    public bool IsTransactional { get; private set; }

    /// <summary>True once <see cref="Seal"/> has run.</summary>
    public bool IsSealed => _isSealed;

    /// <summary>Empties the builder for a new batch, keeping its buffers.</summary>
    public void Reset()
    {
        _records.Clear();
        RecordBatchWriter.BeginBatch(_records);
        _compressed?.Clear();
        _sealed = default;
        _isSealed = false;
        _isControl = false;
        Count = 0;
        BaseTimestamp = -1;
        MaxTimestamp = -1;
        ProducerId = -1;
        ProducerEpoch = -1;
        BaseSequence = -1;
        IsTransactional = false;
    }

    /// <summary>
    /// Sets the idempotent producer fields. Before <see cref="Seal"/> they go into the header; after it the sealed batch
    /// is patched in place and its CRC recomputed.
    /// </summary>
    public void SetProducerState(long producerId, short producerEpoch, int baseSequence, bool transactional = false)
    {
        ProducerId = producerId;
        ProducerEpoch = producerEpoch;
        BaseSequence = baseSequence;
        IsTransactional = transactional;
        if (_isSealed) RecordBatch.SetProducerState(SealedSpan(), producerId, producerEpoch, baseSequence, transactional);
    }

    /// <summary>The encoded size of a record with these parts, its length prefix included.</summary>
    public static int SizeOfRecord(int offsetDelta, long timestampDelta, int keyLength, int valueLength, ReadOnlySpan<RecordHeader> headers)
    {
        var body = BodySize(offsetDelta, timestampDelta, keyLength, valueLength, HeadersSize(headers), headers.Length);
        return RecordBatchWriter.RecordSize(body);
    }

    /// <summary>
    /// Appends a record unless it would take the batch past <see cref="MaxBatchBytes"/> (the first record always fits).
    /// </summary>
    /// <param name="timestamp">Milliseconds since the Unix epoch.</param>
    /// <param name="key">The key bytes (ignored when <paramref name="keyIsNull"/>).</param>
    /// <param name="value">The value bytes (ignored when <paramref name="valueIsNull"/>).</param>
    /// <param name="headers">The headers, in order.</param>
    /// <param name="keyIsNull">Writes a null key.</param>
    /// <param name="valueIsNull">Writes a null value (a tombstone).</param>
    /// <returns>False when the batch is full; nothing was written.</returns>
    public bool TryAppend(long timestamp, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ReadOnlySpan<RecordHeader> headers = default,
        bool keyIsNull = false, bool valueIsNull = false)
    {
        if (_isSealed) throw new InvalidOperationException("The batch is sealed; call Reset to build another.");
        if (_isControl) throw new InvalidOperationException("A control batch holds only its control record.");
        var offsetDelta = Count;
        var timestampDelta = Count == 0 ? 0 : timestamp - BaseTimestamp;
        var keyLength = keyIsNull ? -1 : key.Length;
        var valueLength = valueIsNull ? -1 : value.Length;
        var headersSize = HeadersSize(headers);
        var body = BodySize(offsetDelta, timestampDelta, keyLength, valueLength, headersSize, headers.Length);
        var total = RecordBatchWriter.RecordSize(body);
        if (Count > 0 && (long)_records.WrittenCount + total > MaxBatchBytes) return false;

        var s = _records.GetSpan(total);
        var p = RecordBatchWriter.WriteRecordStart(s, body, timestampDelta, offsetDelta, key, keyLength, value, valueLength, headers.Length);
        Span<byte> keyBuffer = stackalloc byte[256];
        foreach (ref readonly var h in headers)
        {
            var keyBytes = Encoding.UTF8.GetByteCount(h.Key);
            var encodedKey = keyBytes <= keyBuffer.Length ? keyBuffer[..keyBytes] : new byte[keyBytes];
            Encoding.UTF8.GetBytes(h.Key, encodedKey);
            var headerValue = h.Value.GetValueOrDefault();
            p += RecordBatchWriter.WriteHeader(s[p..], encodedKey, headerValue.Span, h.Value is null ? -1 : headerValue.Length);
        }
        _records.Advance(p);

        if (Count == 0)
        {
            BaseTimestamp = timestamp;
            MaxTimestamp = timestamp;
        }
        else if (timestamp > MaxTimestamp)
        {
            MaxTimestamp = timestamp;
        }
        Count++;
        return true;
    }

    /// <summary>Appends a record; see <see cref="TryAppend"/>.</summary>
    /// <exception cref="InvalidOperationException">The batch is full.</exception>
    public void Append(long timestamp, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ReadOnlySpan<RecordHeader> headers = default,
        bool keyIsNull = false, bool valueIsNull = false)
    {
        if (!TryAppend(timestamp, key, value, headers, keyIsNull, valueIsNull))
            throw new InvalidOperationException($"The batch is full ({MaxBatchBytes} bytes).");
    }

    /// <summary>
    /// Makes this an empty batch's only record: a transaction marker. The batch becomes a transactional control batch;
    /// set the producer with <see cref="SetProducerState"/>.
    /// </summary>
    public void AppendEndTransactionMarker(ControlRecordType type, int coordinatorEpoch, long timestamp)
    {
        if (Count != 0) throw new InvalidOperationException("A control batch holds only its control record.");
        Span<byte> key = stackalloc byte[ControlRecord.KeySize];
        Span<byte> value = stackalloc byte[ControlRecord.EndTransactionMarkerSize];
        ControlRecord.WriteKey(key, type);
        ControlRecord.WriteEndTransactionMarker(value, coordinatorEpoch);
        TryAppend(timestamp, key, value);
        _isControl = true;
        IsTransactional = true;
    }

    /// <summary>
    /// Finishes the batch: compresses the records, writes the header and the CRC. Calling it again returns the same batch.
    /// </summary>
    public ReadOnlyMemory<byte> Seal()
    {
        if (_isSealed) return _sealed;
        PooledBufferWriter target;
        if (Compression == CompressionType.None)
        {
            target = _records;
        }
        else
        {
            target = _compressed ??= new PooledBufferWriter(4096);
            target.Clear();
            RecordBatchWriter.BeginBatch(target);
            CompressionCodec.Compress(Compression, _records.WrittenSpan[RecordBatchHeader.Size..], target, CompressionLevel, 2);
        }
        var attributes = (int)Compression;
        if (IsTransactional) attributes |= RecordBatchHeader.TransactionalFlag;
        if (_isControl) attributes |= RecordBatchHeader.ControlFlag;
        RecordBatchWriter.FinishBatch(target.WrittenSpanMutable, (short)attributes, Count, BaseTimestamp, MaxTimestamp, ProducerId, ProducerEpoch, BaseSequence);
        _sealed = target.WrittenMemory;
        _isSealed = true;
        return _sealed;
    }

    private Span<byte> SealedSpan() => (_compressed is not null && Compression != CompressionType.None ? _compressed : _records).WrittenSpanMutable;

    /// <summary>Returns the buffers to the pool.</summary>
    public void Dispose()
    {
        _records.Dispose();
        _compressed?.Dispose();
        _sealed = default;
    }

    private static int HeadersSize(ReadOnlySpan<RecordHeader> headers)
    {
        var size = 0;
        foreach (ref readonly var h in headers)
        {
            if (h.Key is null) throw new ArgumentException("A header key cannot be null.", nameof(headers));
            size += RecordBatchWriter.HeaderSize(Encoding.UTF8.GetByteCount(h.Key), h.Value is { } hv ? hv.Length : -1);
        }
        return size;
    }

    private static int BodySize(int offsetDelta, long timestampDelta, int keyLength, int valueLength, int headersSize, int headerCount) =>
        RecordBatchWriter.RecordBodySize(timestampDelta, offsetDelta, keyLength, valueLength, headerCount, headersSize);
}
