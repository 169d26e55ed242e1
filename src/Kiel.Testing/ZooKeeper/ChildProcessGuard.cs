using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Kiel.Testing.ZooKeeper;

/// <summary>
/// Makes sure no java process outlives the test host that started it. Three layers:
/// <list type="number">
/// <item>On Linux every child is started through <c>setpriv --pdeathsig KILL</c>, so the kernel kills it when its
/// parent thread dies. The parent is the thread that forked, so all children are forked from one dedicated thread
/// that lives as long as the host (a thread-pool thread could retire and take the server with it).</item>
/// <item><see cref="AppDomain.ProcessExit"/> kills every live child on an orderly exit.</item>
/// <item>Each instance folder (<c>/tmp/kiel-zk-*</c>) records the host's PID and start time and the PIDs of its java
/// children; the next start removes folders whose host is gone and kills their children, after checking that the
/// PID still runs a command line naming that folder (PIDs get reused).</item>
/// </list>
/// </summary>
internal static partial class ChildProcessGuard
{
    internal const string FolderPrefix = "kiel-zk-";
    private const string OwnerFile = "owner";
    private const string PidsFile = "pids";

    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Result)> Requests = new();
    private static readonly ConcurrentDictionary<int, Process> Live = new();
    private static readonly Lazy<string?> SetPriv = new(() => File.Exists("/usr/bin/setpriv") ? "/usr/bin/setpriv" : null);
    private static int _initialized;

    private static void EnsureInitialized()
    {
        if (Interlocked.Exchange(ref _initialized, 1) == 1) return;
        var thread = new Thread(SpawnLoop) { IsBackground = true, Name = "kiel-zk-spawner" };
        thread.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        RemoveStaleFoldersSafely();
    }

    /// <summary>Runs the stale-folder sweep, ignoring folders that cannot be read.</summary>
    internal static int RemoveStaleFoldersSafely()
    {
        try { return RemoveStaleFolders(); }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    private static void SpawnLoop()
    {
        foreach (var (info, result) in Requests.GetConsumingEnumerable())
        {
            try { result.SetResult(Process.Start(info) ?? throw new InvalidOperationException($"'{info.FileName}' did not start.")); }
            catch (Exception e) { result.SetException(e); }
        }
    }

    /// <summary>Creates a fresh instance folder owned by this host.</summary>
    internal static string CreateInstanceFolder()
    {
        EnsureInitialized();
        var folder = Path.Combine(Path.GetTempPath(), $"{FolderPrefix}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, OwnerFile),
            $"{Environment.ProcessId} {ProcessStartTicks(Environment.ProcessId)?.ToString(CultureInfo.InvariantCulture) ?? "?"}");
        return folder;
    }

    /// <summary>Starts java (wrapped by setpriv where available), records it, and returns the process.</summary>
    internal static Process Start(string java, IReadOnlyList<string> arguments, string instanceFolder, string workingDirectory)
    {
        EnsureInitialized();
        var info = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            WorkingDirectory = workingDirectory,
        };
        if (OperatingSystem.IsLinux() && SetPriv.Value is { } setpriv)
        {
            // setpriv execs java, so the PID we hold is java's own.
            info.FileName = setpriv;
            info.ArgumentList.Add("--pdeathsig");
            info.ArgumentList.Add("KILL");
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(java);
        }
        else
        {
            info.FileName = java;
        }
        foreach (var a in arguments) info.ArgumentList.Add(a);

        var request = (info, new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously));
        Requests.Add(request);
        var process = request.Item2.Task.GetAwaiter().GetResult();
        Live[process.Id] = process;
        try { File.AppendAllText(Path.Combine(instanceFolder, PidsFile), process.Id.ToString(CultureInfo.InvariantCulture) + "\n"); }
        catch (IOException) { }
        return process;
    }

    /// <summary>Forgets a process that has exited.</summary>
    internal static void Forget(Process process)
    {
        try { Live.TryRemove(process.Id, out _); }
        catch (InvalidOperationException) { }
    }

    /// <summary>Asks a process to stop (SIGTERM on Unix; a kill elsewhere).</summary>
    internal static void Terminate(Process process)
    {
        try
        {
            if (process.HasExited) return;
            if (OperatingSystem.IsWindows()) process.Kill(entireProcessTree: true);
            else _ = SysKill(process.Id, 15);
        }
        catch (InvalidOperationException) { }
    }

    private static void KillAll()
    {
        foreach (var p in Live.Values)
        {
            try
            {
                if (!p.HasExited) p.Kill();
                p.WaitForExit(2000);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { }
        }
        // And the instance folders of this host that were never disposed, so that a server someone forgot to dispose
        // leaves nothing in the temp folder either (the next start's sweep would remove them, but maybe never runs).
        try
        {
            foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), $"{FolderPrefix}{Environment.ProcessId}-*"))
                TryDelete(folder);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        // And those of processes that are gone: a kiel tool this host started (kiel demo, cluster or chaos run their own
        // ZooKeeper) and killed leaves its instance folder behind, and no later start may come to sweep it.
        RemoveStaleFoldersSafely();
    }

    private static int RemoveStaleFolders()
    {
        var removed = 0;
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            var ownerPath = Path.Combine(folder, OwnerFile);
            if (!File.Exists(ownerPath))
            {
                // A folder is written with its owner file at once; one without it is older than a minute only when abandoned.
                if (Directory.GetCreationTimeUtc(folder) < DateTime.UtcNow.AddMinutes(-1)) TryDelete(folder);
                continue;
            }
            var parts = File.ReadAllText(ownerPath).Split(' ');
            if (parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var ownerPid)) continue;
            if (IsAlive(ownerPid, parts[1])) continue;
            var pidsPath = Path.Combine(folder, PidsFile);
            if (File.Exists(pidsPath))
            {
                foreach (var line in File.ReadAllLines(pidsPath))
                {
                    if (!int.TryParse(line, CultureInfo.InvariantCulture, out var pid)) continue;
                    if (!CommandLineMentions(pid, folder)) continue;
                    _ = SysKill(pid, 9);
                }
            }
            TryDelete(folder);
            removed++;
        }
        return removed;
    }

    private static bool IsAlive(int pid, string recordedStart)
    {
        if (!OperatingSystem.IsLinux())
        {
            try { using var p = Process.GetProcessById(pid); return !p.HasExited; }
            catch (ArgumentException) { return false; }
        }
        var start = ProcessStartTicks(pid);
        if (start is null) return false;
        return recordedStart == "?" || recordedStart == start.Value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Field 22 of /proc/PID/stat: the start time in clock ticks since boot, which tells a reused PID apart.</summary>
    private static long? ProcessStartTicks(int pid)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var afterName = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // afterName[0] is field 3 (state), so field 22 is index 19.
            return long.Parse(afterName[19], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    private static bool CommandLineMentions(int pid, string folder)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Contains(folder, StringComparison.Ordinal); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    internal static void TryDelete(string folder)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
                return;
            }
            catch (IOException) { Thread.Sleep(50); }
            catch (UnauthorizedAccessException) { return; }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
