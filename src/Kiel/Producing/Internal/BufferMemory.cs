namespace Kiel.Producing.Internal;

/// <summary>Counts the bytes of records held by the producer and makes callers wait (or fail) when the limit is reached.</summary>
/// <param name="limit">The bytes that may be held.</param>
/// <param name="time">The clock of the max-block deadline; null is the system clock.</param>
internal sealed class BufferMemory(long limit, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private long _used;
    private readonly object _gate = new();
    private TaskCompletionSource? _freed;

    public long Used => Volatile.Read(ref _used);

    public bool TryReserve(long bytes)
    {
        // A single record larger than the whole buffer is still let through when the buffer is empty, or it could never be sent.
        var after = Interlocked.Add(ref _used, bytes);
        if (after <= limit || after == bytes) return true;
        Interlocked.Add(ref _used, -bytes);
        return false;
    }

    public void Release(long bytes)
    {
        if (bytes == 0) return;
        Interlocked.Add(ref _used, -bytes);
        if (Volatile.Read(ref _freed) is null) return;
        TaskCompletionSource? freed;
        lock (_gate) { freed = _freed; _freed = null; }
        freed?.TrySetResult();
    }

    public async ValueTask ReserveAsync(long bytes, TimeSpan maxBlock, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        while (!TryReserve(bytes))
        {
            var left = (long)(maxBlock - _time.GetElapsedTime(started)).TotalMilliseconds;
            if (left <= 0) throw Full();
            Task wait;
            lock (_gate) wait = (_freed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            if (TryReserve(bytes)) return;
            // Bounded wait: a release between the check and the wait is caught on the next turn at the latest.
            await Task.WhenAny(wait, Task.Delay(TimeSpan.FromMilliseconds(Math.Min(left, 100)), _time, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    public void Reserve(long bytes, TimeSpan maxBlock)
    {
        if (TryReserve(bytes)) return;
        var started = _time.GetTimestamp();
        var spinner = new SpinWait();
        while (!TryReserve(bytes))
        {
            if (_time.GetElapsedTime(started) >= maxBlock) throw Full();
            if (spinner.NextSpinWillYield) Thread.Sleep(1);
            else spinner.SpinOnce();
        }
    }

    public ProducerQueueFullException Full() => new(
        $"The producer's buffer is full ({Used:N0} of {limit:N0} bytes held). Records are produced faster than the cluster takes them; " +
        "raise BufferMemory, slow down, or await the produce calls.");
}
