using System.Diagnostics;
using System.Text;

namespace Kiel.IntegrationTests.ZooKeeper;

/// <summary>Runs a kazoo script with /usr/bin/python3; lines are read as they come, and the process is killed on dispose.</summary>
public sealed class KazooProcess : IAsyncDisposable
{
    public const string Python = "/usr/bin/python3";
    private readonly Process _process;
    private readonly System.Threading.Channels.Channel<string> _lines = System.Threading.Channels.Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stderr = new();

    private KazooProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is null) _lines.Writer.TryComplete(); else _lines.Writer.TryWrite(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static bool IsAvailable =>
        File.Exists(Python) && Directory.Exists("/usr/lib/python3/dist-packages/kazoo");

    public static KazooProcess Start(string script, params string[] args)
    {
        var info = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-u");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        foreach (var a in args) info.ArgumentList.Add(a);
        return new KazooProcess(Process.Start(info)!);
    }

    /// <summary>
    /// Runs a script to the end (bounded) after a prelude that reads node <c>sys.argv[2]</c> of <c>sys.argv[1]</c> without
    /// credentials and prints "anonymous refused" (NoAuthError) or "anonymous read"; the script sees <c>sys</c>,
    /// <c>KazooClient</c> and <c>NoAuthError</c>. Returns every output line, the prelude's first.
    /// </summary>
    public static Task<IReadOnlyList<string>> RunAfterAnonymousReadAsync(string script, params string[] args) =>
        RunAsync(AnonymousRead + "\n" + script, args);

    private const string AnonymousRead = """
        import sys
        from kazoo.client import KazooClient
        from kazoo.exceptions import NoAuthError
        anonymous = KazooClient(hosts=sys.argv[1], timeout=10)
        anonymous.start(timeout=15)
        try:
            anonymous.get(sys.argv[2])
            print("anonymous read")
        except NoAuthError:
            print("anonymous refused")
        anonymous.stop()
        """;

    /// <summary>Runs a script to the end (bounded) and returns its output lines.</summary>
    public static async Task<IReadOnlyList<string>> RunAsync(string script, params string[] args)
    {
        await using var p = Start(script, args);
        var lines = new List<string>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await foreach (var line in p._lines.Reader.ReadAllAsync(cts.Token)) lines.Add(line);
            await p._process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("kazoo script timed out. " + p.Stderr);
        }
        if (p._process.ExitCode != 0) throw new InvalidOperationException($"kazoo script failed ({p._process.ExitCode}): {p.Stderr}");
        return lines;
    }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    public async Task<string> ReadLineAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        try { return await _lines.Reader.ReadAsync(cts.Token); }
        catch (OperationCanceledException) { throw new TimeoutException("No line from the kazoo script. " + Stderr); }
        catch (System.Threading.Channels.ChannelClosedException) { throw new InvalidOperationException("The kazoo script ended. " + Stderr); }
    }

    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync(new CancellationTokenSource(5000).Token);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException) { }
        _process.Dispose();
    }
}
