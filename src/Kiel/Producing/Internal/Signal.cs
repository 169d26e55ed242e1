namespace Kiel.Producing.Internal;

/// <summary>An auto-reset wake-up for the sender loop: many setters, one waiter; sets while the waiter is busy collapse into one wake.</summary>
/// <remarks>The semaphore is unbounded on purpose: a set that races with the waiter's reset may leave one extra
/// count, which costs one spurious wake and never an exception or a lost wake-up.</remarks>
/// <param name="time">The clock a timed wait runs on; null is the system clock.</param>
internal sealed class Signal(TimeProvider? time = null)
{
    private readonly SemaphoreSlim _semaphore = new(0);
    private readonly TimeProvider? _time = time is null || time == TimeProvider.System ? null : time;
    private int _set;

    public void Set()
    {
        if (Interlocked.Exchange(ref _set, 1) == 0) _semaphore.Release();
    }

    public async Task WaitAsync(int milliseconds, CancellationToken cancellationToken)
    {
        try
        {
            if (milliseconds > 0 && _time is null) await _semaphore.WaitAsync(milliseconds, cancellationToken).ConfigureAwait(false);
            else if (milliseconds > 0 && _time is not null)
            {
                // Another clock (a fake one in tests): the wait ends when that clock says so.
                using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(milliseconds), _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
                await _semaphore.WaitAsync(linked.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
        // Drain first, then reset: a set after the reset releases again and wakes the next wait at once.
        while (_semaphore.Wait(0)) { }
        Interlocked.Exchange(ref _set, 0);
    }
}
