using System.Runtime.CompilerServices;

namespace Kiel.Consuming;

/// <summary>
/// A consumer: <c>await foreach</c> over <see cref="ConsumeAsync"/> for deserialized results, or over
/// <see cref="ConsumeBatchesAsync"/> for raw records read in place. Partitions are either assigned by hand
/// (<see cref="AssignAsync(TopicPartition, StartPosition, CancellationToken)"/>; positions in memory only), or, with
/// <see cref="KielConsumerOptions.GroupId"/> set, shared in a Kafka consumer group through <see cref="Subscribe"/>:
/// the brokers' group coordinator assigns partitions, offsets are committed to the group, and the rebalance handlers
/// (<see cref="PartitionsAssignedHandler"/>, <see cref="PartitionsRevokedHandler"/>, <see cref="PartitionsLostHandler"/>)
/// are awaited before a rebalance goes on.
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
/// <typeparam name="TValue">The value type.</typeparam>
public sealed class KielConsumer<TKey, TValue> : IAsyncDisposable
{
    private readonly IConsumerBackend _backend;
    private readonly FetchEngine _engine;
    private readonly IDeserializer<TKey> _keyDeserializer;
    private readonly IDeserializer<TValue> _valueDeserializer;
    private readonly System.Collections.Concurrent.ConcurrentBag<ConsumedBatch> _batches = [];
    private int _closed;
    private readonly bool _deserializationErrorsThrow;
    private Kiel.Groups.Kafka.GroupConsumerCoordinator? _group;

    /// <summary>Creates a consumer; it connects on first use.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public KielConsumer(KielConsumerOptions options, IDeserializer<TKey> keyDeserializer, IDeserializer<TValue> valueDeserializer)
        : this(Checked(options), ClusterConsumerBackend.Create(options), keyDeserializer, valueDeserializer)
    {
    }

    internal KielConsumer(KielConsumerOptions options, IConsumerBackend backend, IDeserializer<TKey> keyDeserializer, IDeserializer<TValue> valueDeserializer)
    {
        ArgumentNullException.ThrowIfNull(keyDeserializer);
        ArgumentNullException.ThrowIfNull(valueDeserializer);
        _backend = backend;
        _engine = new FetchEngine(backend, options);
        _keyDeserializer = keyDeserializer;
        _valueDeserializer = valueDeserializer;
        Options = options;
        _deserializationErrorsThrow = options.OnDeserializationError is null or DeserializationErrorAction.Throw && options.DeserializationErrorHandler is null;
        if (options.GroupId is not null && backend is ClusterConsumerBackend cluster)
            _group = new Kiel.Groups.Kafka.GroupConsumerCoordinator(cluster.Cluster, _engine, options);
    }

    private static KielConsumerOptions Checked(KielConsumerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    /// <summary>The options this consumer runs with.</summary>
    public KielConsumerOptions Options { get; }

    /// <summary>The partitions currently assigned.</summary>
    public IReadOnlyList<TopicPartition> Assignment => _engine.Assignment;

    /// <summary>Assigns a partition, starting at <paramref name="start"/> (resolved with ListOffsets for the log ends and for times).</summary>
    public async ValueTask AssignAsync(TopicPartition topicPartition, StartPosition start, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        var offset = await _engine.ResolveAsync(topicPartition, start, cancellationToken).ConfigureAwait(false);
        _engine.Assign(topicPartition, offset);
    }

    /// <summary>Assigns several partitions, each with its start position.</summary>
    public async ValueTask AssignAsync(IEnumerable<KeyValuePair<TopicPartition, StartPosition>> partitions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        foreach (var (tp, start) in partitions)
            await AssignAsync(tp, start, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Assigns every partition of <paramref name="topic"/>, waiting a bounded time for a topic that is not in the metadata yet.</summary>
    /// <exception cref="UnknownTopicException">The topic did not appear within <see cref="KielConsumerOptions.TopicMetadataTimeout"/>.</exception>
    public async ValueTask<IReadOnlyList<TopicPartition>> AssignTopicAsync(string topic, StartPosition start, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ThrowIfClosed();
        var partitions = await _engine.GetTopicPartitionsAsync(topic, cancellationToken).ConfigureAwait(false);
        List<TopicPartition> assigned = [.. partitions.Select(p => new TopicPartition(topic, p.Partition))];
        var offsets = await _engine.ResolveManyAsync(assigned, start, cancellationToken).ConfigureAwait(false);
        foreach (var tp in assigned) _engine.Assign(tp, offsets[tp]);
        return assigned;
    }

    /// <summary>Stops consuming a partition; records fetched for it but not yet handed out are dropped.</summary>
    /// <returns>False when it was not assigned.</returns>
    public bool Unassign(TopicPartition topicPartition) => _engine.Unassign(topicPartition);

    /// <summary>Continues an assigned partition at <paramref name="offset"/>.</summary>
    /// <exception cref="InvalidOperationException">The partition is not assigned.</exception>
    public void Seek(TopicPartition topicPartition, long offset) => _engine.Seek(topicPartition, offset);

    /// <summary>Continues an assigned partition at a start position (beginning, end, a time or an offset).</summary>
    public async ValueTask SeekAsync(TopicPartition topicPartition, StartPosition position, CancellationToken cancellationToken = default)
    {
        var offset = await _engine.ResolveAsync(topicPartition, position, cancellationToken).ConfigureAwait(false);
        _engine.Seek(topicPartition, offset);
    }

    /// <summary>Stops fetching the partitions, keeping their positions.</summary>
    public void Pause(params IEnumerable<TopicPartition> partitions)
    {
        foreach (var tp in partitions) _engine.Pause(tp);
    }

    /// <summary>Resumes fetching paused partitions.</summary>
    public void Resume(params IEnumerable<TopicPartition> partitions)
    {
        foreach (var tp in partitions) _engine.Resume(tp);
    }

    /// <summary>The offset of the next record this consumer hands out for the partition.</summary>
    /// <exception cref="InvalidOperationException">The partition is not assigned.</exception>
    public ValueTask<long> PositionAsync(TopicPartition topicPartition, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return _engine.Position(topicPartition) is { } position
            ? ValueTask.FromResult(position)
            : ValueTask.FromException<long>(new InvalidOperationException($"{topicPartition} is not assigned to this consumer."));
    }

    /// <summary>Asks the partition's leader for its log start offset and high watermark.</summary>
    public ValueTask<WatermarkOffsets> QueryWatermarkOffsetsAsync(TopicPartition topicPartition, CancellationToken cancellationToken = default) =>
        _engine.QueryWatermarksAsync(topicPartition, cancellationToken);

    /// <summary>For each partition, the first offset whose timestamp is at or after the given time (milliseconds on the wire),
    /// or null when no record is that recent.</summary>
    public async ValueTask<IReadOnlyDictionary<TopicPartition, long?>> OffsetsForTimesAsync(
        IEnumerable<KeyValuePair<TopicPartition, DateTimeOffset>> timestamps, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(timestamps);
        var queries = timestamps.Select(t => new ListOffsetsQuery(t.Key, Math.Max(0, t.Value.ToUnixTimeMilliseconds()))).ToList();
        var answers = await _engine.ListOffsetsAsync(queries, cancellationToken).ConfigureAwait(false);
        var result = new Dictionary<TopicPartition, long?>();
        foreach (var q in queries)
            result[q.TopicPartition] = answers.TryGetValue(q.TopicPartition, out var a) && a.Offset >= 0 ? a.Offset : null;
        return result;
    }

    /// <summary>
    /// The records of every assigned partition, in order per partition, until <paramref name="cancellationToken"/> is
    /// cancelled (then <see cref="OperationCanceledException"/> is thrown promptly, even while a Fetch is held by the broker).
    /// A record that cannot be deserialized throws <see cref="DeserializationException"/> and stays the partition's position.
    /// </summary>
    public IAsyncEnumerable<ConsumeResult<TKey, TValue>> ConsumeAsync(CancellationToken cancellationToken = default) =>
        new RecordStream(this, cancellationToken);

    /// <summary>
    /// <see cref="ConsumeAsync"/>'s sequence. Written out rather than as an async iterator: a record of the chunk in
    /// hand is handed out by a synchronous <see cref="RecordStream.Enumerator.MoveNextAsync"/> that completes its
    /// <see cref="ValueTask{TResult}"/> at once, with no state machine to resume per record; only taking the next chunk awaits.
    /// </summary>
    private sealed class RecordStream(KielConsumer<TKey, TValue> consumer, CancellationToken cancellationToken) : IAsyncEnumerable<ConsumeResult<TKey, TValue>>
    {
        public IAsyncEnumerator<ConsumeResult<TKey, TValue>> GetAsyncEnumerator(CancellationToken enumeratorToken = default)
        {
            // As an async iterator combines the two tokens: either one cancels.
            if (!enumeratorToken.CanBeCanceled || enumeratorToken == cancellationToken) return new Enumerator(consumer, cancellationToken, null);
            if (!cancellationToken.CanBeCanceled) return new Enumerator(consumer, enumeratorToken, null);
            var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, enumeratorToken);
            return new Enumerator(consumer, linked.Token, linked);
        }

        internal sealed class Enumerator(KielConsumer<TKey, TValue> consumer, CancellationToken cancellationToken, CancellationTokenSource? linked)
            : IAsyncEnumerator<ConsumeResult<TKey, TValue>>
        {
            private FetchedChunk? _chunk;
            private long _next = -1;
            private bool _started;
            private bool _finished;
            private bool _busy;
            private ConsumeResult<TKey, TValue> _current;

            public ConsumeResult<TKey, TValue> Current => _current;

            public ValueTask<bool> MoveNextAsync()
            {
                if (_finished) return new ValueTask<bool>(false);
                if (_busy) throw new InvalidOperationException("MoveNextAsync was called again before the previous call completed; await each call before the next.");
                if (_chunk is not { } chunk) return MoveNextSlowAsync();
                try
                {
                    // The application asked for the next record: the one before counts as processed (what a group commits).
                    chunk.State.MarkProcessed(chunk.Version);
                    cancellationToken.ThrowIfCancellationRequested();
                    if (TryHandOut(chunk)) return new ValueTask<bool>(true);
                    EndChunk(exhausted: true);
                }
                catch (Exception e)
                {
                    Finish();
                    return ValueTask.FromException<bool>(e);
                }
                return MoveNextSlowAsync();
            }

            [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
            private async ValueTask<bool> MoveNextSlowAsync()
            {
                _busy = true;
                try
                {
                    if (!_started)
                    {
                        _started = true;
                        consumer.ThrowIfClosed();
                    }
                    while (true)
                    {
                        var chunk = await consumer.TakeAsync(cancellationToken).ConfigureAwait(false);
                        _chunk = chunk;
                        _next = -1;
                        if (TryHandOut(chunk)) return true;
                        EndChunk(exhausted: true);
                    }
                }
                catch
                {
                    Finish();
                    throw;
                }
                finally
                {
                    _busy = false;
                }
            }

            private bool TryHandOut(FetchedChunk chunk)
            {
                if (!consumer.TryNext(chunk, out _current)) return false;
                if (consumer._group is { } group) group.HandOuts++;
                _next = _current.Offset + 1;
                return true;
            }

            /// <summary>
            /// Lets go of the chunk in hand. Read to its end, its last record counts as processed. When the application
            /// stopped part-way through it (break, dispose, cancellation, an error), its other records were never handed
            /// out, so the partition resumes right after the last one that was, or they would be skipped by the next
            /// <see cref="ConsumeAsync"/>.
            /// </summary>
            private void EndChunk(bool exhausted)
            {
                if (_chunk is not { } chunk) return;
                _chunk = null;
                try
                {
                    if (exhausted) chunk.State.MarkProcessed(chunk.Version);
                    else if (_next >= 0 && chunk.IsCurrent) RecordConverter.Rewind(consumer._engine, chunk.TopicPartition, _next);
                }
                finally
                {
                    consumer._engine.Release(chunk);
                }
            }

            private void Finish()
            {
                if (_finished) return;
                _finished = true;
                _current = default;
                try
                {
                    EndChunk(exhausted: false);
                }
                finally
                {
                    linked?.Dispose();
                }
            }

            public ValueTask DisposeAsync()
            {
                if (_busy) throw new InvalidOperationException("The stream was disposed while a MoveNextAsync call was still running; await it first.");
                Finish();
                return default;
            }
        }
    }

    /// <summary>
    /// Raw batches, one per partition and Fetch, for the allocation-free path: read records in place with
    /// <see cref="ConsumedBatch.TryReadNext"/> and dispose each batch before asking for the next.
    /// </summary>
    public async IAsyncEnumerable<ConsumedBatch> ConsumeBatchesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        while (true)
        {
            var batch = await ConsumeBatchAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                yield return batch;
            }
            finally
            {
                batch.Dispose();
            }
        }
    }

    /// <summary>Waits for the next raw batch; the caller disposes it.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ConsumedBatch> ConsumeBatchAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        var chunk = await TakeAsync(cancellationToken).ConfigureAwait(false);
        if (!_batches.TryTake(out var batch)) batch = new ConsumedBatch(_engine, _batches);
        return batch.Attach(chunk);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FetchedChunk> TakeAsync(CancellationToken cancellationToken)
    {
        FetchedChunk chunk;
        var group = _group;
        while (true)
        {
            group?.BeforeTake();
            CancellationTokenSource? linked = null;
            try
            {
                if (group is null)
                {
                    chunk = await _engine.TakeAsync(cancellationToken).ConfigureAwait(false);
                }
                else if (_engine.TryTake(out var ready))
                {
                    chunk = ready;
                }
                else
                {
                    // A reader waiting for records hears at once when the group fails for good (fenced, not authorized).
                    linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, group.FailureToken);
                    chunk = await _engine.TakeAsync(linked.Token).ConfigureAwait(false);
                }
            }
            catch (System.Threading.Channels.ChannelClosedException)
            {
                throw new ObjectDisposedException(nameof(KielConsumer<TKey, TValue>));
            }
            catch (OperationCanceledException) when (group is not null && group.FailureToken.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                group.BeforeTake(); // throws the failure
                throw;
            }
            finally
            {
                linked?.Dispose();
                group?.AfterTake();
            }
            // A member whose session lapsed hands out nothing until it has rejoined (the chunk goes stale if its partition is lost).
            if (group is null) break;
            bool mayHandOut;
            try
            {
                mayHandOut = await group.MayHandOutAsync(chunk, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The caller gave up while the member waited to rejoin: the chunk was not handed out, so it goes back
                // to be handed out by the next call (released, the fetch position is already past its records).
                _engine.PutBack(chunk);
                throw;
            }
            if (mayHandOut) break;
            _engine.Release(chunk);
        }
        if (group is not null) group.HandOuts++;
        if (chunk.Error is { } error)
        {
            _engine.Release(chunk);
            throw error;
        }
        return chunk;
    }

    private bool TryNext(FetchedChunk chunk, out ConsumeResult<TKey, TValue> result)
    {
        while (true)
        {
            if (!chunk.IsCurrent || !chunk.TryReadNext(out var record))
            {
                result = default;
                return false;
            }
            if (_deserializationErrorsThrow)
            {
                result = RecordConverter.Convert(record, _keyDeserializer, _valueDeserializer, _engine);
                return true;
            }
            try
            {
                result = RecordConverter.Convert(record, _keyDeserializer, _valueDeserializer, _engine, rewind: false);
                return true;
            }
            catch (DeserializationException e)
            {
                if (DeserializationPolicy.Skips(e, Options.OnDeserializationError ?? DeserializationErrorAction.Throw, Options.DeserializationErrorHandler, PolicyLog)) continue;
                RecordConverter.Rewind(_engine, e.TopicPartition, e.Offset);
                throw;
            }
        }
    }

    // ---- Kafka consumer groups ----

    /// <summary>Awaited when the group assigns partitions to this member, after they start at their committed offsets
    /// (or by <see cref="KielConsumerOptions.AutoOffsetReset"/>) and before their records are handed out; it may
    /// <see cref="Seek"/> them. Set before <see cref="Subscribe"/>.</summary>
    public Func<IReadOnlyList<TopicPartition>, CancellationToken, ValueTask>? PartitionsAssignedHandler
    {
        get => _group?.Assigned;
        set => RequireGroup().Assigned = value;
    }

    /// <summary>Awaited when partitions are taken from this member in an orderly rebalance, before their offsets are
    /// committed (with <see cref="KielConsumerOptions.EnableAutoCommit"/>) and before the rebalance goes on: commit or
    /// flush state here. Records of these partitions are no longer handed out once it returns.</summary>
    public Func<IReadOnlyList<TopicPartition>, CancellationToken, ValueTask>? PartitionsRevokedHandler
    {
        get => _group?.Revoked;
        set => RequireGroup().Revoked = value;
    }

    /// <summary>Awaited when partitions were lost (the member's session expired, it was fenced, or it stalled past
    /// <see cref="KielConsumerOptions.MaxPollInterval"/>): another member may own them already, so nothing is committed.
    /// When it is not set, <see cref="PartitionsRevokedHandler"/> is called instead, as Confluent.Kafka does.</summary>
    public Func<IReadOnlyList<TopicPartition>, CancellationToken, ValueTask>? PartitionsLostHandler
    {
        get => _group?.Lost;
        set => RequireGroup().Lost = value;
    }

    /// <summary>The group membership (group id, member id, generation, instance id) for
    /// offsets committed elsewhere, such as in a transaction; null without <see cref="KielConsumerOptions.GroupId"/>.</summary>
    public ConsumerGroupMetadata? GroupMetadata => _group?.Member.Metadata;

    /// <summary>
    /// Joins <see cref="KielConsumerOptions.GroupId"/> with a subscription to <paramref name="topics"/> (or changes the
    /// subscription). Joining runs in the background; records flow once the group has assigned partitions.
    /// </summary>
    /// <exception cref="InvalidOperationException">The options have no <see cref="KielConsumerOptions.GroupId"/>.</exception>
    public void Subscribe(IEnumerable<string> topics)
    {
        ArgumentNullException.ThrowIfNull(topics);
        ThrowIfClosed();
        List<string> list = [.. topics];
        if (list.Count == 0 || list.Any(string.IsNullOrEmpty))
            throw new ArgumentException("Subscribe needs at least one topic name, and no empty one.", nameof(topics));
        RequireGroup().Subscribe(list);
    }

    /// <summary><see cref="Subscribe"/>, then waits until the group has assigned this member its partitions (perhaps none).</summary>
    public async ValueTask SubscribeAsync(IEnumerable<string> topics, CancellationToken cancellationToken = default)
    {
        Subscribe(topics);
        await RequireGroup().Member.WaitForAssignmentAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Leaves the group: the partitions are revoked (the revoked handler runs; offsets are committed with
    /// <see cref="KielConsumerOptions.EnableAutoCommit"/>) and a later <see cref="Subscribe"/> joins afresh.</summary>
    public async ValueTask UnsubscribeAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        var group = RequireGroup();
        await group.CloseAsync(cancellationToken).ConfigureAwait(false);
        var fresh = new Kiel.Groups.Kafka.GroupConsumerCoordinator(((ClusterConsumerBackend)_backend).Cluster, _engine, Options)
        {
            Assigned = group.Assigned,
            Revoked = group.Revoked,
            Lost = group.Lost,
        };
        Interlocked.Exchange(ref _group, fresh);
        await group.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Commits, for every partition this member owns, the offset after the last record the application moved
    /// past (asked for the next one, or disposed the batch it came in).</summary>
    /// <exception cref="KafkaException">The group rebalanced meanwhile (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID) or another error.</exception>
    public Task CommitAsync(CancellationToken cancellationToken = default)
    {
        return RequireGroup().CommitAsync(cancellationToken);
    }

    /// <summary>Commits the given offsets: for each partition the offset of the next record to read.</summary>
    public Task CommitAsync(IEnumerable<KeyValuePair<TopicPartition, long>> offsets, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        var map = new Dictionary<TopicPartition, long>();
        foreach (var (tp, offset) in offsets)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(offset);
            map[tp] = offset;
        }
        return RequireGroup().CommitAsync(map, cancellationToken);
    }

    /// <summary>The group's committed offset of each partition, or null where nothing is committed.</summary>
    public async Task<IReadOnlyDictionary<TopicPartition, long?>> CommittedAsync(IEnumerable<TopicPartition> partitions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var committed = await RequireGroup().FetchCommittedAsync([.. partitions.Distinct()], cancellationToken).ConfigureAwait(false);
        return committed.ToDictionary(kv => kv.Key, kv => kv.Value >= 0 ? kv.Value : (long?)null);
    }

    private Kiel.Groups.Kafka.GroupConsumerCoordinator RequireGroup() =>
        _group ?? (Volatile.Read(ref _closed) != 0
            ? throw new ObjectDisposedException(nameof(KielConsumer<TKey, TValue>))
            : throw new InvalidOperationException("This consumer has no group: set KielConsumerOptions.GroupId to use Subscribe, commits and rebalance handlers."));
    private Microsoft.Extensions.Logging.ILogger? _policyLog;

    // Only the failure path logs, so the logger is made on first use.
    private Microsoft.Extensions.Logging.ILogger PolicyLog =>
        _policyLog ??= (Options.LoggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger("Kiel.KielConsumer");

    private void ThrowIfClosed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _closed) != 0, this);

    /// <summary>Stops fetching and closes the connections, within a bounded time. In a group, the member first gives up
    /// its partitions (the revoked handler runs, offsets are committed when <see cref="KielConsumerOptions.EnableAutoCommit"/>
    /// is on) and leaves the group (a static member does not, so that its restart causes no rebalance).</summary>
    public async ValueTask CloseAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        // The group leaves first; its revoked handler may still commit through this consumer meanwhile.
        if (_group is { } group) await group.DisposeAsync().ConfigureAwait(false);
        Volatile.Write(ref _group, null);
        await _engine.DisposeAsync().ConfigureAwait(false);
        await _backend.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc cref="CloseAsync"/>
    public ValueTask DisposeAsync() => CloseAsync();
}
