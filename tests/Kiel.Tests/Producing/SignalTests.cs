using Kiel.Producing.Internal;

namespace Kiel.Tests.Producing;

public class SignalTests
{
    /// <summary>Milliseconds as ticks of the system clock, which <see cref="Signal.WaitTicks"/> takes.</summary>
    private static long Ms(int milliseconds) => System.Diagnostics.Stopwatch.Frequency * milliseconds / 1000;

    [Fact]
    public async Task Concurrent_sets_never_throw_and_never_lose_a_wake()
    {
        var signal = new Signal();
        var stop = false;
        var setters = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 200_000 && !Volatile.Read(ref stop); i++) signal.Set();
        })).ToArray();
        for (var i = 0; i < 2000; i++) signal.WaitTicks(Ms(1), CancellationToken.None);
        Volatile.Write(ref stop, true);
        await Task.WhenAll(setters).WaitAsync(TimeSpan.FromSeconds(10));

        // After the storm, one set wakes the next wait promptly (well before its 10 s timeout).
        signal.WaitTicks(0, CancellationToken.None);
        signal.Set();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        signal.WaitTicks(Ms(10_000), CancellationToken.None);
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void A_set_before_the_wait_is_kept_and_the_wait_after_it_blocks_until_cancelled()
    {
        var signal = new Signal();
        signal.Set();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        signal.WaitTicks(Ms(10_000), CancellationToken.None);
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(5), "a set made before the wait was lost");

        // Reset by that wait: the next one blocks until its token is cancelled.
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        waited.Restart();
        signal.WaitTicks(Ms(60_000), cancel.Token);
        Assert.True(waited.Elapsed >= TimeSpan.FromMilliseconds(150), $"the wait returned after {waited.Elapsed} without a set");
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the cancelled wait did not end");
    }

    [Fact]
    public void On_Linux_with_the_system_clock_a_timed_wait_is_precise_and_never_ends_early()
    {
        using var signal = new Signal();
        Assert.Equal(OperatingSystem.IsLinux(), signal.IsPrecise);
        // A linger's end is never brought forward: 2.5 ms (not a whole millisecond) is waited in full, each time.
        var ticks = System.Diagnostics.Stopwatch.Frequency * 25 / 10_000;
        for (var i = 0; i < 20; i++)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            signal.WaitTicks(ticks, CancellationToken.None);
            var waited = System.Diagnostics.Stopwatch.GetTimestamp() - started;
            Assert.True(waited >= ticks, $"a wait of 2.5 ms ended after {waited * 1000.0 / System.Diagnostics.Stopwatch.Frequency} ms");
        }
    }

    [Fact]
    public async Task A_set_from_another_thread_wakes_a_wait_without_a_time_limit()
    {
        using var signal = new Signal();
        var waiting = Task.Factory.StartNew(() => signal.WaitTicks(Signal.NoLimit, CancellationToken.None), TaskCreationOptions.LongRunning);
        await Eventually.Holds(() => !waiting.IsCompleted, "the wait blocks until set", TimeSpan.FromMilliseconds(100));
        signal.Set();
        await waiting.WaitAsync(Eventually.Deadline);
    }

    [Fact]
    public async Task The_waiting_thread_gets_a_timer_slack_of_a_microsecond_on_Linux()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var signal = new Signal();
        var slack = await Task.Factory.StartNew(() =>
        {
            signal.PrepareWaiter();
            // /proc/thread-self links to <pid>/task/<tid>; a thread's own timerslack_ns is read at /proc/<tid>.
            var tid = Path.GetFileName(new DirectoryInfo("/proc/thread-self").LinkTarget!);
            return File.ReadAllText($"/proc/{tid}/timerslack_ns").Trim();
        }, TaskCreationOptions.LongRunning).WaitAsync(Eventually.Deadline);
        Assert.Equal(Signal.WaiterTimerSlackNanoseconds.ToString(System.Globalization.CultureInfo.InvariantCulture), slack);
    }
}
