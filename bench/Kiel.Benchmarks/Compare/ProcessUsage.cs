using System.Runtime.InteropServices;

namespace Kiel.Benchmarks.Compare;

/// <summary>getrusage(RUSAGE_SELF) of this process: CPU of every thread (managed and native), the peak resident set and
/// the context switches.</summary>
internal static unsafe partial class ProcessUsage
{
    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrusage(int who, long* usage);

    /// <summary>One reading: user + system CPU in microseconds, the peak RSS in KiB (Linux reports ru_maxrss in KiB), and
    /// the context switches so far, voluntary (a thread waited: ru_nvcsw) and involuntary (a thread was preempted:
    /// ru_nivcsw; both zero where getrusage is not available).</summary>
    internal readonly record struct Reading(double CpuUs, long PeakRssKiB, long VoluntarySwitches, long InvoluntarySwitches);

    public static Reading Now()
    {
        if (!OperatingSystem.IsLinux())
        {
            var p = System.Diagnostics.Process.GetCurrentProcess();
            return new(p.TotalProcessorTime.TotalMicroseconds, p.PeakWorkingSet64 / 1024, 0, 0);
        }
        // struct rusage on 64-bit Linux: two timevals (2 longs each), then 14 longs starting with ru_maxrss and ending
        // with ru_nvcsw and ru_nivcsw.
        var buffer = stackalloc long[18];
        if (getrusage(0, buffer) != 0) throw new InvalidOperationException($"getrusage failed: {Marshal.GetLastPInvokeError()}");
        var cpu = buffer[0] * 1_000_000.0 + buffer[1] + buffer[2] * 1_000_000.0 + buffer[3];
        return new(cpu, buffer[4], buffer[16], buffer[17]);
    }
}
