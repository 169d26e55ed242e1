namespace Kiel.Cli.Chaos;

/// <summary>
/// How long <c>kiel chaos</c> may take to read the whole topic back from the cluster after a campaign: a floor of
/// <see cref="Floor"/> plus <see cref="PerRecord"/> for every record produced. The mock serves a soak's many tiny
/// batches slowly (a 30-minute soak's 540k records did not come back within a fixed 5 minutes), so the bound grows with
/// the run. No dependencies: <c>tests/Kiel.Tests</c> compiles this file in.
/// </summary>
internal static class ReadBackBound
{
    /// <summary>The bound of a run with no or few records.</summary>
    public static readonly TimeSpan Floor = TimeSpan.FromMinutes(5);

    /// <summary>The bound's share per record produced (3 ms: a read-back of at least ~330 records/s).</summary>
    public static readonly TimeSpan PerRecord = TimeSpan.FromMilliseconds(3);

    /// <summary>The bound for a run that produced <paramref name="records"/> records (negative counts as 0).</summary>
    public static TimeSpan For(long records) => Floor + (PerRecord * Math.Max(0, records));

    /// <summary>The bound as the verdict states it, e.g. <c>32 min (5 min + 3 ms × 540002 records)</c>.</summary>
    public static string Describe(long records) => FormattableString.Invariant(
        $"{For(records).TotalMinutes:F0} min ({Floor.TotalMinutes:F0} min + {PerRecord.TotalMilliseconds:F0} ms × {Math.Max(0, records)} records)");
}
