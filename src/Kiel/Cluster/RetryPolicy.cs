namespace Kiel.Cluster;

/// <summary>
/// How often and how fast to retry a retriable failure: exponential backoff from <see cref="Backoff"/> doubling up to
/// <see cref="BackoffMax"/>, with ±<see cref="Jitter"/> randomness so that many clients do not retry in step.
/// </summary>
internal sealed record RetryPolicy
{
    /// <summary>Most attempts per operation, the first included. Default 10. The caller's token bounds the total time.</summary>
    public int MaxAttempts { get; init; } = 10;

    /// <summary>The first delay. Default 100 ms.</summary>
    public TimeSpan Backoff { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The largest delay. Default 1 s.</summary>
    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Relative randomness of each delay, from 0 to 1. Default 0.2.</summary>
    public double Jitter { get; init; } = 0.2;

    /// <summary>The delay after the <paramref name="failures"/>-th consecutive failure (1-based).</summary>
    public TimeSpan Delay(int failures)
    {
        if (failures < 1) return TimeSpan.Zero;
        var exp = Math.Min(failures - 1, 30);
        var ms = Math.Min(Backoff.TotalMilliseconds * Math.Pow(2, exp), BackoffMax.TotalMilliseconds);
        var jitter = Jitter <= 0 ? 1 : 1 + (Random.Shared.NextDouble() * 2 - 1) * Jitter;
        return TimeSpan.FromMilliseconds(Math.Min(ms * jitter, BackoffMax.TotalMilliseconds * (1 + Jitter)));
    }

    /// <summary>Checks the settings.</summary>
    public void Validate(string owner)
    {
        if (MaxAttempts < 1) throw new ArgumentException($"{owner}.MaxAttempts is {MaxAttempts}; it must be at least 1.", nameof(MaxAttempts));
        if (Backoff < TimeSpan.Zero) throw new ArgumentException($"{owner}.Backoff is {Backoff}; it must not be negative.", nameof(Backoff));
        if (BackoffMax < Backoff) throw new ArgumentException($"{owner}.BackoffMax ({BackoffMax}) must be at least Backoff ({Backoff}).", nameof(BackoffMax));
        if (Jitter is < 0 or > 1) throw new ArgumentException($"{owner}.Jitter is {Jitter}; it must be from 0 to 1.", nameof(Jitter));
    }
}
