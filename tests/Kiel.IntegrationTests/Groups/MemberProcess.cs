using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Kiel.IntegrationTests.Groups;

/// <summary>One record as a member handed it out; <paramref name="At"/> is the monotonic clock (shared by all processes
/// on the machine) when the consumer returned it, not when the test heard of it. <paramref name="CallStarted"/>, when
/// known (not 0), is when the consume call that returned it began: the consumer approved the hand-out somewhere in
/// between, so a member frozen inside the call returns, after the thaw, records it approved before the freeze.</summary>
internal sealed record Delivery(string Member, int Partition, long Offset, long At, long CallStarted = 0);

/// <summary>What every member of a test delivered, in one global order.</summary>
internal sealed class DeliveryLog
{
    public ConcurrentQueue<Delivery> All { get; } = new();

    public void Add(string member, int partition, long offset, long at, long callStarted = 0) =>
        All.Enqueue(new Delivery(member, partition, offset, at, callStarted));

    public HashSet<(int, long)> Distinct() => All.Select(d => (d.Partition, d.Offset)).ToHashSet();

    public List<IGrouping<(int Partition, long Offset), Delivery>> Duplicates() => All.GroupBy(d => (d.Partition, d.Offset)).Where(g => g.Count() > 1).ToList();
}

/// <summary>A group member in its own process (tests/Kiel.GroupMemberHost), which a test can kill, freeze or ask to leave.</summary>
internal sealed class MemberProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly DeliveryLog _log;
    private readonly object _gate = new();
    private readonly Dictionary<int, long> _committed = [];
    private HashSet<int> _allocation = [];
    private long _lines;

    public string Name { get; private set; } = "(starting)";

    private MemberProcess(DeliveryLog log, Process process)
    {
        _log = log;
        _process = process;
    }

    public static string HostPath
    {
        get
        {
            // tests/Kiel.IntegrationTests/bin/<config>/net10.0/ → tests/Kiel.GroupMemberHost/bin/<config>/net10.0/
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
            var config = here.Parent!.Name;
            var tests = here.Parent!.Parent!.Parent!.Parent!.FullName;
            return Path.Combine(tests, "Kiel.GroupMemberHost", "bin", config, here.Name, "Kiel.GroupMemberHost.dll");
        }
    }

    public static async Task<MemberProcess> StartAsync(DeliveryLog log, string brokers, string zk, string group, string topic, int sessionMs, params string[] extra)
    {
        Assert.True(File.Exists(HostPath), $"member host not built: {HostPath}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        // A member killed with SIGKILL cannot remove the runtime's diagnostic pipes from TMPDIR: let it make none.
        psi.Environment["DOTNET_EnableDiagnostics"] = "0";
        foreach (var a in new[] { HostPath, brokers, zk, group, topic, sessionMs.ToString() }.Concat(extra)) psi.ArgumentList.Add(a);
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var member = new MemberProcess(log, process);
        process.OutputDataReceived += (_, e) => { if (e.Data is null) member._exited.TrySetResult(); else member.OnLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) member._errors.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            member.Name = await member._ready.Task.WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            await member.DisposeAsync();
            throw new TimeoutException("member host did not get ready: " + string.Join("\n", member._errors));
        }
        return member;
    }

    private void OnLine(string line)
    {
        Interlocked.Increment(ref _lines);
        var parts = line.Split(' ', 2);
        switch (parts[0])
        {
            case "READY": _ready.TrySetResult(parts[1]); break;
            case "REC":
                var f = parts[1].Split(' ');
                _log.Add(Name, int.Parse(f[0]), long.Parse(f[1]), long.Parse(f[2]), f.Length > 3 ? long.Parse(f[3]) : 0);
                break;
            case "COMMITTED":
                lock (_gate)
                    foreach (var pair in parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries))
                    {
                        var kv = pair.Split(':');
                        _committed[int.Parse(kv[0])] = long.Parse(kv[1]);
                    }
                break;
            case "ALLOC":
                var set = parts.Length > 1 ? parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s[(s.LastIndexOf(':') + 1)..])).ToHashSet() : [];
                lock (_gate) _allocation = set;
                break;
        }
    }

    /// <summary>The next offset the member had committed per partition, as it reported.</summary>
    public Dictionary<int, long> Committed { get { lock (_gate) return new(_committed); } }

    /// <summary>The partitions the member last reported as its own.</summary>
    public HashSet<int> Allocation { get { lock (_gate) return [.. _allocation]; } }

    public bool HasExited => _process.HasExited;

    public string Errors => string.Join("\n", _errors);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);

    private const int SigStop = 19, SigCont = 18;

    /// <summary>Freezes the process (as a long GC pause or a suspended VM would).</summary>
    public void Freeze() => Assert.Equal(0, SysKill(_process.Id, SigStop));

    /// <summary>True once the kernel has really stopped the process (state T in /proc/PID/stat), not only been asked to.</summary>
    public bool IsStopped
    {
        get
        {
            var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
            return stat[stat.LastIndexOf(')') + 2] is 'T' or 't';
        }
    }

    /// <summary>Lets a frozen process run again.</summary>
    public void Thaw() => Assert.Equal(0, SysKill(_process.Id, SigCont));

    /// <summary>Kills the process outright: no wind-down, no commit, its ZooKeeper nodes stay until the session times out.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Asks the member to wind down cleanly and waits for it to exit.</summary>
    public async Task LeaveAsync()
    {
        await _process.StandardInput.WriteLineAsync("leave");
        await _process.StandardInput.FlushAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _process.WaitForExitAsync(cts.Token);
        Assert.True(_process.ExitCode == 0, "member host failed: " + Errors);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                try { Thaw(); } catch { }
                _process.Kill(entireProcessTree: true);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(cts.Token);
            }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
