using System.Diagnostics;

namespace Kiel.Benchmarks;

/// <summary>One whole-process measurement of a client run: throughput, process CPU and managed allocation per message.</summary>
public sealed record Sample(double MsgPerSec, double CpuUsPerMsg, double BytesPerMsg)
{
    /// <summary>Runs <paramref name="run"/> once after a full collection and measures it over <paramref name="count"/> messages.</summary>
    public static async Task<Sample> Measure(int count, Func<Task> run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var alloc0 = GC.GetTotalAllocatedBytes(precise: true);
        var sw = Stopwatch.StartNew();
        await run();
        sw.Stop();
        var alloc = GC.GetTotalAllocatedBytes(precise: true) - alloc0;
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpu0;
        return new Sample(count / sw.Elapsed.TotalSeconds, cpu.TotalMicroseconds / count, (double)alloc / count);
    }

    /// <summary>The median of each figure over repeated runs (runs are bimodal on this machine, so medians, not means).</summary>
    public static Sample Median(List<Sample> samples)
    {
        static double Med(IEnumerable<double> xs)
        {
            var a = xs.Order().ToArray();
            return a[a.Length / 2];
        }
        return new Sample(Med(samples.Select(x => x.MsgPerSec)), Med(samples.Select(x => x.CpuUsPerMsg)), Med(samples.Select(x => x.BytesPerMsg)));
    }
}

/// <summary>Command-line helpers shared by the whole-process runners.</summary>
public static class RunnerArgs
{
    /// <summary>The integer after <paramref name="name"/>, or <paramref name="fallback"/>.</summary>
    public static int Int(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
    }
}
