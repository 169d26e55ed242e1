using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Kiel.Cli.Demo;

/// <summary>A <c>kiel demo-member</c> child process whose reports feed the <see cref="DemoTracker"/>.</summary>
internal sealed class DemoMemberProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DemoTracker _tracker;
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _joined = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private DemoMemberProcess(Process process, DemoTracker tracker, DemoMemberState state)
    {
        _process = process;
        _tracker = tracker;
        State = state;
    }

    public DemoMemberState State { get; }

    public Task Joined => _joined.Task;

    public bool HasExited => _process.HasExited;

    /// <summary>The child's process id.</summary>
    public int Pid => _process.Id;

    public string StdErrTail
    {
        get
        {
            lock (_stderr)
            {
                var text = _stderr.ToString().Trim();
                return text.Length > 400 ? text[^400..] : text;
            }
        }
    }

    public static DemoMemberProcess Start(DemoTracker tracker, string label, IReadOnlyList<string> memberArgs)
    {
        var psi = new ProcessStartInfo(SelfCommand.Executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // A member may be killed (SIGKILL) on purpose; a killed .NET process cannot remove its diagnostics IPC socket and
        // debugger pipes from the temp folder, so members run without them (nothing is left in /tmp after the demo).
        psi.Environment["DOTNET_EnableDiagnostics"] = "0";
        foreach (var a in SelfCommand.Prefix)
        {
            psi.ArgumentList.Add(a);
        }

        psi.ArgumentList.Add("demo-member");
        foreach (var a in memberArgs)
        {
            psi.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var member = new DemoMemberProcess(process, tracker, tracker.AddMember(label));
        process.OutputDataReceived += (_, e) => member.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (member._stderr)
                {
                    member._stderr.AppendLine(e.Data);
                    if (member._stderr.Length > 64 * 1024)
                    {
                        // Only the tail is ever shown; a long run (the soak, --verbose) must not grow it for ever.
                        member._stderr.Remove(0, member._stderr.Length - (16 * 1024));
                    }
                }
            }
        };
        process.Exited += (_, _) =>
        {
            member._joined.TrySetException(new InvalidOperationException($"{label} exited before joining: {member.StdErrTail}"));
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return member;
    }

    private void OnLine(string? line)
    {
        if (string.IsNullOrEmpty(line) || line.Length < 2)
        {
            return;
        }

        switch (line[0])
        {
            case 'C':
                var parts = line.Split(' ');
                if (parts.Length == 4
                    && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var partition)
                    && long.TryParse(parts[2], CultureInfo.InvariantCulture, out var first)
                    && long.TryParse(parts[3], CultureInfo.InvariantCulture, out var last))
                {
                    _tracker.Consumed(State, partition, first, last);
                }

                break;
            case 'A':
                var list = line[2..].Split(',', StringSplitOptions.RemoveEmptyEntries)
                    .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
                var before = State.Partitions;
                _tracker.Allocated(State, list);
                if (_joined.Task.IsCompleted && !before.SequenceEqual(list))
                {
                    _tracker.Event($"{State.Label} now reads {Describe(list)}");
                }

                break;
            case 'T' when long.TryParse(line.AsSpan(2), CultureInfo.InvariantCulture, out var ms):
                State.LongestCallMs = Math.Max(State.LongestCallMs, ms);
                break;
            case 'S' when long.TryParse(line.AsSpan(2), CultureInfo.InvariantCulture, out var heap):
                State.GcHeapBytes = heap;
                break;
            case 'N':
                State.Name = line[2..];
                State.Status = "reading";
                _joined.TrySetResult();
                break;
        }
    }

    public static string Describe(IReadOnlyList<int> partitions) => partitions.Count == 0
        ? "no partitions"
        : $"{partitions.Count} partition(s) [{string.Join(',', partitions)}]";

    /// <summary>SIGKILL: no wind-down, no last commit; the member's ZooKeeper session is left to expire.</summary>
    public void Kill()
    {
        State.Alive = false;
        State.Status = "killed";
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Asks for a clean stop (end of stdin: wind down, commit, leave) and waits, then kills.</summary>
    public async Task StopAsync(TimeSpan bound)
    {
        if (_process.HasExited)
        {
            return;
        }

        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The child is gone already.
        }

        using var cts = new CancellationTokenSource(bound);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            if (State.Alive)
            {
                State.Status = "stopped";
            }
        }
        catch (OperationCanceledException)
        {
            Kill();
            State.Status = "killed (did not stop in time)";
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Kill();
            await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _process.Dispose();
    }
}

/// <summary>How to start this same kiel again: the apphost, or <c>dotnet Kiel.Cli.dll</c>.</summary>
internal static class SelfCommand
{
    public static string Executable => Environment.ProcessPath ?? "dotnet";

    public static IReadOnlyList<string> Prefix
    {
        get
        {
            var name = Path.GetFileNameWithoutExtension(Environment.ProcessPath ?? "dotnet");
            return string.Equals(name, "dotnet", StringComparison.OrdinalIgnoreCase)
                ? [typeof(SelfCommand).Assembly.Location]
                : [];
        }
    }
}
