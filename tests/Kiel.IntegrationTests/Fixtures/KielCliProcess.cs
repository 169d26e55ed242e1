using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Kiel.IntegrationTests.Fixtures;

/// <summary>
/// A running <c>kiel</c> process (the built <c>Kiel.Cli.dll</c> under <c>dotnet</c>) with its output captured line by line.
/// Dispose kills it (whole tree) if it is still running.
/// </summary>
public sealed class KielCliProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder stderr = new();
    private readonly System.Threading.Channels.Channel<string> lines = System.Threading.Channels.Channel.CreateUnbounded<string>();
    private readonly List<string> seen = [];

    private KielCliProcess(Process process)
    {
        this.process = process;
    }

    public int Pid => process.Id;

    public bool HasExited => process.HasExited;

    public int ExitCode => process.ExitCode;

    public string StdErr
    {
        get
        {
            lock (stderr)
            {
                return stderr.ToString();
            }
        }
    }

    public IReadOnlyList<string> StdOutSoFar
    {
        get
        {
            lock (seen)
            {
                return seen.ToArray();
            }
        }
    }

    public StreamWriter StandardInput => process.StandardInput;

    /// <summary>The built Kiel.Cli.dll next to this test build (same configuration).</summary>
    public static string KielDll()
    {
        var configuration = typeof(KielCliProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Kiel.slnx")))
        {
            dir = dir.Parent;
        }

        if (dir is null)
        {
            throw new InvalidOperationException($"Cannot find the repository root (Kiel.slnx) above {AppContext.BaseDirectory}.");
        }

        var dll = Path.Combine(dir.FullName, "src", "Kiel.Cli", "bin", configuration, "net10.0", "Kiel.Cli.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"Kiel.Cli.dll not built; run: dotnet build -c {configuration} src/Kiel.Cli", dll);
    }

    public static KielCliProcess Start(params string[] args) => Start(new Dictionary<string, string?>(), args);

    /// <summary>Starts <c>kiel</c> with <paramref name="environment"/> added to (or, for null values, removed from) its environment.</summary>
    public static KielCliProcess Start(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.Environment["DOTNET_EnableDiagnostics"] = "0"; // a killed tool leaves no diagnostic pipes in TMPDIR
        foreach (var (name, value) in environment)
        {
            psi.Environment[name] = value;
        }

        psi.ArgumentList.Add(KielDll());
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var cli = new KielCliProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                cli.lines.Writer.TryComplete();
                return;
            }

            lock (cli.seen)
            {
                cli.seen.Add(e.Data);
            }

            cli.lines.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (cli.stderr)
                {
                    cli.stderr.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Reads stdout lines until one satisfies <paramref name="match"/>; throws with all output on timeout or exit.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await lines.Reader.WaitToReadAsync(cts.Token))
            {
                while (lines.Reader.TryRead(out var line))
                {
                    if (match(line))
                    {
                        return line;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"kiel printed no matching line within {timeout}. stdout: {string.Join(" | ", StdOutSoFar)} stderr: {StdErr}");
        }

        throw new InvalidOperationException($"kiel ended its output without a matching line. stdout: {string.Join(" | ", StdOutSoFar)} stderr: {StdErr}");
    }

    /// <summary>Sends SIGINT, as Ctrl-C does (Process.Kill would send SIGKILL).</summary>
    public void Interrupt()
    {
        if (Kill(process.Id, 2) != 0)
        {
            throw new InvalidOperationException($"kill(SIGINT) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Waits for exit; false when it did not exit in time.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await WaitForExitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // never started or already gone
        }

        process.Dispose();
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
