using System.Globalization;

namespace Kiel.Cli.Chaos;

/// <summary>
/// The soak's sampler: every <see cref="ChaosSettings.SampleEvery"/> it reads, for each client process, the GC heap
/// (as the process reports it), the resident set (VmRSS), open handles (<c>/proc/PID/fd</c>), threads and TCP
/// connections (socket handles). At the end it says whether each is flat after warm-up. A process marked not judged
/// (the <c>kiel</c> process: the embedded cluster's log grows with every record) is reported but cannot fail the soak.
/// </summary>
/// <remarks>
/// The rule: warm-up is the first third of the run. "Start" is the mean of the first three samples after warm-up,
/// "end" the mean of the last three. A measure is flat when end ≤ start × 1.25 + slack, with slack 16 MiB for the GC
/// heap and RSS, 8 for handles and threads, and 4 for connections.
/// </remarks>
internal sealed class SoakSampler(ChaosSettings settings, TextWriter output)
{
    private static readonly string[] Measures = ["gc heap MiB", "rss MiB", "handles", "threads", "connections"];
    private static readonly double[] Slack = [16, 16, 8, 8, 4];
    private readonly Dictionary<string, List<(TimeSpan At, double?[] Values)>> _samples = [];
    private readonly HashSet<string> _notJudged = [];
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public async Task RunAsync(Func<IEnumerable<(string Label, int Pid, long? GcHeap, bool Judged)>> processes, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(settings.SampleEvery);
        do
        {
            foreach (var (label, pid, gcHeap, judged) in processes())
            {
                var values = Sample(pid, gcHeap);
                if (values is null)
                {
                    continue;
                }

                lock (_samples)
                {
                    if (!_samples.TryGetValue(label, out var list))
                    {
                        _samples[label] = list = [];
                    }

                    if (!judged)
                    {
                        _notJudged.Add(label);
                    }

                    list.Add((_clock.Elapsed, values));
                }
            }
        }
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false));
    }

    private static double?[]? Sample(int pid, long? gcHeap)
    {
        try
        {
            var status = File.ReadAllLines($"/proc/{pid}/status");
            double? Field(string name)
            {
                var line = status.FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.Ordinal));
                return line is null ? null : double.Parse(line[(name.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }

            var handles = 0;
            var sockets = 0;
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                handles++;
                if (new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                {
                    sockets++;
                }
            }

            return [gcHeap / 1048576.0, Field("VmRSS") / 1024.0, handles, Field("Threads"), sockets];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null; // the process ended between listing and reading
        }
    }

    /// <summary>Prints start and end per process and measure; false when one is not flat.</summary>
    public bool Report()
    {
        var flat = true;
        output.WriteLine();
        output.WriteLine("soak: warm-up = first third of the run; start = mean of the 3 samples after it, end = mean of the last 3; flat when end <= start x 1.25 + slack (16 MiB heap/RSS, 8 handles/threads, 4 connections).");
        lock (_samples)
        {
            foreach (var (label, list) in _samples)
            {
                var warm = list.Where(s => s.At >= settings.Duration / 3).ToList();
                if (warm.Count < 6)
                {
                    output.WriteLine($"  {label}: {warm.Count} sample(s) after warm-up, too few to judge (run longer or sample more often)");
                    continue;
                }

                var judged = !_notJudged.Contains(label);
                var parts = new List<string>();
                for (var i = 0; i < Measures.Length; i++)
                {
                    var start = Mean(warm.Take(3), i);
                    var end = Mean(warm.TakeLast(3), i);
                    if (start is null || end is null)
                    {
                        continue;
                    }

                    var ok = end <= (start * 1.25) + Slack[i];
                    if (judged)
                    {
                        flat &= ok;
                    }

                    parts.Add(FormattableString.Invariant($"{Measures[i]} {start:F1} -> {end:F1}{(ok ? "" : judged ? " NOT FLAT" : " (grew)")}"));
                }

                output.WriteLine(FormattableString.Invariant($"  {label} ({warm.Count} samples after warm-up{(judged ? "" : ", reported, not judged")}): {string.Join(", ", parts)}"));
            }
        }

        output.WriteLine(flat ? "soak: flat after warm-up." : "soak: FAILED, something grew after warm-up.");
        output.Flush();
        return flat;
    }

    private static double? Mean(IEnumerable<(TimeSpan At, double?[] Values)> samples, int measure)
    {
        var values = samples.Select(s => s.Values[measure]).Where(v => v.HasValue).Select(v => v!.Value).ToList();
        return values.Count == 0 ? null : values.Average();
    }
}
