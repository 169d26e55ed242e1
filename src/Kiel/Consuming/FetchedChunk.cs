using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;

namespace Kiel.Consuming;

/// <summary>
/// The records one Fetch response returned for one partition, read in place from the response's receive buffer by
/// the records layer's <see cref="RecordSetCursor"/> (compressed batches are inflated into one pooled buffer, reused
/// batch after batch). One reader at a time. Records below the requested offset, control batches and, under
/// read-committed, aborted transactions are skipped. Disposing it releases its share of the receive buffer.
/// </summary>
/// <remarks>
/// The data holds only complete batches that <see cref="RecordSetScanner"/> accepted (their checksums included, when
/// checked), so the cursor checks the CRCs of the messages inside legacy compressed wrappers only.
/// </remarks>
internal sealed class FetchedChunk : IDisposable
{
    private FetchLease? _lease;
    private ReadOnlyMemory<byte> _data;
    private RecordSetCursor? _cursor;

    // Cursors of disposed chunks, reused by the next chunks (one per partition answer otherwise): a cursor belongs to
    // one chunk from construction to Dispose, and is reset (its scratch buffer returned) before it is put back.
    private static readonly System.Collections.Concurrent.ConcurrentQueue<RecordSetCursor> s_cursors = new();
    private static int s_pooledCursors;
    private const int MaxPooledCursors = 1024;

    private int _released;

    private AbortedTransaction[]? _aborted;
    private int _abortedIndex;
    private HashSet<long>? _abortingProducers;

    internal FetchedChunk(PartitionState state, int version, FetchLease? lease, ReadOnlyMemory<byte> data, long fetchOffset,
        long nextOffset, IReadOnlyList<AbortedTransaction>? aborted, bool readCommitted, bool checkCrcs = true,
        int maxDecompressedBytes = CompressionCodec.DefaultMaxDecompressedBytes) =>
        Open(state, version, lease, data, fetchOffset, nextOffset, aborted, readCommitted, checkCrcs, maxDecompressedBytes);

    /// <summary>An empty chunk of records, for <see cref="Open"/>.</summary>
    internal FetchedChunk() => State = null!;

    /// <summary>
    /// Fills a new chunk, or one the engine took back (<see cref="FetchEngine.Release"/>): a chunk of records is reused
    /// once it has been released, which is the last thing any holder does with it.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(State))]
    internal FetchedChunk Open(PartitionState state, int version, FetchLease? lease, ReadOnlyMemory<byte> data, long fetchOffset,
        long nextOffset, IReadOnlyList<AbortedTransaction>? aborted, bool readCommitted, bool checkCrcs,
        int maxDecompressedBytes)
    {
        State = state;
        Version = version;
        TopicPartition = state.TopicPartition;
        _lease = lease;
        _data = data;
        FetchOffset = fetchOffset;
        NextOffset = nextOffset;
        Delivered = 0;
        _aborted = null;
        _abortedIndex = 0;
        _abortingProducers?.Clear();
        Volatile.Write(ref _released, 0);
        var cursor = RentCursor();
        cursor.VerifyBatchCrc = false; // the scan checked every batch before this chunk was made
        cursor.VerifyInnerCrc = checkCrcs;
        cursor.MaxDecompressedBytes = maxDecompressedBytes;
        cursor.AllowTruncatedTail = true;
        cursor.MinOffset = fetchOffset;
        cursor.Topic = TopicPartition.Topic;
        cursor.Partition = TopicPartition.Partition;
        _cursor = cursor;
        if (readCommitted && aborted is { Count: > 0 })
        {
            _aborted = [.. aborted];
            Array.Sort(_aborted, static (a, b) => a.FirstOffset.CompareTo(b.FirstOffset));
        }
        return this;
    }

    /// <summary>A chunk that carries an error for the application instead of records.</summary>
    internal FetchedChunk(PartitionState state, int version, Exception error)
    {
        State = state;
        Version = version;
        TopicPartition = state.TopicPartition;
        Error = error;
    }

    public PartitionState State { get; private set; }

    public int Version { get; private set; }

    public TopicPartition TopicPartition { get; private set; }

    /// <summary>The offset the Fetch asked for; records below it are skipped.</summary>
    public long FetchOffset { get; private set; }

    /// <summary>The offset after the last complete batch of this chunk.</summary>
    public long NextOffset { get; private set; }

    /// <summary>Bytes counted against the prefetch bound.</summary>
    public int Bytes => _data.Length;

    /// <summary>An error to surface instead of records (for example an out-of-range offset under the Error policy).</summary>
    public Exception? Error { get; }

    /// <summary>How many records this chunk handed out.</summary>
    public int Delivered { get; private set; }

    /// <summary>True while the partition has not been sought, reset or unassigned since this chunk was fetched.</summary>
    public bool IsCurrent => State.Assigned && State.Version == Version;

    /// <summary>Reads the next deliverable record; false at the end of the chunk.</summary>
    /// <exception cref="Kiel.KafkaProtocolException">A batch is malformed.</exception>
    /// <exception cref="CorruptRecordException">A message inside a legacy compressed wrapper fails its CRC.</exception>
    public bool TryReadNext(out RawRecord record)
    {
        var cursor = _cursor;
        if (cursor is null)
        {
            record = default;
            return false;
        }
        var set = _data.Span;
        while (true)
        {
            if (cursor.IsBatchOpen && cursor.MoveNextRecord(set, out var next))
            {
                var offset = next.Offset;
                // A seek from another thread wins: a stale chunk must not move the new position.
                if (State.Version == Version) Volatile.Write(ref State.ConsumedPosition, offset + 1);
                Delivered++;
                record = new RawRecord(TopicPartition, offset, next.Timestamp, (TimestampType)next.TimestampType,
                    cursor.PartitionLeaderEpoch, next.Key, next.IsKeyNull, next.Value, next.IsValueNull,
                    next.RawHeaders, next.HeaderCount);
                return true;
            }
            if (!cursor.MoveNextBatch(set))
            {
                record = default;
                // Control batches and skipped tails still move the position on.
                if (IsCurrent && Volatile.Read(ref State.ConsumedPosition) < NextOffset)
                    Volatile.Write(ref State.ConsumedPosition, NextOffset);
                return false;
            }
            if (Skip(cursor, set)) cursor.CloseBatch();
        }
    }

    /// <summary>True for a batch the application must not see: a control batch, empty, or an aborted transaction's.</summary>
    private bool Skip(RecordSetCursor cursor, ReadOnlySpan<byte> set)
    {
        var batch = cursor.CurrentBatch;
        if (_aborted is not null)
        {
            while (_abortedIndex < _aborted.Length && _aborted[_abortedIndex].FirstOffset <= batch.LastOffset)
                (_abortingProducers ??= []).Add(_aborted[_abortedIndex++].ProducerId);
            if (batch.IsControl)
            {
                // The abort marker closes that producer's aborted transaction.
                if (_abortingProducers is not null && IsAbortMarker(cursor, set)) _abortingProducers.Remove(batch.ProducerId);
                return true;
            }
            if (batch.IsTransactional && _abortingProducers is not null && _abortingProducers.Contains(batch.ProducerId)) return true;
        }
        return batch.IsControl || batch.RecordCount <= 0;
    }

    private static bool IsAbortMarker(RecordSetCursor cursor, ReadOnlySpan<byte> set)
    {
        if (!cursor.MoveNextRecord(set, out var marker) || marker.IsKeyNull || marker.Key.Length < ControlRecord.KeySize) return false;
        return ControlRecord.ReadType(marker.Key) == ControlRecordType.Abort;
    }

    /// <summary>True the first time only: the engine's <see cref="FetchEngine.Release"/> counts, and reuses, a chunk once.</summary>
    internal bool TryMarkReleased() => Interlocked.Exchange(ref _released, 1) == 0;

    public void Dispose()
    {
        _data = default;
        if (Interlocked.Exchange(ref _cursor, null) is { } cursor) ReturnCursor(cursor);
        Interlocked.Exchange(ref _lease, null)?.Release();
    }

    private static RecordSetCursor RentCursor()
    {
        if (!s_cursors.TryDequeue(out var cursor)) return new RecordSetCursor();
        Interlocked.Decrement(ref s_pooledCursors);
        return cursor;
    }

    private static void ReturnCursor(RecordSetCursor cursor)
    {
        cursor.Dispose();
        cursor.Reset();
        cursor.Topic = null;
        if (Interlocked.Increment(ref s_pooledCursors) <= MaxPooledCursors) s_cursors.Enqueue(cursor);
        else Interlocked.Decrement(ref s_pooledCursors);
    }
}
