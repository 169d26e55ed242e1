using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Kiel.Protocol;

namespace Kiel.Producing.Internal;

/// <summary>
/// The producer's engine, below serialization: per-partition accumulators filled by caller threads, and one sender
/// loop that seals batches (full, lingered or flushed), groups them by leader into one Produce request per broker,
/// and handles every answer: success, retry (same sequence), split, epoch bump, or failure with a reason.
/// </summary>
internal sealed partial class ProducerEngine : IAsyncDisposable
{
    private readonly KielProducerOptions _options;
    private readonly IProducerTransport _transport;
    private readonly ILogger _log;
    private readonly IPartitioner _partitioner;
    private readonly ConcurrentDictionary<string, TopicState> _topics = new(StringComparer.Ordinal);
    // Every topic, for the sender's passes: ConcurrentDictionary.Values copies the values into a new list on each call.
    private TopicState[] _topicList = [];

    /// <summary>Every topic this producer has seen (a snapshot, replaced when a topic is added; topics are never removed).</summary>
    private TopicState[] Topics => Volatile.Read(ref _topicList);
    private readonly BufferMemory _memory;
    private readonly Signal _wake;
    private readonly TimeProvider _time;
    private readonly long _ticksPerMs;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<SendOutcome> _outcomes = new();
    private readonly Dictionary<int, int> _inFlightPerBroker = [];
    private readonly Task _sender;
    private readonly object _drainGate = new();
    private readonly Action<Exception> _onCallbackError;
    private TaskCompletionSource? _drained;
    private long _outstanding;
    private long _delivered;
    private long _failed;
    private int _flushing;
    private volatile bool _closing;
    private volatile bool _failAll;

    private readonly bool _idempotent;
    private readonly TransactionManager? _txn;
    private ProducerIdentity _identity = ProducerIdentity.None;
    private bool _identityReady;
    private bool _bumpWanted;

    public ProducerEngine(KielProducerOptions options, IProducerTransport transport)
    {
        _options = options;
        _transport = transport;
        _time = options.TimeProvider ?? TimeProvider.System;
        _ticksPerMs = Math.Max(1, _time.TimestampFrequency / 1000);
        _wake = new Signal(_time);
        _log = options.LoggerFactory?.CreateLogger("Kiel.Producer") ?? NullLogger.Instance;
        _partitioner = options.Partitioner ?? Partitioners.Default;
        _memory = new BufferMemory(options.BufferMemory, _time);
        _idempotent = options.EnableIdempotence && options.Acks == Acks.All;
        _identityReady = !_idempotent;
        _onCallbackError = ex => ProducerLog.CallbackThrew(_log, ex);
        if (options.TransactionalId is not null)
            _txn = new TransactionManager(this, transport as ITransactionTransport
                ?? throw new ArgumentException("The transport does not support transactions.", nameof(transport)), options, _log);
        _sender = Task.Factory.StartNew(SendLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    public KielProducerOptions Options => _options;
    public IPartitioner Partitioner => _partitioner;
    public BufferMemory Memory => _memory;
    public long Outstanding => Interlocked.Read(ref _outstanding);
    public long DeliveredCount => Interlocked.Read(ref _delivered);
    public long FailedCount => Interlocked.Read(ref _failed);
    public bool IsClosing => _closing;
    /// <summary>The transaction state machine of a transactional producer, or null.</summary>
    public TransactionManager? Transactions => _txn;
    /// <summary>Wakes the sender loop.</summary>
    public void Wake() => _wake.Set();
    internal ProducerIdentity Identity => _identity;

    // The options' clock, whose system timestamp is Stopwatch's, not Environment.TickCount64: on Linux the tick count
    // is the coarse clock (4 ms steps), which would stretch a 5 ms linger to up to 9 ms. Linger, retry backoff and the
    // delivery timeout all run on it, so a fake clock drives them in tests.
    private long NowMs => _time.GetTimestamp() / _ticksPerMs;

    /// <summary>
    /// What a record counts against buffer memory and the batch size: its key, value and headers and a fixed overhead,
    /// about what its wire form takes in the batch (which is usually a few bytes less).
    /// </summary>
    public static int EntrySize(int keyLength, int valueLength, Headers? headers)
    {
        var size = 8 + 4 + Math.Max(0, keyLength) + 4 + Math.Max(0, valueLength) + 4;
        if (headers is not null)
            foreach (var h in headers)
                size += 8 + Encoding.UTF8.GetByteCount(h.Key) + (h.Value?.Length ?? 0);
        return size;
    }

    public TopicState GetTopic(string topic)
    {
        if (_topics.TryGetValue(topic, out var state)) return state;
        lock (_topics)
        {
            if (_topics.TryGetValue(topic, out state)) return state;
            state = new TopicState(topic);
            // The list first: a topic found in the dictionary is then always in the sender's list too.
            Volatile.Write(ref _topicList, [.. _topicList, state]);
            _topics[topic] = state;
            return state;
        }
    }

    /// <summary>
    /// Appends one record. When the topic's layout is not known yet, the record is copied and queued in order
    /// behind the topic's metadata lookup. The caller has reserved <paramref name="size"/> bytes of buffer memory.
    /// </summary>
    public void Append(TopicState topic, ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull,
        Headers? headers, int? partition, long timestamp, object? completion, int size)
    {
        Interlocked.Increment(ref _outstanding);
        var layout = topic.Layout;
        if (layout is null || topic.HasPending)
        {
            lock (topic)
            {
                if (topic.Layout is null || topic.HasPending)
                {
                    topic.Pending.Add(new PendingRecord
                    {
                        Key = keyIsNull ? null : key.ToArray(), Value = valueIsNull ? null : value.ToArray(), Headers = headers,
                        Partition = partition, Timestamp = timestamp, Completion = completion, Size = size,
                    });
                    topic.HasPending = true;
                    StartLayoutLookup(topic);
                    return;
                }
                layout = topic.Layout;
            }
        }
        AppendKnown(topic, layout, key, keyIsNull, value, valueIsNull, headers, partition, timestamp, completion, size);
    }

    private void AppendKnown(TopicState topic, TopicLayout layout, ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value,
        bool valueIsNull, Headers? headers, int? partition, long timestamp, object? completion, int size)
    {
        int p;
        if (partition is { } explicitPartition)
        {
            if (explicitPartition < 0 || explicitPartition >= layout.PartitionCount)
            {
                FailRecord(topic.Topic, explicitPartition, timestamp, completion, size, new ProduceException(
                    $"Partition {explicitPartition} does not exist: topic '{topic.Topic}' has {layout.PartitionCount} partitions.",
                    (short)Kiel.ErrorCode.UnknownTopicOrPartition));
                return;
            }
            p = explicitPartition;
        }
        else
        {
            try
            {
                p = _partitioner.Partition(topic.Topic, key, keyIsNull, layout.PartitionCount);
            }
            catch (Exception ex)
            {
                FailRecord(topic.Topic, -1, timestamp, completion, size, new ProduceException($"The partitioner threw: {ex.Message}", innerException: ex));
                return;
            }
            if ((uint)p >= (uint)layout.PartitionCount)
            {
                FailRecord(topic.Topic, p, timestamp, completion, size, new ProduceException(
                    $"The partitioner chose partition {p}, but topic '{topic.Topic}' has {layout.PartitionCount} partitions (0 to {layout.PartitionCount - 1})."));
                return;
            }
        }

        var state = topic.Partitions[p];
        var wake = false;
        lock (state)
        {
            var batch = state.Open;
            if (batch is not null && batch.Count > 0 && batch.Arena.Length + size > _options.BatchSize)
            {
                SealLocked(state, layout.PartitionCount);
                batch = null;
            }
            if (batch is null)
            {
                // Sized like the partition's last batch (the arena doubles when it needs more), not at a fixed 16 KiB: with
                // thousands of partitions a batch often holds a record or two, and 16 KiB each was most of the memory.
                // An array the pool holds, big enough for this record, is taken before a new one of the last batch's size.
                var opened = _time.GetTimestamp();
                batch = state.Open = RentBatch(state, Math.Min(_options.BatchSize, Math.Max(size, state.LastBatchBytes)), opened / _ticksPerMs,
                    size + BatchEncoder.V2HeaderSize);
                batch.CreatedTimestamp = opened;
                wake = true;
            }
            BatchEncoder.AppendRecord(batch.Arena, batch.Count, timestamp, key, keyIsNull, value, valueIsNull, headers,
                StreamsValue(valueIsNull ? 0 : value.Length, _memory.Used));
            batch.AddRecord(completion, timestamp);
            batch.ReservedBytes += size;
            if (batch.Arena.Length >= _options.BatchSize)
                SealLocked(state, layout.PartitionCount);
        }
        if (LatencyProbe.Enabled) LatencyProbe.Mark(LatencyProbe.Appended);
        if (wake || _options.Linger == TimeSpan.Zero) _wake.Set();
    }

    /// <summary>
    /// The bytes held by the producer from which a new record's value is copied into its batch with streaming stores
    /// (<see cref="StreamingCopy"/>): the record then waits behind at least that many bytes, which pass through the
    /// caches (checksummed, sent) before it is sent, so the lines an ordinary copy brings in would have left them before
    /// they are read again, after evicting others (docs/performance.md, thirty-fourth round).
    /// </summary>
    internal const long StreamingHeldBytes = 8L * 1024 * 1024;

    /// <summary>
    /// The smallest value copied with streaming stores. Measured on the bench broker with a full 64 MiB buffer:
    /// 8 KiB and 10 KiB values went faster with them, 1 KiB and 4 KiB ones slower (the fence after each copy and the
    /// ordinary stores at its ends cost more than the smaller copy saves).
    /// </summary>
    internal const int StreamingMinValueBytes = 8 * 1024;

    /// <summary>True when a value of <paramref name="valueLength"/> bytes, appended while the producer holds <paramref name="heldBytes"/>, is copied with streaming stores.</summary>
    internal static bool StreamsValue(int valueLength, long heldBytes) =>
        valueLength >= StreamingMinValueBytes && heldBytes >= StreamingHeldBytes && StreamingCopy.IsSupported;

    // Delivered batches' objects (their buffers returned), reused for new batches: with thousands of partitions a batch
    // holds a record or two, and its objects were most of a produced record's allocation.
    private readonly Stack<ProducerBatch> _batchPool = new();
    private const int MaxPooledBatches = 16384;

    /// <summary>Delivered batches waiting for reuse (tests).</summary>
    internal int PooledBatches { get { lock (_batchPool) return _batchPool.Count; } }

    private ProducerBatch RentBatch(PartitionState owner, int capacity, long createdMs, int minimumCapacity)
    {
        ProducerBatch? batch;
        lock (_batchPool) _batchPool.TryPop(out batch);
        if (batch is null) return new ProducerBatch(owner, capacity, createdMs, minimumCapacity);
        batch.Reuse(owner, capacity, createdMs, minimumCapacity);
        return batch;
    }

    private void ReturnBatch(ProducerBatch batch)
    {
        lock (_batchPool)
            if (_batchPool.Count < MaxPooledBatches) _batchPool.Push(batch);
    }

    private void SealLocked(PartitionState state, int partitionCount)
    {
        if (state.Open is not { } open) return;
        open.Ordinal = ++state.SealedBatches;
        state.Ready.Add(open);
        state.Open = null;
        state.LastBatchBytes = open.Arena.Length;
        try { _partitioner.OnBatchSealed(state.Topic, state.Partition, partitionCount); }
        catch (Exception ex) { ProducerLog.CallbackThrew(_log, ex); }
        _wake.Set();
    }

    /// <summary>Reports one record that never reached a batch as failed.</summary>
    public void FailRecord(string topic, int partition, long timestamp, object? completion, int size, ProduceException error)
    {
        _txn?.OnRecordFailed(error);
        _memory.Release(size);
        var report = new DeliveryReport(topic, partition, -1, DateTimeOffset.FromUnixTimeMilliseconds(timestamp),
            TimestampType.CreateTime, error);
        try
        {
            if (completion is DeliveryPromise p) p.Complete(report);
            else if (completion is DeliveryHandler h) h(report);
        }
        catch (Exception ex) { ProducerLog.CallbackThrew(_log, ex); }
        Interlocked.Increment(ref _failed);
        RecordsDone(1);
    }

    private void RecordsDone(long count)
    {
        if (Interlocked.Add(ref _outstanding, -count) != 0 || Volatile.Read(ref _drained) is null) return;
        TaskCompletionSource? drained;
        lock (_drainGate) { drained = _drained; _drained = null; }
        drained?.TrySetResult();
    }

    /// <summary>Sends everything held now and waits until every record so far is reported.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _flushing);
        try
        {
            _wake.Set();
            while (Outstanding > 0)
            {
                Task wait;
                lock (_drainGate) wait = (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                if (Outstanding == 0) break;
                // Re-check now and then: a record can be added between the count and the wait. This re-check is a
                // safety net, not a timing rule, so it stays on the system clock: a fake clock cannot stall it.
                await Task.WhenAny(wait, Task.Delay(200, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _flushing);
        }
    }

    /// <summary>Stops taking records, flushes within the close timeout, then fails what is left. Never hangs.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_closing) { await _sender.ConfigureAwait(false); return; }
        _closing = true;
        using (var timeout = new CancellationTokenSource(_options.CloseTimeout, _time))
        {
            // An open transaction is aborted, so that its records are not left open until the transaction timeout.
            if (_txn is not null) await _txn.AbortOpenTransactionAsync(timeout.Token).ConfigureAwait(false);
            try { await FlushAsync(timeout.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
        var left = Outstanding;
        if (left > 0) ProducerLog.ClosingFailedRecords(_log, left);
        _failAll = true;
        FailRecordsWaitingForMetadata();
        _wake.Set();
        // The loop fails what is left and stops; in-flight requests are abandoned after a bounded wait.
        await Task.WhenAny(_sender, Task.Delay(_options.RequestTimeout + TimeSpan.FromSeconds(5), _time)).ConfigureAwait(false);
        _stop.Cancel();
        try { await _sender.ConfigureAwait(false); } catch (OperationCanceledException) { }
        await _transport.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
        _wake.Dispose();
    }
}
