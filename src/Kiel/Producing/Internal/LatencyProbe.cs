namespace Kiel.Producing.Internal;

/// <summary>
/// Where an awaited record's time goes, for the bench (one record at a time, so the last marks are that record's):
/// with <c>KIEL_BENCH_LATENCY_PROBE=1</c> set for the process, the producer stamps each stage. Off, the checks are a
/// constant the JIT removes (a static readonly bool), so the produce path pays nothing.
/// </summary>
internal static class LatencyProbe
{
    /// <summary>The stages, in order.</summary>
    public const int Appended = 0, SendStarting = 1, Sent = 2, Answered = 3, Reporting = 4, Completed = 5, Count = 6;

    public static readonly bool Enabled = Environment.GetEnvironmentVariable("KIEL_BENCH_LATENCY_PROBE") == "1";

    /// <summary>The latest <see cref="System.Diagnostics.Stopwatch"/> timestamp of each stage.</summary>
    public static readonly long[] Stamps = new long[Count];

    public static void Mark(int stage) => Volatile.Write(ref Stamps[stage], System.Diagnostics.Stopwatch.GetTimestamp());
}
