namespace Kiel.IntegrationTests.Fixtures;

/// <summary>Bounds for every wait in the integration tests, so a hang fails instead of stalling CI.</summary>
public static class TestTimeouts
{
    /// <summary>A token that cancels after <paramref name="seconds"/>.</summary>
    public static CancellationTokenSource After(double seconds) => new(TimeSpan.FromSeconds(seconds));

    /// <summary>Polls <paramref name="condition"/> every 50 ms until it holds or the time is up.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }
}
