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
        for (var i = 0; i < 2000; i++) await signal.WaitAsync(1, CancellationToken.None);
        Volatile.Write(ref stop, true);
        await Task.WhenAll(setters).WaitAsync(TimeSpan.FromSeconds(10));

        // After the storm, one set wakes the next wait promptly (well before its 10 s timeout).
        await signal.WaitAsync(0, CancellationToken.None);
        signal.Set();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        await signal.WaitAsync(10_000, CancellationToken.None);
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(5));
    }
}
