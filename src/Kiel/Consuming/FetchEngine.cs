// Design of the fetch engine (shared by KielConsumer, SingleConsumer and the GroupedConsumer):
//
// * One PartitionState per assigned partition holds the fetch position (next offset to ask for), the consumed
//   position (next offset handed out), the leader, pause/reset flags and a Version that changes on every seek,
//   reset and unassign. Anything fetched for an older Version is dropped, so Unassign and Seek never leak
//   stale records to the application.
// * A leader broker's partitions are split between two lanes (PartitionState.Lane); one BrokerFetchSource per
//   broker and lane keeps exactly one Fetch outstanding on a connection of its own, covering every fetchable
//   partition of its lane, with an incremental fetch session (KIP-227) when the broker grants one.
// * A response is cut into one FetchedChunk per partition; the chunks share the response's pooled receive
//   buffer through a FetchLease and records are decoded in place only when the application reads them.
//   The fetch position moves on as soon as the response's framing is walked, so the next Fetch is sent before
//   the batches' CRC-32Cs are checked (the source checks them while that Fetch is on the wire, then hands the
//   chunks out) and while the application still reads; the prefetch buffer is bounded by MaxPrefetchBytes.
// * Errors: OFFSET_OUT_OF_RANGE applies the reset policy (logged); leadership errors and failed connections
//   clear the partition's leader, and the metadata loop finds the new one; the position is untouched, so
//   consumption resumes at the same offset. All broker-bound durations are milliseconds.
// * Threading: state is guarded by one lock; sources and the metadata loop are background tasks stopped by
//   DisposeAsync. Chunks are taken by any number of readers, but one partition's chunks should be read by one.
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.Consuming;

/// <summary>Fetches assigned partitions from their leaders into a bounded buffer of <see cref="FetchedChunk"/>s.</summary>
internal sealed partial class FetchEngine : IAsyncDisposable
{
    private readonly IConsumerBackend _backend;
    private readonly KielConsumerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly Dictionary<TopicPartition, PartitionState> _partitions = [];
    private readonly Dictionary<(int Broker, int Lane), BrokerFetchSource> _sources = [];
    private readonly Channel<FetchedChunk> _ready = Channel.CreateUnbounded<FetchedChunk>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
    private readonly AsyncSignal _metadataSignal = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _metadataLoop;
    private long _bufferedBytes;
    private bool _disposed;

    public FetchEngine(IConsumerBackend backend, KielConsumerOptions options)
    {
        _backend = backend;
        _options = options;
        _time = options.TimeProvider ?? TimeProvider.System;
        _logger = options.LoggerFactory?.CreateLogger("Kiel.Consuming.FetchEngine") ?? NullLogger.Instance;
        _metadataLoop = Task.Run(MetadataLoopAsync);
        Kiel.Diagnostics.ClientMetrics.RegisterLag(this, LagSnapshot);
    }

    // For the consumer-lag gauge: partitions whose high watermark is known.
    private List<(string Topic, int Partition, long Lag)> LagSnapshot()
    {
        lock (_gate)
        {
            var result = new List<(string, int, long)>(_partitions.Count);
            foreach (var (tp, s) in _partitions)
                if (s.HighWatermark >= 0) result.Add((tp.Topic, tp.Partition, Math.Max(0, s.HighWatermark - Volatile.Read(ref s.ConsumedPosition))));
            return result;
        }
    }

    internal IConsumerBackend Backend => _backend;
    internal TimeProvider Time => _time;

    internal KielConsumerOptions Options => _options;

    internal ILogger Logger => _logger;

    /// <summary>The partitions currently assigned.</summary>
    public IReadOnlyList<TopicPartition> Assignment
    {
        get
        {
            lock (_gate) return [.. _partitions.Keys];
        }
    }

    /// <summary>Starts (or restarts) fetching <paramref name="topicPartition"/> at <paramref name="offset"/> (0 or more).</summary>
    public void Assign(TopicPartition topicPartition, long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_partitions.TryGetValue(topicPartition, out var existing))
            {
                existing.Reposition(offset);
                existing.Resetting = false;
                WakeLocked(existing);
                return;
            }
            _partitions[topicPartition] = new PartitionState(topicPartition, offset, _options.MaxPartitionFetchBytes);
        }
        _metadataSignal.Set();
    }

    /// <summary>Stops fetching <paramref name="topicPartition"/> and drops whatever was fetched for it but not handed out.</summary>
    public bool Unassign(TopicPartition topicPartition)
    {
        lock (_gate)
        {
            if (!_partitions.Remove(topicPartition, out var state)) return false;
            state.Assigned = false;
            state.Version++;
            WakeLocked(state);
            return true;
        }
    }

    /// <summary>Moves the position of an assigned partition; records fetched from the old position are dropped.</summary>
    /// <exception cref="InvalidOperationException">The partition is not assigned.</exception>
    public void Seek(TopicPartition topicPartition, long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        lock (_gate)
        {
            var state = Get(topicPartition);
            state.Reposition(offset);
            state.Resetting = false;
            WakeLocked(state);
        }
    }

    /// <summary>Stops fetching a partition without losing its position. Records already buffered are still handed out.</summary>
    public void Pause(TopicPartition topicPartition)
    {
        lock (_gate) Get(topicPartition).Paused = true;
    }

    /// <summary>Resumes fetching a paused partition.</summary>
    public void Resume(TopicPartition topicPartition)
    {
        lock (_gate)
        {
            var state = Get(topicPartition);
            state.Paused = false;
            WakeLocked(state);
        }
    }

    /// <summary>The next offset that will be handed out for <paramref name="topicPartition"/>, or null when it is not assigned.</summary>
    public long? Position(TopicPartition topicPartition)
    {
        lock (_gate) return _partitions.TryGetValue(topicPartition, out var s) ? Volatile.Read(ref s.ConsumedPosition) : null;
    }

    /// <summary>For each assigned partition of <paramref name="partitions"/>, the next offset after what the application moved past.</summary>
    public Dictionary<TopicPartition, long> CommittablePositions(IEnumerable<TopicPartition> partitions)
    {
        var result = new Dictionary<TopicPartition, long>();
        lock (_gate)
            foreach (var tp in partitions)
                if (_partitions.TryGetValue(tp, out var s)) result[tp] = Volatile.Read(ref s.Committable);
        return result;
    }

    /// <summary>The last high watermark a Fetch reported for the partition, or -1.</summary>
    public long HighWatermark(TopicPartition topicPartition)
    {
        lock (_gate) return _partitions.TryGetValue(topicPartition, out var s) ? s.HighWatermark : -1;
    }

    private PartitionState Get(TopicPartition topicPartition) =>
        _partitions.TryGetValue(topicPartition, out var state)
            ? state
            : throw new InvalidOperationException($"{topicPartition} is not assigned to this consumer; assign it first.");

    // An error chunk taken by a call that already gathered records, kept for the next take (see PutBack).
    private FetchedChunk? _putBack;

    /// <summary>
    /// Keeps an error chunk for the next <see cref="TakeAsync"/> or <see cref="TryTake"/>: a consume call that already
    /// gathered records returns them first and reports the error on the next call, so no record is lost with it.
    /// </summary>
    public void PutBack(FetchedChunk errorChunk)
    {
        if (Interlocked.Exchange(ref _putBack, errorChunk) is { } older) Release(older);
    }

    /// <summary>Waits for the next chunk of records (or an error to surface). The caller passes it to <see cref="Release"/> when done.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FetchedChunk> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (Interlocked.Exchange(ref _putBack, null) is { } kept)
            {
                if (kept.IsCurrent) return kept;
                Release(kept);
                continue;
            }
            if (!_ready.Reader.TryRead(out var chunk))
                chunk = await _ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (chunk.IsCurrent) return chunk;
            Release(chunk);
        }
    }

    /// <summary>Takes the next chunk if one is buffered.</summary>
    public bool TryTake([NotNullWhen(true)] out FetchedChunk? chunk)
    {
        while (Interlocked.Exchange(ref _putBack, null) is { } kept)
        {
            if (kept.IsCurrent)
            {
                chunk = kept;
                return true;
            }
            Release(kept);
        }
        while (_ready.Reader.TryRead(out chunk))
        {
            if (chunk.IsCurrent) return true;
            Release(chunk);
        }
        return false;
    }

    /// <summary>
    /// Gives a taken chunk back: its buffer share is released and its bytes leave the prefetch bound. It is the last
    /// thing a holder does with the chunk: a chunk of records is then reused for a later partition answer (one per
    /// answer otherwise, most of what the raw path allocated at 10 KiB records). A second release of the same chunk
    /// before its reuse does nothing.
    /// </summary>
    public void Release(FetchedChunk chunk)
    {
        if (!chunk.TryMarkReleased()) return;
        var bytes = chunk.Bytes;
        ConsumerMetrics.Record(chunk.TopicPartition, chunk.Delivered, bytes);
        var reusable = chunk.Error is null;
        chunk.Dispose();
        ReleaseBytes(bytes);
        if (reusable) _chunkPool.Return(chunk);
    }

    private readonly Network.SmallPool<FetchedChunk> _chunkPool = new(256);

    /// <summary>Released chunks waiting for reuse (tests).</summary>
    internal int PooledChunks => _chunkPool.Count;

    /// <summary>Takes <paramref name="bytes"/> out of the prefetch bound, waking the sources when that frees room.</summary>
    private void ReleaseBytes(int bytes)
    {
        if (bytes == 0) return;
        var after = Interlocked.Add(ref _bufferedBytes, -bytes);
        if (after + bytes >= _options.MaxPrefetchBytes && after < _options.MaxPrefetchBytes)
        {
            lock (_gate)
                foreach (var source in _sources.Values)
                    source.Wake();
        }
    }

    private void Enqueue(FetchedChunk chunk)
    {
        Interlocked.Add(ref _bufferedBytes, chunk.Bytes);
        if (!_ready.Writer.TryWrite(chunk)) chunk.Dispose();
    }

    /// <summary>Bytes fetched and not yet released by the application (what <see cref="KielConsumerOptions.MaxPrefetchBytes"/> bounds).</summary>
    internal long BufferedBytes => Interlocked.Read(ref _bufferedBytes);

    internal bool BufferFull => BufferedBytes >= _options.MaxPrefetchBytes;

    private void WakeLocked(PartitionState state)
    {
        if (state.LeaderId >= 0 && _sources.TryGetValue((state.LeaderId, state.Lane), out var source)) source.Wake();
    }

    /// <summary>Clears the leader of a partition so that the metadata loop looks it up again.</summary>
    private void LoseLeaderLocked(PartitionState state)
    {
        state.LeaderId = -1;
        _metadataSignal.Set();
    }

    /// <summary>
    /// Every assigned partition's fetch state (positions, leader, and whatever holds it back from the next Fetch), every
    /// source's phase and the prefetch bound: what a debug log needs to say why a partition reads nothing. Caller holds the lock.
    /// </summary>
    internal string DescribeLocked()
    {
        var text = new System.Text.StringBuilder();
        foreach (var (tp, s) in _partitions)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"{tp} fetch {s.FetchPosition} consumed {Volatile.Read(ref s.ConsumedPosition)} high {s.HighWatermark} leader {s.LeaderId} epoch {s.LeaderEpoch}");
            if (s.Paused) text.Append(" paused");
            if (s.Resetting) text.Append(" resetting");
            if (s.InFlight) text.Append(" in-flight");
            if (s.DeferredBy is { } owner) text.Append(" deferred-by-").Append(owner.BrokerId);
            text.Append("; ");
        }
        foreach (var source in _sources.Values) text.Append(source.Describe()).Append("; ");
        var metadata = _metadataLoop.Exception is { } failed ? "failed: " + failed.GetBaseException().Message : _metadataLoop.IsCompleted ? "ended" : "running";
        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"buffered {BufferedBytes} of {_options.MaxPrefetchBytes} bytes; metadata loop {metadata}");
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            if (_partitions.Count > 0 && _logger.IsEnabled(LogLevel.Debug)) ConsumerLog.FetchState(_logger, _partitions.Count, DescribeLocked());
        }
        Kiel.Diagnostics.ClientMetrics.UnregisterLag(this);
        await _stop.CancelAsync().ConfigureAwait(false);
        List<Task> tasks = [_metadataLoop];
        lock (_gate)
        {
            foreach (var source in _sources.Values) tasks.Add(source.Completion);
            foreach (var state in _partitions.Values)
            {
                state.Assigned = false;
                state.Version++;
            }
            _partitions.Clear();
        }
        try
        {
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Shutdown is bounded: a source stuck in a request is abandoned, its buffer goes with the connection.
        }
        _ready.Writer.TryComplete();
        while (_ready.Reader.TryRead(out var chunk)) chunk.Dispose();
        Interlocked.Exchange(ref _putBack, null)?.Dispose();
        // A task abandoned by the bounded wait may still observe the token, so its source stays undisposed then.
        if (tasks.TrueForAll(t => t.IsCompleted)) _stop.Dispose();
    }
}
