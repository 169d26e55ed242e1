namespace Kiel.Tests;

/// <summary>Waits for conditions with a deadline instead of sleeping and hoping.</summary>
internal static class Eventually
{
    /// <summary>Generous for a busy machine; a test that passes waits only as long as its condition takes.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    /// <summary>Returns as soon as <paramref name="condition"/> holds; fails with <paramref name="what"/> when it does not within the deadline.</summary>
    public static async Task Until(Func<bool> condition, string what, TimeSpan? deadline = null)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var limit = deadline ?? Deadline;
        while (!condition())
        {
            if (System.Diagnostics.Stopwatch.GetElapsedTime(started) > limit) Assert.Fail($"Timed out after {limit.TotalSeconds:0.#} s waiting for: {what}");
            await Task.Delay(5);
        }
    }

    /// <summary>
    /// Checks that <paramref name="condition"/> keeps holding for <paramref name="window"/>: the negative half of a
    /// timing test (nothing happens before fake time gets there). On a busy machine a short window only makes the
    /// check weaker, never wrong.
    /// </summary>
    public static async Task Holds(Func<bool> condition, string what, TimeSpan window)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        do
        {
            Assert.True(condition(), what);
            await Task.Delay(5);
        }
        while (System.Diagnostics.Stopwatch.GetElapsedTime(started) < window);
        Assert.True(condition(), what);
    }
}
