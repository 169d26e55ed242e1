namespace Kiel.Producing.Internal;

/// <summary>An auto-reset wake-up for the sender loop: many setters, one waiter, setting twice wakes once.</summary>
internal sealed class Signal
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);
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
        if (Interlocked.Exchange(ref _set, 0) == 1) _semaphore.Wait(0);
    }
}
