using System.Buffers;
using Kiel.Producing.Internal;

namespace Kiel.Producing;

/// <summary>
/// An asynchronous Kafka producer. Every record ends in exactly one report: delivered with its offset, or failed
/// with the reason (kiel dropped records silently: spec §8, L23). Thread-safe.
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
/// <typeparam name="TValue">The value type.</typeparam>
public sealed class KielProducer<TKey, TValue> : IAsyncDisposable
{
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_key;
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_value;

    private readonly ProducerEngine _engine;

    /// <summary>The engine below (tests: its sender's pass count).</summary>
    internal ProducerEngine Engine => _engine;
    private readonly ISerializer<TKey> _keySerializer;
    private readonly ISerializer<TValue> _valueSerializer;
    private int _disposed;

    /// <summary>Creates a producer. Serializers may be omitted for <c>string</c> (UTF-8), <c>byte[]</c> and <c>ReadOnlyMemory&lt;byte&gt;</c>.</summary>
    /// <exception cref="ArgumentException">The options are invalid, or no serializer was given for a type without a default.</exception>
    public KielProducer(KielProducerOptions options, ISerializer<TKey>? keySerializer = null, ISerializer<TValue>? valueSerializer = null)
        : this(Validated(options), keySerializer, valueSerializer, static o => new ClusterProducerTransport(o))
    {
    }

    internal KielProducer(KielProducerOptions options, ISerializer<TKey>? keySerializer, ISerializer<TValue>? valueSerializer,
        Func<KielProducerOptions, IProducerTransport> transport)
    {
        options.Validate();
        _keySerializer = keySerializer ?? DefaultSerializer<TKey>("key");
        _valueSerializer = valueSerializer ?? DefaultSerializer<TValue>("value");
        _keyRaw = RawKindOf(_keySerializer);
        _valueRaw = RawKindOf(_valueSerializer);
        _engine = new ProducerEngine(options, transport(options));
    }

    private static KielProducerOptions Validated(KielProducerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    /// <summary>Built-in serializers that hand bytes over unchanged: the record is copied from the caller's bytes, once.</summary>
    private enum RawKind : byte { None, Bytes, Memory }

    private readonly RawKind _keyRaw;
    private readonly RawKind _valueRaw;

    private static RawKind RawKindOf<T>(ISerializer<T> serializer) =>
        ReferenceEquals(serializer, Serializers.Bytes) ? RawKind.Bytes
        : ReferenceEquals(serializer, Serializers.Memory) ? RawKind.Memory
        : RawKind.None;

    /// <summary>The serialized bytes: the value's own for the built-in raw serializers, otherwise what the serializer wrote.</summary>
    private static ReadOnlySpan<byte> Serialize<T>(ISerializer<T> serializer, RawKind raw, T value, ArrayBufferWriter<byte> buffer, in SerializationContext context)
    {
        switch (raw)
        {
            case RawKind.Bytes: return (byte[])(object)value!;
            case RawKind.Memory: return System.Runtime.CompilerServices.Unsafe.As<T, ReadOnlyMemory<byte>>(ref value).Span;
        }
        serializer.Serialize(value, buffer, context);
        return buffer.WrittenSpan;
    }

    private static ISerializer<T> DefaultSerializer<T>(string what) =>
        typeof(T) == typeof(string) ? (ISerializer<T>)Serializers.Utf8
        : typeof(T) == typeof(byte[]) ? (ISerializer<T>)Serializers.Bytes
        : typeof(T) == typeof(ReadOnlyMemory<byte>) ? (ISerializer<T>)Serializers.Memory
        : throw new ArgumentException($"No default {what} serializer for {typeof(T).Name}; pass one (for example Serializers.Json<{typeof(T).Name}>()).");

    /// <summary>The options this producer runs with.</summary>
    public KielProducerOptions Options => _engine.Options;

    /// <summary>Records produced and not yet reported.</summary>
    public long PendingCount => _engine.Outstanding;

    /// <summary>Records reported delivered since the producer started.</summary>
    public long DeliveredCount => _engine.DeliveredCount;

    /// <summary>Records reported failed since the producer started.</summary>
    public long FailedCount => _engine.FailedCount;

    /// <summary>
    /// Produces one record and completes when it is acknowledged (or written, for acks=0) with its partition, offset
    /// and timestamp. A failure throws a <see cref="ProduceException"/> that says why.
    /// </summary>
    /// <param name="topic">The topic.</param>
    /// <param name="key">The key, or null for a keyless record.</param>
    /// <param name="value">The value, or null (a tombstone).</param>
    /// <param name="headers">Headers, or null. Do not change the list until the call completes.</param>
    /// <param name="partition">A partition to use instead of the partitioner's choice.</param>
    /// <param name="timestamp">The record's create time; now when null.</param>
    /// <param name="cancellationToken">Stops waiting for buffer room. Once the record is queued it cannot be recalled.</param>
    public ValueTask<DeliveryReport> ProduceAsync(string topic, TKey? key, TValue? value, Headers? headers = null, int? partition = null,
        DateTimeOffset? timestamp = null, CancellationToken cancellationToken = default)
    {
        DeliveryPromise? promise = null;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            promise = DeliveryPromise.Rent();
            var task = promise.Task;
            var wait = Enqueue(topic, key, value, headers, partition, timestamp, promise, async: true, cancellationToken);
            if (!wait.IsCompletedSuccessfully) return AwaitRoomThenDelivery(wait, task);
            wait.GetAwaiter().GetResult();
            return task;
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<DeliveryReport>(ex);
        }
    }

    private static async ValueTask<DeliveryReport> AwaitRoomThenDelivery(ValueTask wait, ValueTask<DeliveryReport> delivery)
    {
        await wait.ConfigureAwait(false);
        return await delivery.ConfigureAwait(false);
    }

    /// <summary>
    /// Produces one record without waiting. <paramref name="onDelivery"/>, when given, is told the outcome on the
    /// producer's I/O path. Throws at once for a disposed producer, a serializer failure, an oversized record or a
    /// full buffer in <see cref="BackpressureMode.Throw"/> mode (in <see cref="BackpressureMode.Wait"/> mode it blocks
    /// this thread for room, up to <see cref="KielProducerOptions.MaxBlock"/>).
    /// </summary>
    public void Produce(string topic, TKey? key, TValue? value, Headers? headers = null, int? partition = null,
        DateTimeOffset? timestamp = null, DeliveryHandler? onDelivery = null) =>
        Enqueue(topic, key, value, headers, partition, timestamp, onDelivery, async: false, default).GetAwaiter().GetResult();

    private ValueTask Enqueue(string topic, TKey? key, TValue? value, Headers? headers, int? partition, DateTimeOffset? timestamp,
        object? completion, bool async, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0 || _engine.IsClosing, this);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        _engine.Transactions?.CheckCanProduce();
        // The span covers queueing the record; its context travels in the record's traceparent header.
        using var activity = Kiel.Diagnostics.KielTracing.StartSend(topic, ref headers);
        var keyBuffer = t_key ??= new ArrayBufferWriter<byte>(256);
        var valueBuffer = t_value ??= new ArrayBufferWriter<byte>(1024);
        keyBuffer.ResetWrittenCount();
        valueBuffer.ResetWrittenCount();
        var keyIsNull = key is null;
        var valueIsNull = value is null;
        // A serializer that throws fails this call alone: nothing has been queued yet.
        var keyBytes = keyIsNull ? default : Serialize(_keySerializer, _keyRaw, key!, keyBuffer, new SerializationContext(topic, RecordComponent.Key, partition ?? -1));
        var valueBytes = valueIsNull ? default : Serialize(_valueSerializer, _valueRaw, value!, valueBuffer, new SerializationContext(topic, RecordComponent.Value, partition ?? -1));
        var size = ProducerEngine.EntrySize(keyIsNull ? -1 : keyBytes.Length, valueIsNull ? -1 : valueBytes.Length, headers);
        if (size > _engine.Options.MaxRecordBytes)
            throw new RecordTooLargeException(
                $"The record for topic '{topic}' is {size:N0} bytes serialized, over MaxRecordBytes ({_engine.Options.MaxRecordBytes:N0}); " +
                "send smaller records, or raise MaxRecordBytes together with the broker's message.max.bytes.");
        var ts = (timestamp ?? _engine.Options.TimeProvider.GetUtcNow()).ToUnixTimeMilliseconds();
        var topicState = _engine.GetTopic(topic);

        if (!_engine.Memory.TryReserve(size))
        {
            if (_engine.Options.Backpressure == BackpressureMode.Throw) throw _engine.Memory.Full();
            if (async) return ReserveThenAppendAsync(topicState, keyBytes.ToArray(), keyIsNull, valueBytes.ToArray(), valueIsNull,
                headers, partition, ts, completion, size, cancellationToken);
            _engine.Memory.Reserve(size, _engine.Options.MaxBlock);
        }
        _engine.Append(topicState, keyBytes, keyIsNull, valueBytes, valueIsNull, headers, partition, ts, completion, size);
        return ValueTask.CompletedTask;
    }

    private async ValueTask ReserveThenAppendAsync(TopicState topic, byte[] key, bool keyIsNull, byte[] value, bool valueIsNull, Headers? headers,
        int? partition, long timestamp, object? completion, int size, CancellationToken cancellationToken)
    {
        await _engine.Memory.ReserveAsync(size, _engine.Options.MaxBlock, cancellationToken).ConfigureAwait(false);
        if (_engine.IsClosing)
        {
            _engine.Memory.Release(size);
            throw new ObjectDisposedException(GetType().Name);
        }
        _engine.Append(topic, key, keyIsNull, value, valueIsNull, headers, partition, timestamp, completion, size);
    }

    internal ValueTask<int> GetPartitionCountAsync(string topic, CancellationToken cancellationToken) =>
        _engine.GetPartitionCountAsync(topic, cancellationToken);

    /// <summary>Sends everything queued now, without waiting for <see cref="KielProducerOptions.Linger"/>, and completes when every
    /// record produced so far is reported.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _engine.FlushAsync(cancellationToken);
    }

    private TransactionManager Transactions => _engine.Transactions ?? throw new InvalidOperationException(
        "This producer is not transactional; set KielProducerOptions.TransactionalId to use transactions.");

    /// <summary>
    /// Gets the producer id and epoch for <see cref="KielProducerOptions.TransactionalId"/> from its transaction
    /// coordinator. This fences any older producer with the same transactional id, and the coordinator aborts (or
    /// completes) a transaction such a producer left open. Call it once, before the first <see cref="BeginTransaction"/>.
    /// Retriable errors (the coordinator moving or loading, a transaction of the old instance still ending) are retried
    /// within <see cref="KielProducerOptions.DeliveryTimeout"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The producer has no <see cref="KielProducerOptions.TransactionalId"/>.</exception>
    /// <exception cref="TransactionException">Called twice, or the coordinator refused (for example TRANSACTIONAL_ID_AUTHORIZATION_FAILED, fatal).</exception>
    public Task InitTransactionsAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Transactions.InitAsync(cancellationToken);
    }

    /// <summary>Opens a transaction: records produced from now on, and offsets sent with <see cref="SendOffsetsToTransactionAsync"/>,
    /// are committed or aborted together. Producing outside a transaction throws.</summary>
    /// <exception cref="TransactionException">Not initialized, a transaction is already open, or the producer is fenced.</exception>
    public void BeginTransaction()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Transactions.Begin();
    }

    /// <summary>
    /// Adds consumed input offsets to the transaction, so that they are committed for the group exactly when the
    /// transaction is (AddOffsetsToTxn, then TxnOffsetCommit to the group's coordinator). Each offset is the next one to
    /// consume: the last processed offset plus one.
    /// </summary>
    /// <param name="offsets">Partition and next offset to consume.</param>
    /// <param name="groupMetadata">The consumer group; with a Kafka group member's id and generation the coordinator fences zombies (KIP-447).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="TransactionException">No transaction is open, or the coordinator refused: <see cref="TransactionException.RequiresAbort"/> or <see cref="TransactionException.IsFatal"/> says what follows.</exception>
    public Task SendOffsetsToTransactionAsync(IEnumerable<KeyValuePair<TopicPartition, long>> offsets, ConsumerGroupMetadata groupMetadata,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(groupMetadata);
        ArgumentException.ThrowIfNullOrEmpty(groupMetadata.GroupId, nameof(groupMetadata));
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var list = offsets.ToList();
        foreach (var o in list)
            if (o.Value < 0) throw new ArgumentException($"The offset {o.Value} for {o.Key} is negative; pass the next offset to consume.", nameof(offsets));
        if (list.Count == 0) return Task.CompletedTask;
        return Transactions.SendOffsetsAsync(list, groupMetadata, cancellationToken);
    }

    /// <summary>
    /// Commits the transaction: waits until every record produced in it is acknowledged, then ends it with EndTxn. When
    /// a record failed, nothing is committed and the exception says the transaction must be aborted.
    /// </summary>
    /// <exception cref="TransactionException">No transaction is open; or a record or the coordinator failed: <see cref="TransactionException.RequiresAbort"/>
    /// (call <see cref="AbortTransactionAsync"/>) or <see cref="TransactionException.IsFatal"/> (fenced: dispose the producer).</exception>
    public Task CommitTransactionAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Transactions.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Aborts the transaction: records still queued are reported failed ("the transaction was aborted"), records in flight
    /// are answered first, then EndTxn ends it. Read_committed consumers never see its records.
    /// </summary>
    /// <exception cref="TransactionException">No transaction is open, or the producer is fenced (<see cref="TransactionException.IsFatal"/>).</exception>
    public Task AbortTransactionAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Transactions.AbortAsync(cancellationToken);
    }

    /// <summary>Flushes within <see cref="KielProducerOptions.CloseTimeout"/>, then reports what is left as failed and closes the
    /// connections. Never hangs; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _engine.DisposeAsync().ConfigureAwait(false);
    }
}
