using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;

namespace Kiel.Producing.Internal;

/// <summary>The pooled completion behind one awaited <c>ProduceAsync</c>: no Task is allocated per record.</summary>
internal sealed class DeliveryPromise : IValueTaskSource<DeliveryReport>
{
    private static readonly ConcurrentQueue<DeliveryPromise> s_pool = new();
    private static int s_pooled;
    private const int MaxPooled = 4096;

    private ManualResetValueTaskSourceCore<DeliveryReport> _core = new() { RunContinuationsAsynchronously = true };

    public static DeliveryPromise Rent()
    {
        if (s_pool.TryDequeue(out var p)) { Interlocked.Decrement(ref s_pooled); return p; }
        return new DeliveryPromise();
    }

    public short Version => _core.Version;

    public ValueTask<DeliveryReport> Task => new(this, _core.Version);

    public void Complete(in DeliveryReport report)
    {
        if (report.Error is { } error) _core.SetException(error);
        else _core.SetResult(report);
    }

    public DeliveryReport GetResult(short token)
    {
        try { return _core.GetResult(token); }
        finally
        {
            _core.Reset();
            if (Interlocked.Increment(ref s_pooled) <= MaxPooled) s_pool.Enqueue(this);
            else Interlocked.Decrement(ref s_pooled);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
