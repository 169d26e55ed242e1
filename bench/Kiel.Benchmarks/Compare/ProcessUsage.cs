using System.Runtime.InteropServices;

namespace Kiel.Benchmarks.Compare;

/// <summary>getrusage(RUSAGE_SELF) of this process: CPU of every thread (managed and native), the peak resident set and
/// the context switches.</summary>
internal static unsafe partial class ProcessUsage
{
    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrusage(int who, long* usage);

    [LibraryImport("libc")]
    private static partial int getppid();

    /// <summary>One reading: user + system CPU in microseconds, the system part of it, the peak RSS in KiB (Linux reports
    /// ru_maxrss in KiB), the context switches so far, voluntary (a thread waited: ru_nvcsw) and involuntary (a thread was
    /// preempted: ru_nivcsw), and the minor page faults (ru_minflt); the last three zero where getrusage is not available.</summary>
    internal readonly record struct Reading(double CpuUs, double SystemUs, long PeakRssKiB, long VoluntarySwitches, long InvoluntarySwitches,
        long MinorFaults);

    /// <summary>
    /// What one system call costs this process now, in nanoseconds: the average of 20,000 calls of getppid, which does
    /// no work in the kernel. On a virtual machine it is mostly the cost of entering and leaving the kernel, which the
    /// host sets; a client that makes more calls or takes more faults per record pays more for it (NaN off Linux).
    /// </summary>
    public static double SystemCallNanoseconds()
    {
        if (!OperatingSystem.IsLinux()) return double.NaN;
        const int calls = 20_000;
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < calls; i++) getppid();
        return System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalNanoseconds / calls;
    }

    public static Reading Now()
    {
        if (!OperatingSystem.IsLinux())
        {
            var p = System.Diagnostics.Process.GetCurrentProcess();
            return new(p.TotalProcessorTime.TotalMicroseconds, p.PrivilegedProcessorTime.TotalMicroseconds, p.PeakWorkingSet64 / 1024, 0, 0, 0);
        }
        // struct rusage on 64-bit Linux: two timevals (2 longs each), then 14 longs starting with ru_maxrss and ending
        // with ru_nvcsw and ru_nivcsw.
        var buffer = stackalloc long[18];
        if (getrusage(0, buffer) != 0) throw new InvalidOperationException($"getrusage failed: {Marshal.GetLastPInvokeError()}");
        var system = buffer[2] * 1_000_000.0 + buffer[3];
        var cpu = buffer[0] * 1_000_000.0 + buffer[1] + system;
        return new(cpu, system, buffer[4], buffer[16], buffer[17], buffer[8]);
    }
}
