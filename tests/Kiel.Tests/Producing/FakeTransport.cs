using System.Collections.Concurrent;
using Kiel.Producing;
using Kiel.Producing.Internal;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Producing;

/// <summary>A scripted cluster for the producer engine: topics with leaders, logs per partition, and queued faults.</summary>
internal sealed partial class FakeTransport : IProducerTransport
{
    public readonly ConcurrentDictionary<string, int[]> Topics = new();
    public readonly ConcurrentDictionary<(string, int), List<StoredRecord>> Logs = new();
    public readonly ConcurrentQueue<short> ProduceErrors = new();
    public readonly ConcurrentQueue<Exception> ProduceExceptions = new();
    public readonly ConcurrentBag<(int Broker, int Batches)> Calls = [];
    /// <summary>Each Produce call's batches and their bytes.</summary>
    public readonly ConcurrentQueue<(int Broker, int Batches, long Bytes)> CallSizes = new();
    public readonly ConcurrentQueue<(string Topic, int Partition, long ProducerId, short Epoch, int BaseSequence, int Count)> Sequences = new();
    public volatile bool Down;
    /// <summary>Produce never completes and ignores cancellation: a transport that hangs.</summary>
    public volatile bool Hang;
    /// <summary>Metadata never arrives and the lookup ignores cancellation: a cluster whose answers can never be read.</summary>
    public volatile bool MetadataHang;
    public byte Magic = 2;
    public bool SupportsIdempotence = true;
    public long LogAppendTime = -1;
    public int MaxBatchBytes = int.MaxValue;
    public int MetadataCalls;
    private short _epoch = -1;
    private long _producerId = 1000;
    public int InitCalls;
    /// <summary>Error codes InitProducerId answers with, one per call, before it succeeds again.</summary>
    public readonly ConcurrentQueue<(short Code, bool Retriable)> InitErrors = new();
    /// <summary>The identity each InitProducerId call asked to bump (null: a fresh id), in call order.</summary>
    public readonly ConcurrentQueue<ProducerIdentity?> InitRequests = new();
    /// <summary>Partitions whose Produce answers wait until this is set (a slow or unreachable leader), keyed by broker.</summary>
    public readonly ConcurrentDictionary<int, TaskCompletionSource> Stalled = new();

    public readonly record struct StoredRecord(byte[]? Key, byte[]? Value, long Timestamp, (string, byte[]?)[] Headers);

    public ValueTask<TopicLayout> GetTopicAsync(string topic, bool refresh, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref MetadataCalls);
        if (MetadataHang) return new ValueTask<TopicLayout>(new TaskCompletionSource<TopicLayout>().Task);
        return ValueTask.FromResult(Topics.TryGetValue(topic, out var leaders)
            ? new TopicLayout(topic, (int[])leaders.Clone())
            : new TopicLayout(topic, [], 3));
    }

    /// <summary>When set, answers the record-format lookup in place of <see cref="Magic"/> (one still to come, or failing).</summary>
    public Func<int, CancellationToken, ValueTask<byte>>? MagicLookup;

    public ValueTask<byte> GetRecordMagicAsync(int brokerId, CancellationToken cancellationToken) =>
        MagicLookup is { } lookup ? lookup(brokerId, cancellationToken) : ValueTask.FromResult(Magic);

    /// <summary>
    /// Checks producer ids, epochs and sequences as a broker does (default on): a new epoch starts at sequence 0, a
    /// batch must follow the last one, a repeat of one of the last five is answered DUPLICATE_SEQUENCE_NUMBER, a gap
    /// OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch INVALID_PRODUCER_EPOCH.
    /// </summary>
    public bool CheckSequences = true;

    /// <summary>How many Produce calls were being handled at once, at most (per broker, including stalled ones).</summary>
    public int MaxConcurrentCalls;
    private int _concurrentCalls;

    /// <summary>How many Produce calls are being handled now (including stalled ones and those queued behind them).</summary>
    public int ConcurrentCalls => Volatile.Read(ref _concurrentCalls);

    /// <summary>Each batch the fake refused for its sequence: (partition, base sequence, error code).</summary>
    public readonly ConcurrentQueue<(int Partition, int BaseSequence, short Code)> SequenceRefusals = new();

    private readonly Dictionary<(string, int, long), ProducerSequenceState> _producerStates = [];
    private readonly ConcurrentDictionary<int, Task> _brokerTails = new();

    private sealed class ProducerSequenceState
    {
        public short Epoch;
        public int LastSequence;
        public readonly Queue<(int First, int Last, long BaseOffset)> Recent = new();
    }

    /// <summary>Each Produce call's broker and whether the sender asked for its write on the calling thread, in call order.</summary>
    public readonly ConcurrentQueue<(int Broker, bool WriteInline)> WriteInlineFlags = new();

    public async ValueTask<ProduceResult> ProduceAsync(int brokerId, ProduceCall call, CancellationToken cancellationToken)
    {
        WriteInlineFlags.Enqueue((brokerId, call.WriteInline));
        // Like one connection per broker: calls are handled, and answered, in the order they were made.
        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task previous;
        lock (_brokerTails)
        {
            previous = _brokerTails.GetValueOrDefault(brokerId, Task.CompletedTask);
            _brokerTails[brokerId] = handled.Task;
        }
        var now = Interlocked.Increment(ref _concurrentCalls);
        InterlockedMax(ref MaxConcurrentCalls, now);
        try
        {
            await Task.Yield();
            await previous.ConfigureAwait(false);
            return await HandleProduceAsync(brokerId, call, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _concurrentCalls);
            handled.SetResult();
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    private async ValueTask<ProduceResult> HandleProduceAsync(int brokerId, ProduceCall call, CancellationToken cancellationToken)
    {
        Calls.Add((brokerId, call.Partitions.Count));
        CallSizes.Enqueue((brokerId, call.Partitions.Count, call.Partitions.Sum(p => (long)p.Records.Length)));
        if (Hang) await new TaskCompletionSource().Task;
        if (Stalled.TryGetValue(brokerId, out var stall)) await stall.Task.WaitAsync(cancellationToken);
        if (Down) throw new KafkaConnectionException(new BrokerEndpoint(brokerId, "127.0.0.1", 1), "connection refused");
        if (ProduceExceptions.TryDequeue(out var ex)) throw ex;
        var results = new List<ProducePartitionResult>();
        ProduceErrors.TryDequeue(out var injected);
        foreach (var part in call.Partitions)
        {
            var leader = Topics[part.Topic][part.Partition];
            if (injected != 0) { results.Add(new(part.Topic, part.Partition, injected, -1, -1, "injected")); continue; }
            if (leader != brokerId) { results.Add(new(part.Topic, part.Partition, 6, -1, -1, null)); continue; }
            if (part.Records.Length > MaxBatchBytes) { results.Add(new(part.Topic, part.Partition, 10, -1, -1, null)); continue; }
            var log = Logs.GetOrAdd((part.Topic, part.Partition), _ => []);
            long baseOffset;
            lock (log)
            {
                baseOffset = log.Count;
                if (Magic == 2 && CheckSequences && CheckSequence(part, baseOffset) is { } refusal)
                {
                    results.Add(refusal);
                    continue;
                }
                var reader = new RecordSetReader(part.Records.Span);
                var first = true;
                var index = 0L;
                while (reader.MoveNext())
                {
                    // Records carry offset deltas 0, 1, 2, ... of their batch: a consumer reads base offset + delta.
                    if (reader.Current.Offset != index++)
                        throw new InvalidOperationException($"Record {index - 1} of a batch has offset {reader.Current.Offset}.");
                    if (first && Magic == 2)
                    {
                        var h = reader.CurrentBatch;
                        Events.Enqueue($"Produce {part.Topic}:{part.Partition}{(h.IsTransactional ? " txn" : "")}");
                        Sequences.Enqueue((part.Topic, part.Partition, h.ProducerId, h.ProducerEpoch, h.BaseSequence, h.RecordCount));
                        first = false;
                    }
                    var r = reader.Current;
                    var headers = new List<(string, byte[]?)>();
                    foreach (var hv in r.Headers) headers.Add((hv.KeyString, hv.ValueToArray()));
                    log.Add(new StoredRecord(r.KeyToArray(), r.ValueToArray(), r.Timestamp, headers.ToArray()));
                }
            }
            results.Add(new(part.Topic, part.Partition, 0, baseOffset, LogAppendTime, null));
        }
        if (call.Acks == 0) return ProduceResult.NoResponse;
        return new ProduceResult(results);
    }

    /// <summary>A broker's sequence check of a partition's batch (under the log's lock): null to append it, or the refusal.</summary>
    private ProducePartitionResult? CheckSequence(ProducePartitionData part, long baseOffset)
    {
        var reader = new RecordSetReader(part.Records.Span);
        if (!reader.MoveNext()) return null;
        var h = reader.CurrentBatch;
        if (h.ProducerId < 0) return null;
        var last = h.BaseSequence + h.RecordCount - 1 < 0 ? h.BaseSequence + h.RecordCount - 1 - int.MinValue : h.BaseSequence + h.RecordCount - 1;
        short code = 0;
        lock (_producerStates)
        {
            var key = (part.Topic, part.Partition, h.ProducerId);
            _producerStates.TryGetValue(key, out var state);
            if (state is not null && h.ProducerEpoch < state.Epoch) code = 47; // INVALID_PRODUCER_EPOCH
            else if (state is not null && h.ProducerEpoch == state.Epoch && state.Recent.Any(b => b.First == h.BaseSequence && b.Last == last))
                code = 46; // DUPLICATE_SEQUENCE_NUMBER
            else if (state is null || h.ProducerEpoch > state.Epoch ? h.BaseSequence != 0
                     : h.BaseSequence != (state.LastSequence == int.MaxValue ? 0 : state.LastSequence + 1))
                code = 45; // OUT_OF_ORDER_SEQUENCE_NUMBER
            else
            {
                if (state is null || h.ProducerEpoch > state.Epoch) _producerStates[key] = state = new ProducerSequenceState { Epoch = h.ProducerEpoch };
                state.LastSequence = last;
                state.Recent.Enqueue((h.BaseSequence, last, baseOffset));
                if (state.Recent.Count > 5) state.Recent.Dequeue();
            }
        }
        if (code == 0) return null;
        SequenceRefusals.Enqueue((part.Partition, h.BaseSequence, code));
        return new ProducePartitionResult(part.Topic, part.Partition, code, -1, -1, "sequence check");
    }

    public ValueTask<ProducerIdentity?> InitProducerIdAsync(ProducerIdentity? current, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref InitCalls);
        InitRequests.Enqueue(current);
        if (!SupportsIdempotence) return ValueTask.FromResult<ProducerIdentity?>(null);
        if (InitErrors.TryDequeue(out var error))
            return ValueTask.FromException<ProducerIdentity?>(new ProduceException($"InitProducerId failed: error {error.Code} (injected)", error.Code,
                retriable: error.Retriable));
        // Like a broker with KIP-360: a bump keeps the id and raises the epoch; without the current id, a fresh id.
        if (current is null && _epoch >= 0) { _producerId++; _epoch = 0; }
        else _epoch++;
        return ValueTask.FromResult<ProducerIdentity?>(new ProducerIdentity(_producerId, _epoch));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public List<StoredRecord> Log(string topic, int partition) => Logs.TryGetValue((topic, partition), out var l) ? l : [];

    public static KielProducer<string, string> Producer(FakeTransport transport, KielProducerOptions? options = null) =>
        new(options ?? Options(), null, null, _ => transport);

    public static KielProducerOptions Options() => new()
    {
        BootstrapServers = "fake:9092",
        Linger = TimeSpan.FromMilliseconds(1),
        RetryBackoff = TimeSpan.FromMilliseconds(5),
        RequestTimeout = TimeSpan.FromSeconds(5),
        DeliveryTimeout = TimeSpan.FromSeconds(10),
        CloseTimeout = TimeSpan.FromSeconds(5),
    };
}
