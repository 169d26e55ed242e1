using System.Buffers;
using System.Buffers.Binary;

namespace Kiel.Consuming;

/// <summary>
/// The records one Fetch response returned for one partition, read in place from the response's receive buffer
/// (compressed batches are inflated into one pooled buffer, reused batch after batch). One reader at a time.
/// Records below the requested offset, control batches and, under read-committed, aborted transactions are skipped.
/// Disposing it releases its share of the receive buffer.
/// </summary>
internal sealed partial class FetchedChunk : IDisposable
{
    private const int ModeNone = 0, ModeV2 = 2, ModeLegacy = 1;

    private FetchLease? _lease;
    private ReadOnlyMemory<byte> _data;
    private int _pos;

    private byte[]? _inflated;
    private bool _regionInflated;
    private int _regionPos, _regionEnd;
    private int _mode;
    private int _remaining;

    private long _baseOffset, _baseTimestamp, _maxTimestamp, _legacyOffsetAdjust, _legacyWrapperTimestamp;
    private bool _logAppendTime;
    private int _leaderEpoch;

    private AbortedTransaction[]? _aborted;
    private int _abortedIndex;
    private HashSet<long>? _abortingProducers;

    internal FetchedChunk(PartitionState state, int version, FetchLease? lease, ReadOnlyMemory<byte> data, long fetchOffset,
        long nextOffset, IReadOnlyList<AbortedTransaction>? aborted, bool readCommitted)
    {
        State = state;
        Version = version;
        TopicPartition = state.TopicPartition;
        _lease = lease;
        _data = data;
        FetchOffset = fetchOffset;
        NextOffset = nextOffset;
        if (readCommitted && aborted is { Count: > 0 })
        {
            _aborted = [.. aborted];
            Array.Sort(_aborted, static (a, b) => a.FirstOffset.CompareTo(b.FirstOffset));
        }
    }

    /// <summary>A chunk that carries an error for the application instead of records.</summary>
    internal FetchedChunk(PartitionState state, int version, Exception error)
    {
        State = state;
        Version = version;
        TopicPartition = state.TopicPartition;
        Error = error;
    }

    public PartitionState State { get; }

    public int Version { get; }

    public TopicPartition TopicPartition { get; }

    /// <summary>The offset the Fetch asked for; records below it are skipped.</summary>
    public long FetchOffset { get; }

    /// <summary>The offset after the last complete batch of this chunk.</summary>
    public long NextOffset { get; }

    /// <summary>Bytes counted against the prefetch bound.</summary>
    public int Bytes => _data.Length;

    /// <summary>An error to surface instead of records (for example an out-of-range offset under the Error policy).</summary>
    public Exception? Error { get; }

    /// <summary>How many records this chunk handed out.</summary>
    public int Delivered { get; private set; }

    /// <summary>True while the partition has not been sought, reset or unassigned since this chunk was fetched.</summary>
    public bool IsCurrent => State.Assigned && State.Version == Version;

    /// <summary>Reads the next deliverable record; false at the end of the chunk.</summary>
    public bool TryReadNext(out RawRecord record)
    {
        while (true)
        {
            if (_mode == ModeV2 && _remaining > 0)
            {
                _remaining--;
                if (ReadV2(out record)) return true;
                continue;
            }
            if (_mode == ModeLegacy && _regionPos < _regionEnd)
            {
                if (ReadLegacy(out record)) return true;
                continue;
            }
            if (!NextEntry())
            {
                record = default;
                // Control batches and skipped tails still move the position on.
                if (IsCurrent && Volatile.Read(ref State.ConsumedPosition) < NextOffset)
                    Volatile.Write(ref State.ConsumedPosition, NextOffset);
                return false;
            }
        }
    }

    private ReadOnlySpan<byte> Region => _regionInflated
        ? _inflated.AsSpan(_regionPos, _regionEnd - _regionPos)
        : _data.Span[_regionPos.._regionEnd];

    private bool Deliver(long offset)
    {
        if (offset < FetchOffset) return false;
        // A seek from another thread wins: a stale chunk must not move the new position.
        if (State.Version == Version) Volatile.Write(ref State.ConsumedPosition, offset + 1);
        Delivered++;
        return true;
    }

    private bool ReadV2(out RawRecord record)
    {
        var span = Region;
        var start = span.Length;
        var length = RecordSpanReader.ReadVarInt(ref span);
        if (length < 0 || length > span.Length) throw RecordSpanReader.Malformed("record length");
        var next = _regionPos + (start - span.Length) + length;
        span = span[..length];
        span = span[1..]; // attributes: unused
        var timestampDelta = RecordSpanReader.ReadVarLong(ref span);
        var offsetDelta = RecordSpanReader.ReadVarInt(ref span);
        var key = RecordSpanReader.ReadVarBytes(ref span, out var keyIsNull);
        var value = RecordSpanReader.ReadVarBytes(ref span, out var valueIsNull);
        var headerCount = RecordSpanReader.ReadVarInt(ref span);
        if (headerCount < 0) headerCount = 0;
        _regionPos = next;
        var offset = _baseOffset + offsetDelta;
        if (!Deliver(offset))
        {
            record = default;
            return false;
        }
        var timestamp = _logAppendTime ? _maxTimestamp : _baseTimestamp + timestampDelta;
        record = new RawRecord(TopicPartition, offset, timestamp, _logAppendTime ? TimestampType.LogAppendTime : TimestampType.CreateTime,
            _leaderEpoch, key, keyIsNull, value, valueIsNull, span, headerCount);
        return true;
    }

    private bool ReadLegacy(out RawRecord record)
    {
        var span = Region;
        if (span.Length < 12)
        {
            _regionPos = _regionEnd;
            record = default;
            return false;
        }
        var offset = BinaryPrimitives.ReadInt64BigEndian(span) + _legacyOffsetAdjust;
        var size = BinaryPrimitives.ReadInt32BigEndian(span[8..]);
        if (size < 6 || size > span.Length - 12)
        {
            // A message cut short by the byte limit ends the set.
            _regionPos = _regionEnd;
            record = default;
            return false;
        }
        _regionPos += 12 + size;
        var message = span.Slice(12, size);
        var magic = message[4];
        var attributes = message[5];
        var body = message[6..];
        long timestamp = -1;
        var type = TimestampType.NotAvailable;
        if (magic >= 1)
        {
            if (body.Length < 8) throw RecordSpanReader.Malformed("message timestamp");
            timestamp = BinaryPrimitives.ReadInt64BigEndian(body);
            type = (attributes & 0x08) != 0 ? TimestampType.LogAppendTime : TimestampType.CreateTime;
            body = body[8..];
        }
        if (_legacyWrapperTimestamp >= 0)
        {
            timestamp = _legacyWrapperTimestamp;
            type = TimestampType.LogAppendTime;
        }
        var key = RecordSpanReader.ReadInt32Bytes(ref body, out var keyIsNull);
        var value = RecordSpanReader.ReadInt32Bytes(ref body, out var valueIsNull);
        if (!Deliver(offset))
        {
            record = default;
            return false;
        }
        record = new RawRecord(TopicPartition, offset, timestamp, type, -1, key, keyIsNull, value, valueIsNull, default, 0);
        return true;
    }

    /// <summary>Moves to the next batch or legacy entry that has records to deliver.</summary>
    private bool NextEntry()
    {
        _mode = ModeNone;
        var all = _data.Span;
        while (all.Length - _pos >= LogScan.EntryPrefix)
        {
            var entry = all[_pos..];
            var baseOffset = BinaryPrimitives.ReadInt64BigEndian(entry);
            var size = BinaryPrimitives.ReadInt32BigEndian(entry[8..]);
            if (size < 5 || size > entry.Length - 12) return false;
            var entryStart = _pos;
            _pos += 12 + size;
            entry = entry[..(12 + size)];
            var magic = entry[16];
            if (magic >= 2)
            {
                if (OpenBatch(entry, entryStart, baseOffset)) return true;
            }
            else if (OpenLegacy(entry, entryStart, baseOffset, magic))
            {
                return true;
            }
        }
        return false;
    }

    private bool OpenBatch(ReadOnlySpan<byte> batch, int batchStart, long baseOffset)
    {
        if (batch.Length < 61) throw RecordSpanReader.Malformed("batch header");
        var leaderEpoch = BinaryPrimitives.ReadInt32BigEndian(batch[12..]);
        var attributes = BinaryPrimitives.ReadInt16BigEndian(batch[21..]);
        var lastOffset = baseOffset + BinaryPrimitives.ReadInt32BigEndian(batch[23..]);
        var producerId = BinaryPrimitives.ReadInt64BigEndian(batch[43..]);
        var count = BinaryPrimitives.ReadInt32BigEndian(batch[57..]);
        var transactional = (attributes & 0x10) != 0;
        var control = (attributes & 0x20) != 0;

        if (_aborted is not null)
        {
            while (_abortedIndex < _aborted.Length && _aborted[_abortedIndex].FirstOffset <= lastOffset)
                (_abortingProducers ??= []).Add(_aborted[_abortedIndex++].ProducerId);
            if (control)
            {
                // The abort marker closes that producer's aborted transaction.
                if (IsAbortMarker(batch[61..]) && _abortingProducers is not null) _abortingProducers.Remove(producerId);
                return false;
            }
            if (transactional && _abortingProducers is not null && _abortingProducers.Contains(producerId)) return false;
        }
        if (control || count <= 0 || lastOffset < FetchOffset) return false;

        _baseOffset = baseOffset;
        _baseTimestamp = BinaryPrimitives.ReadInt64BigEndian(batch[27..]);
        _maxTimestamp = BinaryPrimitives.ReadInt64BigEndian(batch[35..]);
        _logAppendTime = (attributes & 0x08) != 0;
        _leaderEpoch = leaderEpoch;
        _remaining = count;
        _mode = ModeV2;
        var codec = attributes & 0x07;
        if (codec == 0)
        {
            _regionInflated = false;
            _regionPos = batchStart + 61;
            _regionEnd = batchStart + batch.Length;
        }
        else
        {
            _regionInflated = true;
            _regionPos = 0;
            _regionEnd = RecordDecompressor.Decompress(codec, batch[61..], ref _inflated);
        }
        return true;
    }

    private static bool IsAbortMarker(ReadOnlySpan<byte> records)
    {
        try
        {
            var span = records;
            var length = RecordSpanReader.ReadVarInt(ref span);
            if (length <= 0) return false;
            span = span[1..];
            RecordSpanReader.ReadVarLong(ref span);
            RecordSpanReader.ReadVarInt(ref span);
            var key = RecordSpanReader.ReadVarBytes(ref span, out var isNull);
            return !isNull && key.Length >= 4 && BinaryPrimitives.ReadInt16BigEndian(key[2..]) == 0;
        }
        catch (Kiel.KafkaProtocolException)
        {
            return false;
        }
    }

    private bool OpenLegacy(ReadOnlySpan<byte> entry, int entryStart, long offset, byte magic)
    {
        var attributes = entry[17];
        var codec = attributes & 0x07;
        _legacyWrapperTimestamp = -1;
        if (codec == 0)
        {
            if (offset < FetchOffset) return false;
            _legacyOffsetAdjust = 0;
            _regionInflated = false;
            _regionPos = entryStart;
            _regionEnd = entryStart + entry.Length;
            _mode = ModeLegacy;
            return true;
        }
        if (offset < FetchOffset) return false; // the wrapper's offset is its last inner offset
        var body = entry[18..];
        long wrapperTimestamp = -1;
        if (magic >= 1)
        {
            if (body.Length < 8) throw RecordSpanReader.Malformed("message timestamp");
            wrapperTimestamp = BinaryPrimitives.ReadInt64BigEndian(body);
            body = body[8..];
        }
        RecordSpanReader.ReadInt32Bytes(ref body, out _);
        var value = RecordSpanReader.ReadInt32Bytes(ref body, out var valueIsNull);
        if (valueIsNull) return false;
        _regionInflated = true;
        _regionPos = 0;
        _regionEnd = RecordDecompressor.Decompress(codec, value, ref _inflated, magic);
        // Magic 1 inner offsets are relative (KIP-31); the wrapper holds the absolute offset of the last one.
        // Magic 0 inner offsets written by a broker are already absolute, and then the adjustment is 0.
        var lastInner = LastLegacyOffset(_inflated.AsSpan(0, _regionEnd));
        _legacyOffsetAdjust = lastInner < 0 ? 0 : offset - lastInner;
        if (magic >= 1 && (attributes & 0x08) != 0) _legacyWrapperTimestamp = wrapperTimestamp;
        _mode = ModeLegacy;
        return true;
    }

    private static long LastLegacyOffset(ReadOnlySpan<byte> set)
    {
        long last = -1;
        while (set.Length >= 12)
        {
            var size = BinaryPrimitives.ReadInt32BigEndian(set[8..]);
            if (size < 0 || size > set.Length - 12) break;
            last = BinaryPrimitives.ReadInt64BigEndian(set);
            set = set[(12 + size)..];
        }
        return last;
    }

    public void Dispose()
    {
        _data = default;
        _mode = ModeNone;
        if (_inflated is { } buffer)
        {
            _inflated = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
        Interlocked.Exchange(ref _lease, null)?.Release();
    }
}
