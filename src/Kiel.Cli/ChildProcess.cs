using System.Diagnostics;
using System.Text;

namespace Kiel.Cli;

/// <summary>
/// The shared plumbing of a kiel child process (<c>kiel demo-member</c>, <c>kiel chaos-producer</c>): starting this same
/// kiel with a hidden command, the kept tail of its stderr, and stopping it (end of stdin, a bound, then SIGKILL of the tree).
/// </summary>
internal static class ChildProcess
{
    /// <summary>A process that runs this same kiel's <paramref name="command"/> with <paramref name="args"/>, all streams redirected.</summary>
    public static Process Create(string command, IReadOnlyList<string> args)
    {
        var psi = new ProcessStartInfo(SelfCommand.Executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // A child may be killed (SIGKILL) on purpose; a killed .NET process cannot remove its diagnostics IPC socket and
        // debugger pipes from the temp folder, so children run without them (nothing is left in /tmp after a run).
        psi.Environment["DOTNET_EnableDiagnostics"] = "0";
        foreach (var a in SelfCommand.Prefix)
        {
            psi.ArgumentList.Add(a);
        }

        psi.ArgumentList.Add(command);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return new Process { StartInfo = psi, EnableRaisingEvents = true };
    }

    /// <summary>
    /// Keeps each stderr line of <paramref name="process"/> in <paramref name="tail"/>; with
    /// <paramref name="forwardPrefix"/>, also writes it to this process's stderr behind that prefix (a child's log, with
    /// --verbose, in a campaign's output).
    /// </summary>
    public static void CollectStdErr(Process process, StdErrTail tail, string? forwardPrefix)
    {
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            if (forwardPrefix is not null)
            {
                Console.Error.WriteLine(forwardPrefix + e.Data);
            }

            tail.Append(e.Data);
        };
    }

    /// <summary>
    /// Asks <paramref name="process"/> to stop (end of stdin) and waits up to <paramref name="bound"/>; kills its tree when
    /// the bound ends. True when it exited by itself (or had exited already), false when it was killed.
    /// </summary>
    public static async Task<bool> StopAsync(Process process, TimeSpan bound)
    {
        if (process.HasExited)
        {
            return true;
        }

        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The child is gone already.
        }

        using var cts = new CancellationTokenSource(bound);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            return false;
        }
    }

    /// <summary>SIGKILL of the process tree; nothing when it is gone already.</summary>
    public static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Kills the process when it still runs, waits up to 5 s for its exit, and disposes it.</summary>
    public static async ValueTask DisposeAsync(Process process)
    {
        if (!process.HasExited)
        {
            Kill(process);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        process.Dispose();
    }
}

/// <summary>The last part of a child's stderr: appended line by line, kept below 64 KiB (a long run must not grow it for ever).</summary>
internal sealed class StdErrTail
{
    private readonly StringBuilder _text = new();

    public void Append(string line)
    {
        lock (_text)
        {
            _text.AppendLine(line);
            if (_text.Length > 64 * 1024)
            {
                // Only the tail is ever shown.
                _text.Remove(0, _text.Length - (16 * 1024));
            }
        }
    }

    /// <summary>The last 400 characters, trimmed.</summary>
    public override string ToString()
    {
        lock (_text)
        {
            var text = _text.ToString().Trim();
            return text.Length > 400 ? text[^400..] : text;
        }
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
