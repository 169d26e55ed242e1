namespace Kiel.Consuming;

/// <summary>
/// Records of one partition from one Fetch, read in place without allocating per record. Dispose it (or let
/// <c>await foreach</c> over batches do so) to hand its buffer back; a batch is reused after it is disposed.
/// </summary>
public sealed class ConsumedBatch : IDisposable
{
    private readonly FetchEngine _engine;
    private readonly System.Collections.Concurrent.ConcurrentBag<ConsumedBatch>? _pool;
    private FetchedChunk? _chunk;

    internal ConsumedBatch(FetchEngine engine, System.Collections.Concurrent.ConcurrentBag<ConsumedBatch>? pool = null)
    {
        _engine = engine;
        _pool = pool;
    }

    internal ConsumedBatch Attach(FetchedChunk chunk)
    {
        _chunk = chunk;
        TopicPartition = chunk.TopicPartition;
        return this;
    }

    /// <summary>The partition the records belong to.</summary>
    public TopicPartition TopicPartition { get; private set; }

    /// <summary>Reads the next record. The record's spans stay valid until the next call or until the batch is disposed.
    /// Returns false at the end, or when the partition was sought, paused away or unassigned meanwhile.</summary>
    public bool TryReadNext(out RawRecord record)
    {
        var chunk = _chunk ?? throw new ObjectDisposedException(nameof(ConsumedBatch));
        if (!chunk.IsCurrent)
        {
            record = default;
            return false;
        }
        return chunk.TryReadNext(out record);
    }

    /// <summary>Hands the batch's buffer back to the consumer.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _chunk, null) is not { } chunk) return;
        chunk.State.MarkProcessed(chunk.Version);
        _engine.Release(chunk);
        _pool?.Add(this);
    }
}
