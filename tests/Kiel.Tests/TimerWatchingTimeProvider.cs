using Microsoft.Extensions.Time.Testing;

namespace Kiel.Tests;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that records the due time of every timer created on it, so a test can wait until
/// the code under test has started a delay before it advances the clock (advancing first would leave the delay waiting
/// a whole period more).
/// </summary>
internal sealed class TimerWatchingTimeProvider : FakeTimeProvider
{
    private readonly List<TimeSpan> _dueTimes = [];

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        // Counted once the clock holds it: counted before, a test could advance the clock between the count and the
        // timer's creation, and the timer would then start from the advanced time and wait a whole period more (seen on
        // a busy machine: a leader's SyncGroup head start that never ended).
        var timer = base.CreateTimer(callback, state, dueTime, period);
        lock (_dueTimes) _dueTimes.Add(dueTime);
        return timer;
    }

    /// <summary>How many timers with exactly <paramref name="dueTime"/> were created so far.</summary>
    public int TimersWithDueTime(TimeSpan dueTime)
    {
        lock (_dueTimes) return _dueTimes.Count(d => d == dueTime);
    }
}
