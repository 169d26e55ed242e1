using System.Diagnostics;
using System.Globalization;

namespace Kiel.Cli.Demo;

/// <summary>A <c>kiel demo-member</c> child process whose reports feed the <see cref="DemoTracker"/>.</summary>
internal sealed class DemoMemberProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DemoTracker _tracker;
    private readonly StdErrTail _stderr = new();
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

    public string StdErrTail => _stderr.ToString();

    /// <summary>Starts a member. With <paramref name="forwardLog"/> every stderr line of the child (its log, with
    /// --verbose) is also written to this process's stderr, prefixed with <paramref name="label"/>, so that a failed
    /// run's output holds what each member did.</summary>
    public static DemoMemberProcess Start(DemoTracker tracker, string label, IReadOnlyList<string> memberArgs, bool forwardLog = false)
    {
        var process = ChildProcess.Create("demo-member", memberArgs);
        var member = new DemoMemberProcess(process, tracker, tracker.AddMember(label));
        process.OutputDataReceived += (_, e) => member.OnLine(e.Data);
        ChildProcess.CollectStdErr(process, member._stderr, forwardLog ? label + ": " : null);
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
        ChildProcess.Kill(_process);
    }

    /// <summary>Asks for a clean stop (end of stdin: wind down, commit, leave) and waits, then kills.</summary>
    public async Task StopAsync(TimeSpan bound)
    {
        if (_process.HasExited)
        {
            return;
        }

        if (await ChildProcess.StopAsync(_process, bound))
        {
            if (State.Alive)
            {
                State.Status = "stopped";
            }
        }
        else
        {
            State.Alive = false;
            State.Status = "killed (did not stop in time)";
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            State.Alive = false;
            State.Status = "killed";
        }

        await ChildProcess.DisposeAsync(_process);
    }
}
