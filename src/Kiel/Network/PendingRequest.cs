using System.Threading.Tasks.Sources;
using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>
/// A request written (or about to be) and waiting for its response. It is itself the source of the caller's
/// <see cref="ValueTask{TResult}"/>, so a round trip allocates no Task. Whichever of reply, timeout, broken connection
/// or cancellation comes first completes it, and the others find it completed.
/// </summary>
/// <remarks>
/// A request answered by its reply goes back to its connection's pool once the caller has read the frame
/// (<see cref="IValueTaskSource{TResult}.GetResult"/>), so a round trip allocates nothing: the read loop took it out of
/// the connection's table before completing it (no sweep or close can reach it any more), and its cancellation
/// registration is disposed first, which waits for a callback still running. A request completed any other way
/// (cancelled, timed out, failed) is never reused: a cancelled one stays in the table until its reply or the sweep.
/// </remarks>
internal sealed class PendingRequest : IValueTaskSource<ResponseFrame>, IThreadPoolWorkItem
{
    // Completed from the thread pool by the request itself (IThreadPoolWorkItem), so the caller's continuation runs
    // there and never on the read loop, the sweep, a close or a cancelling thread; the core then runs it inline. With
    // RunContinuationsAsynchronously the core queued a new work item object for every reply.
    private ManualResetValueTaskSourceCore<ResponseFrame> _core;
    private readonly BrokerConnection _home;
    private int _completed;
    private ResponseFrame? _result;
    private Exception? _error;
    private CancellationTokenRegistration _registration;

    /// <summary>A request that goes back to <paramref name="home"/>'s pool once its answer has been read.</summary>
    public PendingRequest(BrokerConnection home) => _home = home;

    /// <summary>Sets the request up for one exchange; a new or recycled instance only.</summary>
    public PendingRequest Start(ApiKey apiKey, short version, long startTimestamp, long deadline, TimeSpan timeout)
    {
        ApiKey = apiKey;
        Version = version;
        StartTimestamp = startTimestamp;
        Deadline = deadline;
        Timeout = timeout;
        ResponseHeaderVersion = HeaderVersions.Response(apiKey, version);
        return this;
    }

    public ApiKey ApiKey { get; private set; }

    public short Version { get; private set; }

    public int CorrelationId { get; set; }

    public long StartTimestamp { get; private set; }

    /// <summary>Timestamp (of the connection's <see cref="TimeProvider"/>) after which the request has timed out.</summary>
    public long Deadline { get; private set; }

    public TimeSpan Timeout { get; private set; }

    public short ResponseHeaderVersion { get; private set; }

    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    /// <summary>The caller's view; awaited exactly once.</summary>
    public ValueTask<ResponseFrame> Task => new(this, _core.Version);

    /// <summary>Stops waiting when <paramref name="cancellationToken"/> fires (the request itself stays on the wire).</summary>
    public void RegisterCancellation(CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled) return;
        _registration = cancellationToken.UnsafeRegister(static (s, t) => ((PendingRequest)s!).TrySetCanceled(t), this);
        if (IsCompleted) _registration.Unregister(); // completed before the registration was stored
    }

    /// <summary>Completes the request with its reply. Only the read loop calls it, after taking the request out of the
    /// connection's table.</summary>
    public bool TrySetResult(ResponseFrame frame)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return false;
        _registration.Unregister();
        _result = frame;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
        return true;
    }

    public bool TrySetException(Exception error)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return false;
        _registration.Unregister();
        _error = error;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
        return true;
    }

    /// <summary>Hands the outcome to the caller, whose continuation runs here. Once the core has it, the request may
    /// already be reused (the caller read it and it went back to the pool): nothing is touched after that.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        var frame = _result;
        var error = _error;
        _result = null;
        _error = null;
        if (error is not null) _core.SetException(error);
        else _core.SetResult(frame!);
    }

    private void TrySetCanceled(CancellationToken token) => TrySetException(new OperationCanceledException(token));

    ResponseFrame IValueTaskSource<ResponseFrame>.GetResult(short token)
    {
        // Throws for a request that did not get its reply, which is never reused; only the read loop sets a result.
        var frame = _core.GetResult(token);
        // The caller registered (if at all) before it could see the result; disposing waits for a callback that is
        // still running (it found the request completed and did nothing).
        _registration.Dispose();
        _registration = default;
        _core.Reset();
        Volatile.Write(ref _completed, 0);
        _home.ReturnRequest(this);
        return frame;
    }

    ValueTaskSourceStatus IValueTaskSource<ResponseFrame>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<ResponseFrame>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
