using System.Threading.Tasks.Sources;

namespace Kiel.Producing.Internal;

/// <summary>
/// What the producer engine needs from the cluster layer: topic layouts, Produce and InitProducerId. Kept narrow so
/// that the engine (batching, retries, sequencing) is tested against a scripted fake without sockets.
/// </summary>
internal interface IProducerTransport : IAsyncDisposable
{
    /// <summary>The topic's partitions and their leaders. <paramref name="refresh"/> asks for fresh metadata.
    /// A topic the cluster does not know gives a layout with <see cref="TopicLayout.ErrorCode"/> set.</summary>
    ValueTask<TopicLayout> GetTopicAsync(string topic, bool refresh, CancellationToken cancellationToken);

    /// <summary>
    /// True when every call ends promptly once its token is cancelled; otherwise the engine bounds each call with
    /// <see cref="Task.WaitAsync(CancellationToken)"/> as well (a Task and a promise per request).
    /// </summary>
    bool HonoursCancellation => false;

    /// <summary>
    /// How many more Produce calls to the broker, made now one after another, would each reach the broker's connection
    /// without waiting for anything (a connection, versions, a request slot), and so be written in call order. The
    /// engine puts more than one batch of a partition in flight only within that bound. The default, unbounded, is for
    /// a transport that keeps call order itself.
    /// </summary>
    int OrderedSendCapacity(int brokerId) => int.MaxValue;

    /// <summary>The record format the broker takes for Produce: 2 (Produce v3+), 1 (v2) or 0 (v0–v1).</summary>
    ValueTask<byte> GetRecordMagicAsync(int brokerId, CancellationToken cancellationToken);

    /// <summary>Sends one Produce request. For acks=0 the task completes when the request is written, with no partitions.
    /// A broken connection or timeout throws a <see cref="KielException"/> (retriable ones say so).</summary>
    ValueTask<ProduceResult> ProduceAsync(int brokerId, ProduceCall call, CancellationToken cancellationToken);

    /// <summary>Gets a producer id and epoch; with <paramref name="current"/> asks for an epoch bump of that id (KIP-360).
    /// Returns null when the cluster does not support idempotent produce.</summary>
    ValueTask<ProducerIdentity?> InitProducerIdAsync(ProducerIdentity? current, CancellationToken cancellationToken);
}

/// <summary>A producer id and epoch.</summary>
internal readonly record struct ProducerIdentity(long ProducerId, short Epoch)
{
    public static ProducerIdentity None => new(-1, -1);
}

/// <summary>A topic's partitions: the leader broker id of each, or -1 when leaderless.</summary>
internal sealed class TopicLayout(string topic, int[] leaders, short errorCode = 0)
{
    public string Topic { get; } = topic;
    public int[] Leaders { get; } = leaders;
    public short ErrorCode { get; } = errorCode;
    public int PartitionCount => Leaders.Length;
}

/// <summary>One Produce request: batches for partitions that one broker leads.</summary>
internal sealed class ProduceCall(short acks, int timeoutMs, List<ProducePartitionData> partitions)
{
    public short Acks { get; } = acks;
    public int TimeoutMs { get; } = timeoutMs;
    public List<ProducePartitionData> Partitions { get; } = partitions;
    /// <summary>The transactional id a transactional producer's Produce request carries (v3+), or null.</summary>
    public string? TransactionalId { get; init; }

    /// <summary>
    /// Set by the sender on the requests to the last broker it starts requests for in a pass: with nothing left to start
    /// for another broker, it writes a large request itself rather than waking a pool thread for it
    /// (<see cref="Kiel.Network.BrokerConnection.SendRawAsync"/>).
    /// </summary>
    public bool WriteInline { get; set; }

    /// <summary>
    /// The wire request and result of this call's previous exchange, reused by <see cref="ProduceWire"/> when the
    /// engine sends the same (pooled) call again: a request per awaited record would otherwise cost a dozen objects.
    /// </summary>
    internal Kiel.Protocol.Messages.ProduceRequest? Request { get; set; }
    internal Stack<Kiel.Protocol.Messages.ProduceRequest.TopicProduceData> SpareTopics { get; } = new();
    internal Stack<Kiel.Protocol.Messages.ProduceRequest.PartitionProduceData> SpareParts { get; } = new();
    internal ProduceResult? Result { get; set; }

    /// <summary>
    /// The source of the result <see cref="ProduceWire.SendAsync"/> returns when the answer is still to come, reused by
    /// every exchange of this call: a pooled async method's box goes back to a pool of the thread that completes it, and
    /// the engine starts its requests on another thread, so each would cost an allocation. The engine sends a call again
    /// only after it has read the previous result, and never reuses an abandoned call.
    /// </summary>
    internal ProduceCallCompletion Completion => _completion ??= new ProduceCallCompletion();

    private ProduceCallCompletion? _completion;
}

/// <summary>A reusable completion: the answer of a Produce request read when its frame arrives (see <see cref="ProduceCall.Completion"/>).</summary>
internal sealed class ProduceCallCompletion : IValueTaskSource<ProduceResult>
{
    // Continuations run where the frame completes (already off the connection's read loop): the engine's is short.
    private ManualResetValueTaskSourceCore<ProduceResult> _core;
    private readonly Action _onFrame;
    private ValueTask<Kiel.Network.ResponseFrame> _frame;
    private ProduceCall? _call;
    private Kiel.Protocol.Messages.ProduceRequest? _request;

    public ProduceCallCompletion() => _onFrame = OnFrame;

    /// <summary>Waits for <paramref name="frame"/> (not yet completed), the answer to <paramref name="request"/>, and reads it.</summary>
    public ValueTask<ProduceResult> Await(ValueTask<Kiel.Network.ResponseFrame> frame, ProduceCall call, Kiel.Protocol.Messages.ProduceRequest request)
    {
        _core.Reset();
        _frame = frame;
        _call = call;
        _request = request;
        var result = new ValueTask<ProduceResult>(this, _core.Version);
        frame.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onFrame);
        return result;
    }

    private void OnFrame()
    {
        var frameTask = _frame;
        var call = _call!;
        var request = _request!;
        _frame = default;
        _call = null;
        _request = null;
        ProduceResult result;
        try
        {
            result = ProduceWire.ReadResult(call, request, frameTask.GetAwaiter().GetResult());
        }
        catch (Exception e)
        {
            _core.SetException(e);
            return;
        }
        _core.SetResult(result);
    }

    ProduceResult IValueTaskSource<ProduceResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ProduceResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<ProduceResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>The encoded records (a magic 2 batch, or a magic 0/1 message set) for one partition.</summary>
internal readonly record struct ProducePartitionData(string Topic, int Partition, ReadOnlyMemory<byte> Records);

/// <summary>A Produce response, or nothing for acks=0.</summary>
internal sealed class ProduceResult(List<ProducePartitionResult> partitions)
{
    public List<ProducePartitionResult> Partitions { get; } = partitions;
    public static ProduceResult NoResponse { get; } = new([]);
}

/// <summary>One partition's answer.</summary>
internal readonly record struct ProducePartitionResult(string Topic, int Partition, short ErrorCode, long BaseOffset, long LogAppendTimeMs, string? ErrorMessage);
