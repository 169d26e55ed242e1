using System.Threading.Tasks.Sources;
using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>
/// A request written (or about to be) and waiting for its response. It is itself the source of the caller's
/// <see cref="ValueTask{TResult}"/>, so a round trip allocates no Task. It is never reused: whichever of reply,
/// timeout, broken connection or cancellation comes first completes it, and the others find it completed.
/// </summary>
internal sealed class PendingRequest : IValueTaskSource<ResponseFrame>
{
    private ManualResetValueTaskSourceCore<ResponseFrame> _core = new() { RunContinuationsAsynchronously = true };
    private int _completed;
    private CancellationTokenRegistration _registration;

    public PendingRequest(ApiKey apiKey, short version, long startTimestamp, long deadline, TimeSpan timeout)
    {
        ApiKey = apiKey;
        Version = version;
        StartTimestamp = startTimestamp;
        Deadline = deadline;
        Timeout = timeout;
        ResponseHeaderVersion = HeaderVersions.Response(apiKey, version);
    }

    public ApiKey ApiKey { get; }

    public short Version { get; }

    public int CorrelationId { get; set; }

    public long StartTimestamp { get; }

    /// <summary>Timestamp (of the connection's <see cref="TimeProvider"/>) after which the request has timed out.</summary>
    public long Deadline { get; }

    public TimeSpan Timeout { get; }

    public short ResponseHeaderVersion { get; }

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

    public bool TrySetResult(ResponseFrame frame)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return false;
        _registration.Unregister();
        _core.SetResult(frame);
        return true;
    }

    public bool TrySetException(Exception error)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return false;
        _registration.Unregister();
        _core.SetException(error);
        return true;
    }

    private void TrySetCanceled(CancellationToken token) => TrySetException(new OperationCanceledException(token));

    ResponseFrame IValueTaskSource<ResponseFrame>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ResponseFrame>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<ResponseFrame>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
