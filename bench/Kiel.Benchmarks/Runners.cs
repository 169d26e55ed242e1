namespace Kiel.Benchmarks;

/// <summary>
/// Whole-process runners (for example Kiel vs Confluent.Kafka throughput on the embedded cluster).
/// Each area adds its runner to <see cref="All"/> in its own file via a partial method.
/// </summary>
public static partial class Runners
{
    private static readonly Dictionary<string, Func<string[], Task<int>>> All = new(StringComparer.OrdinalIgnoreCase);

    static partial void Register(Dictionary<string, Func<string[], Task<int>>> runners);

    public static bool TryRun(string[] args, out int exitCode)
    {
        Register(All);
        if (All.TryGetValue(args[0], out var run))
        {
            exitCode = run(args[1..]).GetAwaiter().GetResult();
            return true;
        }
        exitCode = 0;
        return false;
    }
}
