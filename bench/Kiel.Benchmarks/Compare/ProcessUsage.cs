using System.Runtime.InteropServices;

namespace Kiel.Benchmarks.Compare;

/// <summary>getrusage(RUSAGE_SELF) of this process: CPU of every thread (managed and native) and the peak resident set.</summary>
internal static unsafe partial class ProcessUsage
{
    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrusage(int who, long* usage);

    /// <summary>User + system CPU in microseconds, and the peak RSS in KiB (Linux reports ru_maxrss in KiB).</summary>
    public static (double CpuUs, long PeakRssKiB) Now()
    {
        if (!OperatingSystem.IsLinux())
        {
            var p = System.Diagnostics.Process.GetCurrentProcess();
            return (p.TotalProcessorTime.TotalMicroseconds, p.PeakWorkingSet64 / 1024);
        }
        // struct rusage on 64-bit Linux: two timevals (2 longs each), then 14 longs starting with ru_maxrss.
        var buffer = stackalloc long[18];
        if (getrusage(0, buffer) != 0) throw new InvalidOperationException($"getrusage failed: {Marshal.GetLastPInvokeError()}");
        var cpu = buffer[0] * 1_000_000.0 + buffer[1] + buffer[2] * 1_000_000.0 + buffer[3];
        return (cpu, buffer[4]);
    }

    /// <summary>Context switches of the process so far, voluntary (a thread waited) and involuntary (a thread was
    /// preempted): ru_nvcsw and ru_nivcsw. Zero where getrusage is not available.</summary>
    public static (long Voluntary, long Involuntary) ContextSwitches()
    {
        if (!OperatingSystem.IsLinux()) return (0, 0);
        var buffer = stackalloc long[18];
        if (getrusage(0, buffer) != 0) throw new InvalidOperationException($"getrusage failed: {Marshal.GetLastPInvokeError()}");
        return (buffer[16], buffer[17]);
    }
}
