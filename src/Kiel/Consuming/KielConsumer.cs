using System.Runtime.CompilerServices;

namespace Kiel.Consuming;

/// <summary>
/// A consumer of manually assigned partitions: <c>await foreach</c> over <see cref="ConsumeAsync"/> for
/// deserialized results, or over <see cref="ConsumeBatchesAsync"/> for raw records read in place.
/// Positions are kept in memory only (no group, no commits).
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
    public async IAsyncEnumerable<ConsumeResult<TKey, TValue>> ConsumeAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        while (true)
        {
            var chunk = await TakeAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                while (TryNext(chunk, out var result))
                {
                    yield return result;
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }
            finally
            {
                _engine.Release(chunk);
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
    public async ValueTask<ConsumedBatch> ConsumeBatchAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        var chunk = await TakeAsync(cancellationToken).ConfigureAwait(false);
        if (!_batches.TryTake(out var batch)) batch = new ConsumedBatch(_engine, _batches);
        return batch.Attach(chunk);
    }

    private async ValueTask<FetchedChunk> TakeAsync(CancellationToken cancellationToken)
    {
        FetchedChunk chunk;
        try
        {
            chunk = await _engine.TakeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(KielConsumer<TKey, TValue>));
        }
        if (chunk.Error is { } error)
        {
            _engine.Release(chunk);
            throw error;
        }
        return chunk;
    }

    private bool TryNext(FetchedChunk chunk, [NotNullWhen(true)] out ConsumeResult<TKey, TValue>? result)
    {
        while (true)
        {
            if (!chunk.IsCurrent || !chunk.TryReadNext(out var record))
            {
                result = null;
                return false;
            }
            if (Options.OnDeserializationError is null or DeserializationErrorAction.Throw && Options.DeserializationErrorHandler is null)
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

    private Microsoft.Extensions.Logging.ILogger? _policyLog;

    // Only the failure path logs, so the logger is made on first use.
    private Microsoft.Extensions.Logging.ILogger PolicyLog =>
        _policyLog ??= (Options.LoggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger("Kiel.KielConsumer");

    private void ThrowIfClosed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _closed) != 0, this);

    /// <summary>Stops fetching and closes the connections, within a bounded time.</summary>
    public async ValueTask CloseAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        await _engine.DisposeAsync().ConfigureAwait(false);
        await _backend.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc cref="CloseAsync"/>
    public ValueTask DisposeAsync() => CloseAsync();
}
