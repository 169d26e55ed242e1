namespace Kiel.Producing.Internal;

/// <summary>An auto-reset wake-up for the sender loop: many setters, one waiter; sets while the waiter is busy collapse into one wake.</summary>
/// <remarks>The semaphore is unbounded on purpose: a set that races with the waiter's reset may leave one extra
/// count, which costs one spurious wake and never an exception or a lost wake-up.</remarks>
internal sealed class Signal
{
    private readonly SemaphoreSlim _semaphore = new(0);
    private int _set;

    public void Set()
    {
        if (Interlocked.Exchange(ref _set, 1) == 0) _semaphore.Release();
    }

    public async Task WaitAsync(int milliseconds, CancellationToken cancellationToken)
    {
        try
        {
            if (milliseconds > 0) await _semaphore.WaitAsync(milliseconds, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
        // Drain first, then reset: a set after the reset releases again and wakes the next wait at once.
        while (_semaphore.Wait(0)) { }
        Interlocked.Exchange(ref _set, 0);
    }
}
