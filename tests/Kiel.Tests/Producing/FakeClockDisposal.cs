using Microsoft.Extensions.Time.Testing;

namespace Kiel.Tests.Producing;

/// <summary>Disposal of a producer that runs on a fake clock.</summary>
internal static class FakeClockDisposal
{
    /// <summary>
    /// Disposes while moving the fake clock along a second at a time (at most 600 steps), so that waits on it (retry
    /// backoffs, close and request bounds) can end; then waits for the disposal with the usual deadline.
    /// </summary>
    public static async Task DisposeDrivenAsync(IAsyncDisposable producer, FakeTimeProvider time)
    {
        var disposing = producer.DisposeAsync().AsTask();
        for (var i = 0; i < 600 && !disposing.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(disposing, Task.Delay(10));
        }
        await disposing.WaitAsync(Eventually.Deadline);
    }
}
