using Kiel.Consuming;

namespace Kiel;

public partial class GroupedConsumer<TValue>
{
    // One fetch engine (one prefetch budget) over the member's one cluster, for every topic it reads. kiel's
    // consume(topic) reads one topic per call, so a chunk of another topic that arrives meanwhile is parked (still
    // counted in the budget) for that topic's next call, and its partition is paused until the chunk is handed out.
    private FetchReader? _reader;
    private readonly Dictionary<string, Queue<FetchedChunk>> _parked = new(StringComparer.Ordinal);
    private readonly HashSet<TopicPartition> _pausedForParking = [];

    // Gate-owned partition state.
    private readonly HashSet<TopicPartition> _owned = [];
    private readonly HashSet<TopicPartition> _synced = [];
    private readonly Dictionary<TopicPartition, long> _progress = [];
    private readonly Dictionary<TopicPartition, long> _committed = [];

    private const int MaxRecordsPerCall = 10_000;

    private sealed class FetchReader(FetchEngine engine, IConsumerBackend backend) : IAsyncDisposable
    {
        public FetchEngine Engine { get; } = engine;

        public IConsumerBackend Backend { get; } = backend;

        public async ValueTask DisposeAsync()
        {
            await Engine.DisposeAsync().ConfigureAwait(false);
            await Backend.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The next batch of values from this member's partitions of <paramref name="topic"/>, resuming from the group's
    /// committed offsets; empty when nothing arrived within the max wait time, while the ZooKeeper connection is
    /// suspended, or after wind-down. With autocommit on, the progress of earlier batches is committed first (one
    /// bounded attempt unless <see cref="GroupedConsumerOptions.ThrowOnTransientErrors"/> is on: what it cannot commit
    /// stays pending for the next call).
    /// </summary>
    /// <param name="topic">The topic.</param>
    /// <param name="start">Where a partition starts when the group has no committed offset for it (kiel ignored this
    /// argument); null means the reset policy.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="NoOffsetsException">A committed offset could not be read.</exception>
    /// <exception cref="OffsetCommitException">An autocommit failed.</exception>
    /// <exception cref="DeserializationException">The first record of the batch could not be deserialized; it stays unconsumed.</exception>
    public async Task<IReadOnlyList<TValue>> ConsumeAsync(string topic, StartPosition? start = null, CancellationToken cancellationToken = default)
    {
        var records = await ConsumeRecordsAsync(topic, start, cancellationToken).ConfigureAwait(false);
        var values = new TValue[records.Count];
        for (var i = 0; i < values.Length; i++) values[i] = records[i].Value;
        return values;
    }

    /// <summary>
    /// Like <see cref="ConsumeAsync"/>, but with full records: partition, offset, key (raw bytes), value, headers and timestamp.
    /// </summary>
    /// <inheritdoc cref="ConsumeAsync" path="/param"/>
    /// <inheritdoc cref="ConsumeAsync" path="/exception"/>
    public async Task<IReadOnlyList<ConsumeResult<byte[]?, TValue>>> ConsumeRecordsAsync(string topic, StartPosition? start = null, CancellationToken cancellationToken = default)
    {
        // A Kafka group: the call counts as progress (MaxPollInterval), and a final group failure surfaces here.
        _kafka?.CallStarted();
        try
        {
            return await ConsumeRecordsCoreAsync(topic, start, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!Options.ThrowOnTransientErrors && IsTransient(e, cancellationToken))
        {
            return await AfterTransientErrorAsync(topic, e, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _kafka?.CallEnded();
        }
    }

    private async Task<IReadOnlyList<ConsumeResult<byte[]?, TValue>>> ConsumeRecordsCoreAsync(string topic, StartPosition? start, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ThrowIfNotConnected();
        if (IsClosing) return [];
        // While ZooKeeper is suspended another member may be taking our partitions: hand nothing out (kiel's L10).
        if (_paused)
        {
            await Task.Delay(PauseWait, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
            return [];
        }

        List<ConsumeResult<byte[]?, TValue>> records = [];
        FetchEngine engine;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsClosing) return [];
            if (Options.Autocommit)
            {
                var approval = CommitApproval;
                if (MayCommitLocked()) await AutocommitInCallLockedAsync(approval, cancellationToken).ConfigureAwait(false);
            }
            var mine = _owned.Where(tp => tp.Topic == topic).ToList();
            if (mine.Count == 0)
            {
                NoteTopicWanted(topic);
                engine = null!;
            }
            else
            {
                engine = GetReader().Engine;
                var unsynced = mine.Where(tp => !_synced.Contains(tp)).ToList();
                if (unsynced.Count > 0) await SyncInCallLockedAsync(engine, unsynced, start, cancellationToken).ConfigureAwait(false);
                // Claims are only as good as the session that holds them: check it (at most every third of the session
                // timeout; at once, with the prefetched records dropped, after a gap in this member's progress) before
                // handing anything out, so a member that was frozen past its timeout returns nothing.
                if (!Options.KielCompatible && !await ConfirmLeaseLockedAsync(cancellationToken).ConfigureAwait(false))
                {
                    engine = null!;
                }
                else if (!_paused)
                {
                    var gapsBefore = Options.KielCompatible || _kafka is not null ? 0 : _membership!.Lease.Gaps;
                    await FetchLockedAsync(engine, topic, records, cancellationToken).ConfigureAwait(false);
                    // The moment of hand-out: frozen while fetching, or the session's last contact too old? Put the
                    // records back; the next call drops the rest and confirms the session and claims first.
                    if (records.Count > 0 && !Options.KielCompatible && !MayHandOutLocked(gapsBefore))
                    {
                        if (_log.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
                            Groups.GroupLog.HandOutHeldBack(_log, Name, records.Count, _kafka is null ? _membership!.Lease.Describe() : "Kafka group session lapsed");
                        PutBackLocked(engine, records);
                        records.Clear();
                    }
                }
            }
        }
        finally
        {
            _gate.Release();
        }
        // A member without partitions of the topic waits as a fetch would, so a consume loop does not spin.
        if (engine is null) await Task.Delay(Options.FetchMaxWait, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
        return records;
    }

    /// <summary>
    /// Moves this member's position in one of its own partitions, for example past a record that failed to deserialize
    /// (<c>SeekAsync(e.TopicPartition, e.Offset + 1)</c>). The next commit records it. What was fetched for the partition
    /// and not handed out is dropped.
    /// </summary>
    /// <param name="topicPartition">A partition this member owns and has consumed from.</param>
    /// <param name="offset">The next offset to read.</param>
    /// <param name="cancellationToken">Cancels the wait for a consume call under way.</param>
    /// <exception cref="InvalidOperationException">The partition is not this member's, or its topic was not consumed yet.</exception>
    public async Task SeekAsync(TopicPartition topicPartition, long offset, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ThrowIfNotConnected();
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_owned.Contains(topicPartition))
                throw new InvalidOperationException($"{topicPartition} is not allocated to member {Name}; a member seeks only in its own partitions (see Allocation).");
            if (!_synced.Contains(topicPartition))
                throw new InvalidOperationException($"{topicPartition} has no position yet; consume its topic first.");
            var engine = GetReader().Engine;
            var paused = _pausedForParking.Contains(topicPartition);
            DropParked(engine, topicPartition);
            if (paused)
            {
                try { engine.Resume(topicPartition); }
                catch (InvalidOperationException) { }
            }
            engine.Seek(topicPartition, offset);
            _progress[topicPartition] = offset;
        }
        finally
        {
            _gate.Release();
        }
    }

    private void PutBackLocked(FetchEngine engine, List<ConsumeResult<byte[]?, TValue>> records)
    {
        foreach (var first in records.GroupBy(r => r.TopicPartition).Select(g => g.MinBy(r => r.Offset)!))
        {
            _progress[first.TopicPartition] = first.Offset;
            try { engine.Seek(first.TopicPartition, first.Offset); }
            catch (InvalidOperationException) { }
        }
    }

    private TimeSpan LeaseAge => Options.ZooKeeperSessionTimeout / 3;

    private TimeSpan PauseWait => Options.FetchMaxWait < TimeSpan.FromMilliseconds(200) ? Options.FetchMaxWait : TimeSpan.FromMilliseconds(200);

    /// <summary>The one fetch engine, for tests.</summary>
    internal FetchEngine? Engine => _reader?.Engine;

    /// <summary>The backend of the one fetch engine, for tests.</summary>
    internal IConsumerBackend? Backend => _reader?.Backend;

    private FetchReader GetReader()
    {
        if (_reader is { } reader) return reader;
        var options = new KielConsumerOptions
        {
            BootstrapServers = Options.BootstrapServers,
            ClientId = Options.ClientId,
            RequestTimeout = Options.RequestTimeout,
            RetryBackoff = Options.RetryBackoff,
            TimeProvider = Options.TimeProvider,
            FetchMaxWait = Options.FetchMaxWait,
            FetchMinBytes = Options.FetchMinBytes,
            FetchMaxBytes = Options.MaxPartitionFetchBytes,
            MaxPartitionFetchBytes = Options.MaxPartitionFetchBytes,
            SplitPartitionFetchBytesPerLeader = true,
            AutoOffsetReset = Options.AutoOffsetReset,
            CheckCrcs = Options.CheckCrcs,
            IsolationLevel = Options.IsolationLevel,
            MaxDecompressedBatchBytes = Options.MaxDecompressedBatchBytes,
            LoggerFactory = Options.LoggerFactory,
        };
        var backend = ClusterConsumerBackend.Create(options, _cluster!);
        reader = new FetchReader(new FetchEngine(backend, options), backend);
        _reader = reader;
        return reader;
    }

    /// <summary>
    /// <see cref="SyncLockedAsync"/> inside a consume call: with <see cref="GroupedConsumerOptions.ThrowOnTransientErrors"/>
    /// off, bounded like the autocommit (one OffsetFetch attempt within the request timeout); a transient failure
    /// escapes to <see cref="ConsumeRecordsAsync"/>, which logs it and returns nothing, and the next call tries again.
    /// </summary>
    private async Task SyncInCallLockedAsync(FetchEngine engine, List<TopicPartition> partitions, StartPosition? start, CancellationToken cancellationToken)
    {
        if (Options.ThrowOnTransientErrors)
        {
            await SyncLockedAsync(engine, partitions, start, cancellationToken).ConfigureAwait(false);
            return;
        }
        using var limit = new CancellationTokenSource(Options.RequestTimeout, Options.TimeProvider);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        await SyncLockedAsync(engine, partitions, start, deadline.Token, maxAttempts: 1).ConfigureAwait(false);
    }

    private async Task SyncLockedAsync(FetchEngine engine, List<TopicPartition> partitions, StartPosition? start, CancellationToken cancellationToken, int maxAttempts = 0)
    {
        var committed = await FetchCommittedAsync(partitions[0].Topic, partitions, cancellationToken, maxAttempts).ConfigureAwait(false);
        foreach (var tp in partitions)
        {
            long offset;
            if (committed.TryGetValue(tp, out var c) && c >= 0)
            {
                offset = c;
                _committed[tp] = c;
            }
            else if (await ReadZooKeeperOffsetAsync(tp, cancellationToken).ConfigureAwait(false) is { } kiels)
            {
                // kiel's v0 commit in Kafka's ZooKeeper: resume there; not in Kafka yet, so the next commit stores it.
                offset = kiels;
                _committed.Remove(tp);
            }
            else
            {
                var position = start ?? Options.AutoOffsetReset switch
                {
                    OffsetResetPolicy.Earliest => StartPosition.Beginning,
                    OffsetResetPolicy.Latest => StartPosition.End,
                    _ => throw new NoOffsetsException(Options.Group, tp.Topic, tp.Partition, 0),
                };
                offset = await engine.ResolveAsync(tp, position, cancellationToken).ConfigureAwait(false);
                Groups.GroupLog.NoCommittedOffset(_log, Options.Group, tp.ToString(), $"{position} = {offset}");
                // Not committed yet: the next commit records the start, so a successor does not resolve "end" later and skip.
                _committed.Remove(tp);
            }
            engine.Assign(tp, offset);
            _progress[tp] = offset;
            _synced.Add(tp);
        }
    }

    private async Task FetchLockedAsync(FetchEngine engine, string topic, List<ConsumeResult<byte[]?, TValue>> records, CancellationToken cancellationToken)
    {
        // First what was parked for this topic by earlier calls.
        if (_parked.TryGetValue(topic, out var parked))
        {
            while (parked.Count > 0 && records.Count < MaxRecordsPerCall && !_paused)
            {
                // Hand out what came before an error; the next call reports it.
                if (parked.Peek().Error is not null && records.Count > 0) return;
                var chunk = parked.Dequeue();
                bool complete;
                try
                {
                    complete = TakeChunk(engine, chunk, records);
                }
                finally
                {
                    if (!parked.Any(c => c.TopicPartition == chunk.TopicPartition)) ResumeParked(engine, chunk.TopicPartition);
                }
                if (!complete) return;
            }
            if (parked.Count == 0) _parked.Remove(topic);
            if (records.Count > 0) return;
        }

        using var waitLimit = new CancellationTokenSource(Options.FetchMaxWait + TimeSpan.FromMilliseconds(50), Options.TimeProvider);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, waitLimit.Token);
        while (records.Count < MaxRecordsPerCall && !_paused)
        {
            FetchedChunk? chunk;
            if (!engine.TryTake(out chunk))
            {
                if (records.Count > 0) return;
                try { chunk = await engine.TakeAsync(wait.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { return; }
            }
            if (chunk.TopicPartition.Topic != topic)
            {
                Park(engine, chunk);
                continue;
            }
            if (chunk.Error is not null && records.Count > 0)
            {
                // Hand out what came before it; the next call reports the error.
                engine.PutBack(chunk);
                return;
            }
            if (!TakeChunk(engine, chunk, records)) return;
        }
    }

    /// <summary>
    /// Reads <paramref name="chunk"/> into <paramref name="records"/>, or throws its error, and gives it back to the
    /// engine either way. False as <see cref="ReadChunk"/>.
    /// </summary>
    private bool TakeChunk(FetchEngine engine, FetchedChunk chunk, List<ConsumeResult<byte[]?, TValue>> records)
    {
        try
        {
            if (chunk.Error is { } error) throw error;
            return ReadChunk(engine, chunk, records);
        }
        finally
        {
            engine.Release(chunk);
        }
    }

    private void Park(FetchEngine engine, FetchedChunk chunk)
    {
        if (!_parked.TryGetValue(chunk.TopicPartition.Topic, out var queue)) _parked[chunk.TopicPartition.Topic] = queue = new Queue<FetchedChunk>();
        queue.Enqueue(chunk);
        if (_pausedForParking.Add(chunk.TopicPartition))
        {
            try { engine.Pause(chunk.TopicPartition); }
            catch (InvalidOperationException) { _pausedForParking.Remove(chunk.TopicPartition); }
        }
    }

    private void ResumeParked(FetchEngine engine, TopicPartition tp)
    {
        if (!_pausedForParking.Remove(tp)) return;
        try { engine.Resume(tp); }
        catch (InvalidOperationException) { }
    }

    /// <summary>Drops what was parked for <paramref name="tp"/> (revoked), or for every partition when null (closing).</summary>
    private void DropParked(FetchEngine engine, TopicPartition? tp)
    {
        foreach (var (topic, queue) in _parked.ToList())
        {
            if (tp is { } one && one.Topic != topic) continue;
            var keep = new Queue<FetchedChunk>();
            foreach (var chunk in queue)
            {
                if (tp is null || chunk.TopicPartition == tp) engine.Release(chunk);
                else keep.Enqueue(chunk);
            }
            if (keep.Count == 0) _parked.Remove(topic);
            else _parked[topic] = keep;
        }
        if (tp is { } p) _pausedForParking.Remove(p);
        else _pausedForParking.Clear();
    }

    // Returns false when a record failed to deserialize after some records were read: those are handed out, and the
    // failing one stays the partition's position for the next call.
    private bool ReadChunk(FetchEngine engine, FetchedChunk chunk, List<ConsumeResult<byte[]?, TValue>> records)
    {
        var tp = chunk.TopicPartition;
        if (!_owned.Contains(tp)) return true;
        while (chunk.IsCurrent && chunk.TryReadNext(out var raw))
        {
            ConsumeResult<byte[]?, TValue> result;
            try
            {
                result = RecordConverter.Convert(raw, Deserializers.Bytes, _deserializer, engine, rewind: false);
            }
            catch (DeserializationException e)
            {
                if (DeserializationPolicy.Skips(e, Options.OnDeserializationError ?? DeserializationErrorAction.Skip, Options.DeserializationErrorHandler, _log))
                {
                    // kiel logged it and went on (spec §5); here the commit passes it too, so no later owner meets it (L15).
                    _progress[tp] = e.Offset + 1;
                    continue;
                }
                RecordConverter.Rewind(engine, tp, e.Offset);
                if (records.Count > 0) return false;
                throw;
            }
            records.Add(result);
            _progress[tp] = result.Offset + 1;
        }
        return true;
    }
}
