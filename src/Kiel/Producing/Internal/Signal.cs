namespace Kiel.Producing.Internal;

/// <summary>
/// An auto-reset wake-up for the sender thread: many setters, one waiter; sets while the waiter is busy collapse into
/// one wake. The wait is a blocking one on the sender's own thread: a timed wait on the system clock is then a
/// condition-variable wait with sub-millisecond precision, where a timer-based async wait is quantised by the coarse
/// tick (up to 4 ms late on Linux), which is what a linger of a few milliseconds cannot afford.
/// </summary>
/// <param name="time">The clock a timed wait runs on; null is the system clock.</param>
internal sealed class Signal(TimeProvider? time = null)
{
    // No spinning before blocking: the waiter is a dedicated thread, and an idle producer should cost nothing.
    private readonly ManualResetEventSlim _event = new(false, spinCount: 0);
    private readonly TimeProvider? _time = time is null || time == TimeProvider.System ? null : time;

    public void Set() => _event.Set();

    /// <summary>Blocks until set, <paramref name="milliseconds"/> pass (0: do not block, <see cref="Timeout.Infinite"/>: no time limit) or the token is cancelled; then resets.</summary>
    public void Wait(int milliseconds, CancellationToken cancellationToken)
    {
        try
        {
            if (milliseconds == Timeout.Infinite) _event.Wait(cancellationToken);
            else if (milliseconds > 0 && _time is null) _event.Wait(milliseconds, cancellationToken);
            else if (milliseconds > 0 && _time is not null)
            {
                // Another clock (a fake one in tests): the wait ends when that clock says so.
                using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(milliseconds), _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
                _event.Wait(linked.Token);
            }
        }
        catch (OperationCanceledException) { }
        // Reset before the caller looks at its state: a set after this reset wakes the next wait at once, and a set
        // before it is covered by the look that follows.
        _event.Reset();
    }
}
