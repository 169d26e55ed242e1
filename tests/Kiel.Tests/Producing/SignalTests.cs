using Kiel.Producing.Internal;

namespace Kiel.Tests.Producing;

public class SignalTests
{
    [Fact]
    public async Task Concurrent_sets_never_throw_and_never_lose_a_wake()
    {
        var signal = new Signal();
        var stop = false;
        var setters = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 200_000 && !Volatile.Read(ref stop); i++) signal.Set();
        })).ToArray();
        for (var i = 0; i < 2000; i++) signal.Wait(1, CancellationToken.None);
        Volatile.Write(ref stop, true);
        await Task.WhenAll(setters).WaitAsync(TimeSpan.FromSeconds(10));

        // After the storm, one set wakes the next wait promptly (well before its 10 s timeout).
        signal.Wait(0, CancellationToken.None);
        signal.Set();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        signal.Wait(10_000, CancellationToken.None);
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void A_set_before_the_wait_is_kept_and_the_wait_after_it_blocks_until_cancelled()
    {
        var signal = new Signal();
        signal.Set();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        signal.Wait(10_000, CancellationToken.None);
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(5), "a set made before the wait was lost");

        // Reset by that wait: the next one blocks until its token is cancelled.
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        waited.Restart();
        signal.Wait(60_000, cancel.Token);
        Assert.True(waited.Elapsed >= TimeSpan.FromMilliseconds(150), $"the wait returned after {waited.Elapsed} without a set");
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the cancelled wait did not end");
    }
}
