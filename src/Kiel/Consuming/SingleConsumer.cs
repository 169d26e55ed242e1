using System.Text.Json;
using Kiel.Consuming;
using Microsoft.Extensions.Logging;

namespace Kiel;

/// <summary>
/// Kiel's SingleConsumer: reads every partition of a topic, without a group. Each
/// <see cref="ConsumeAsync"/> returns the next batch of values and later calls continue where it left off.
/// </summary>
/// <typeparam name="T">The value type.</typeparam>
public class SingleConsumer<T> : IAsyncDisposable
{
    private readonly IConsumerBackend _backend;
    private readonly IDeserializer<T> _deserializer;
    private readonly Dictionary<string, FetchEngine> _topics = [];
    private readonly SemaphoreSlim _consumeLock = new(1, 1);
    private int _closed;

    /// <summary>Kiel's signature: <paramref name="maxWaitTime"/> in milliseconds, <paramref name="minBytes"/> and
    /// <paramref name="maxBytes"/> (per partition) as kiel's <c>min_bytes</c> and <c>max_bytes</c>.</summary>
    /// <param name="brokers">Comma-separated <c>host:port</c> list.</param>
    /// <param name="deserializer">Turns each value's bytes into a <typeparamref name="T"/>.</param>
    /// <param name="maxWaitTime">How long the broker may hold a Fetch, in milliseconds.</param>
    /// <param name="minBytes">The least bytes the broker gathers before answering.</param>
    /// <param name="maxBytes">The most bytes one fetch asks for from one leader, split evenly over the partitions it fetches from that leader, as kiel.</param>
    /// <param name="loggerFactory">Where logs go.</param>
    public SingleConsumer(string brokers, IDeserializer<T> deserializer, int maxWaitTime = 1000, int minBytes = 1, int maxBytes = 1048576, ILoggerFactory? loggerFactory = null)
        : this(new KielConsumerOptions
        {
            BootstrapServers = brokers,
            FetchMaxWait = TimeSpan.FromMilliseconds(maxWaitTime),
            FetchMinBytes = minBytes,
            MaxPartitionFetchBytes = maxBytes,
            SplitPartitionFetchBytesPerLeader = true,
            LoggerFactory = loggerFactory,
        }, deserializer)
    {
    }

    /// <summary>Creates a consumer from an options record.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public SingleConsumer(KielConsumerOptions options, IDeserializer<T> deserializer)
        : this(Checked(options), ClusterConsumerBackend.Create(options), deserializer)
    {
    }

    internal SingleConsumer(KielConsumerOptions options, IConsumerBackend backend, IDeserializer<T> deserializer)
    {
        ArgumentNullException.ThrowIfNull(deserializer);
        Options = options;
        _log = (options.LoggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger("Kiel.SingleConsumer");
        _backend = backend;
        _deserializer = deserializer;
    }

    private static KielConsumerOptions Checked(KielConsumerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    private readonly ILogger _log;

    /// <summary>
    /// Moves the position in one partition of a topic this consumer reads, for example past a record that failed to
    /// deserialize (<c>Seek(e.TopicPartition, e.Offset + 1)</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The topic was not consumed yet.</exception>
    public void Seek(TopicPartition topicPartition, long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (!_topics.TryGetValue(topicPartition.Topic, out var engine))
            throw new InvalidOperationException($"Topic '{topicPartition.Topic}' has no positions yet; consume it first.");
        engine.Seek(topicPartition, offset);
    }

    /// <summary>The options this consumer runs with.</summary>
    public KielConsumerOptions Options { get; }

    /// <summary>
    /// Returns the next values of every partition of <paramref name="topic"/>: what is already fetched, or else what
    /// arrives within the fetch wait (then possibly none). <paramref name="start"/> (default <see cref="StartPosition.End"/>)
    /// applies to the first call for a topic; later calls continue. An out-of-range position follows
    /// <see cref="KielConsumerOptions.AutoOffsetReset"/>.
    /// </summary>
    /// <remarks>
    /// Transient trouble (a broker down, metadata or offsets that cannot be read yet, a retriable error) does not throw
    /// unless <see cref="KielConsumerOptions.ThrowOnTransientErrors"/> is on (kiel's contract): it is logged (7051) and
    /// counted (<c>kiel.consumer.transient.errors</c>), the call returns what it has (possibly nothing), and the next
    /// call tries again from the same positions.
    /// </remarks>
    /// <exception cref="UnknownTopicException">The topic did not appear within <see cref="KielConsumerOptions.TopicMetadataTimeout"/>
    /// although the metadata could be read (with <see cref="KielConsumerOptions.ThrowOnTransientErrors"/> on: also when it could not).</exception>
    /// <exception cref="DeserializationException">With <see cref="DeserializationErrorAction.Throw"/>: the first record to return cannot be deserialized; it is not skipped (<see cref="Seek"/> past it).</exception>
    public async ValueTask<IReadOnlyList<T>> ConsumeAsync(string topic, StartPosition? start = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        try
        {
            return await ConsumeCoreAsync(topic, start, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!Options.ThrowOnTransientErrors && IsTransient(e, cancellationToken))
        {
            ConsumerLog.TransientError(_log, topic, e.GetType().Name, e.Message);
            if (ConsumerMetrics.TransientErrors.Enabled)
                ConsumerMetrics.TransientErrors.Add(1, new System.Diagnostics.TagList { { "messaging.system", "kafka" }, { "messaging.destination.name", topic }, { "error.type", e.GetType().Name } });
            // Back off within the call's wait, so that a loop does not spin against an outage.
            var pause = Options.RetryBackoff > Options.FetchMaxWait ? Options.FetchMaxWait : Options.RetryBackoff;
            if (pause > TimeSpan.Zero) await Task.Delay(pause, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
            return [];
        }
    }

    /// <summary>
    /// True for trouble that passes: retriable errors, a deadline inside the client, a topic whose metadata could not
    /// be read (rather than a topic that is not there), offsets that could not be read within the request timeout.
    /// </summary>
    internal static bool IsTransient(Exception e, CancellationToken cancellationToken) => e switch
    {
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        ObjectDisposedException or DeserializationException or OffsetOutOfRangeException => false,
        UnknownTopicException unknown => unknown.InnerException is { } cause && IsTransient(cause, cancellationToken),
        _ when Cluster.ErrorClassification.IsRetriable(e) => true,
        KielException { InnerException: { } cause } => IsTransient(cause, cancellationToken),
        _ => false,
    };

    private async ValueTask<IReadOnlyList<T>> ConsumeCoreAsync(string topic, StartPosition? start, CancellationToken cancellationToken)
    {
        await _consumeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _closed) != 0, this);
            var engine = await EngineForAsync(topic, start ?? StartPosition.End, cancellationToken).ConfigureAwait(false);
            var values = new List<T>();
            if (!engine.TryTake(out var chunk))
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wait.CancelAfter(Options.FetchMaxWait + TimeSpan.FromMilliseconds(200));
                try
                {
                    chunk = await engine.TakeAsync(wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return values;
                }
            }
            do
            {
                if (!Drain(engine, chunk, values)) break;
            }
            while (engine.TryTake(out chunk));
            return values;
        }
        finally
        {
            _consumeLock.Release();
        }
    }

    /// <summary>Adds the chunk's values; false when a record failed to deserialize after some values were gathered.</summary>
    private bool Drain(FetchEngine engine, FetchedChunk chunk, List<T> values)
    {
        if (chunk.Error is not null && values.Count > 0)
        {
            // Hand out what came before it; the next call reports the error.
            engine.PutBack(chunk);
            return false;
        }
        try
        {
            if (chunk.Error is { } e) throw e;
            while (chunk.IsCurrent && chunk.TryReadNext(out var record))
            {
                try
                {
                    values.Add(RecordConverter.Deserialize(record, _deserializer, RecordComponent.Value, engine, rewind: false));
                }
                catch (DeserializationException failure)
                {
                    if (DeserializationPolicy.Skips(failure, Options.OnDeserializationError ?? DeserializationErrorAction.Skip, Options.DeserializationErrorHandler, _log))
                        continue;
                    RecordConverter.Rewind(engine, failure.TopicPartition, failure.Offset);
                    // Hand out what came before it; the next call starts at the failing record and reports it.
                    if (values.Count > 0) return false;
                    throw;
                }
            }
            return true;
        }
        finally
        {
            engine.Release(chunk);
        }
    }

    private async ValueTask<FetchEngine> EngineForAsync(string topic, StartPosition start, CancellationToken cancellationToken)
    {
        if (_topics.TryGetValue(topic, out var engine)) return engine;
        engine = new FetchEngine(_backend, Options);
        try
        {
            // Unlike kiel (L32), a topic missing from the metadata is waited for, then reported, never read from 0 later.
            var partitions = await engine.GetTopicPartitionsAsync(topic, cancellationToken).ConfigureAwait(false);
            List<TopicPartition> all = [.. partitions.Select(p => new TopicPartition(topic, p.Partition))];
            var offsets = await engine.ResolveManyAsync(all, start, cancellationToken).ConfigureAwait(false);
            foreach (var tp in all) engine.Assign(tp, offsets[tp]);
        }
        catch
        {
            await engine.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        _topics[topic] = engine;
        return engine;
    }

    /// <summary>Stops fetching and closes the connections, within a bounded time.</summary>
    public async ValueTask CloseAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        await _consumeLock.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        foreach (var engine in _topics.Values) await engine.DisposeAsync().ConfigureAwait(false);
        _topics.Clear();
        await _backend.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc cref="CloseAsync"/>
    public async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}

/// <summary>Kiel's SingleConsumer with kiel's default deserializer: each value parsed as JSON.</summary>
public sealed class SingleConsumer : SingleConsumer<JsonElement>
{
    /// <summary>Kiel's signature with the JSON deserializer, or <paramref name="deserializer"/> when given.</summary>
    /// <param name="brokers">Comma-separated <c>host:port</c> list.</param>
    /// <param name="deserializer">Null for JSON (<see cref="Deserializers.JsonElement"/>).</param>
    /// <param name="maxWaitTime">How long the broker may hold a Fetch, in milliseconds.</param>
    /// <param name="minBytes">The least bytes the broker gathers before answering.</param>
    /// <param name="maxBytes">The most bytes fetched per partition.</param>
    /// <param name="loggerFactory">Where logs go.</param>
    public SingleConsumer(string brokers, IDeserializer<JsonElement>? deserializer = null, int maxWaitTime = 1000, int minBytes = 1, int maxBytes = 1048576, ILoggerFactory? loggerFactory = null)
        : base(brokers, deserializer ?? Deserializers.JsonElement, maxWaitTime, minBytes, maxBytes, loggerFactory)
    {
    }
}
