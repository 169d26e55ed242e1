using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Kiel.Testing.ZooKeeper;

/// <summary>One java ZooKeeper server process: its config, its folder, and the tail of its log.</summary>
internal sealed class ZooKeeperServerProcess
{
    private const int LogLines = 200;
    private readonly string _java;
    private readonly string _classPath;
    private readonly EmbeddedZooKeeperOptions _options;
    private readonly string _instanceFolder;
    private readonly string _mainClass;
    private readonly Queue<string> _log = new();
    private Process? _process;

    internal ZooKeeperServerProcess(string java, string classPath, EmbeddedZooKeeperOptions options, string instanceFolder,
        string folder, int clientPort, string mainClass, string config)
    {
        _java = java;
        _classPath = classPath;
        _options = options;
        _instanceFolder = instanceFolder;
        _mainClass = mainClass;
        Folder = folder;
        ClientPort = clientPort;
        Directory.CreateDirectory(Path.Combine(folder, "data"));
        ConfigPath = Path.Combine(folder, "zoo.cfg");
        File.WriteAllText(ConfigPath, config);
    }

    internal string Folder { get; }
    internal int ClientPort { get; }
    internal string ConfigPath { get; }

    /// <summary>JVM arguments before the class path (for example the JAAS file of SASL).</summary>
    internal IReadOnlyList<string> ExtraJvmArguments { get; init; } = [];
    internal bool IsRunning { get { var p = _process; try { return p is not null && !p.HasExited; } catch (InvalidOperationException) { return false; } } }
    internal int? ProcessId => IsRunning ? _process!.Id : null;

    internal string LogTail
    {
        get { lock (_log) return string.Join('\n', _log); }
    }

    internal void Start()
    {
        if (IsRunning) return;
        var args = new List<string>
        {
            $"-Xmx{_options.MaxHeapMb}m", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1", "-Xss512k",
            "-Dzookeeper.admin.enableServer=false",
            "-Dzookeeper.jmx.log4j.disable=true",
            // TTL nodes (CreateMode.*WithTtl) need the extended types.
            "-Dzookeeper.extendedTypesEnabled=true",
            $"-Dorg.slf4j.simpleLogger.defaultLogLevel={_options.LogLevel}",
        };
        args.AddRange(ExtraJvmArguments);
        args.AddRange(["-cp", _classPath, _mainClass, ConfigPath]);
        var process = ChildProcessGuard.Start(_java, args, _instanceFolder, Folder);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log)
        {
            _log.Enqueue(line);
            while (_log.Count > LogLines) _log.Dequeue();
        }
    }

    /// <summary>SIGTERM, then SIGKILL when it has not exited within <paramref name="grace"/>.</summary>
    internal async Task StopAsync(TimeSpan grace)
    {
        var p = _process;
        if (p is null) return;
        ChildProcessGuard.Terminate(p);
        using var cts = new CancellationTokenSource(grace);
        try { await p.WaitForExitAsync(cts.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { Kill(); return; }
        Finish(p);
    }

    /// <summary>SIGKILL and wait (bounded) for the exit.</summary>
    internal void Kill()
    {
        var p = _process;
        if (p is null) return;
        try
        {
            if (!p.HasExited) p.Kill();
            p.WaitForExit(5000);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { }
        Finish(p);
    }

    private void Finish(Process p)
    {
        ChildProcessGuard.Forget(p);
        p.Dispose();
        if (ReferenceEquals(_process, p)) _process = null;
    }

    /// <summary>Polls until the server answers <c>ruok</c> (and, when <paramref name="serving"/>, reports a mode), or throws with the log tail.</summary>
    internal async Task WaitReadyAsync(bool serving, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!IsRunning)
                throw new InvalidOperationException(Describe($"ZooKeeper on port {ClientPort} exited during start-up"));
            var ok = serving
                ? await FourLetterWords.GetModeAsync(ClientPort, cancellationToken).ConfigureAwait(false) is not null
                : await FourLetterWords.IsOkAsync(ClientPort, cancellationToken).ConfigureAwait(false);
            if (ok) return;
            if (clock.Elapsed > timeout)
                throw new TimeoutException(Describe($"ZooKeeper on port {ClientPort} did not {(serving ? "serve" : "answer ruok")} within {timeout.TotalSeconds:0.#} s"));
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    internal string Describe(string headline)
    {
        var sb = new StringBuilder(headline).Append(". Config ").Append(ConfigPath).Append('.');
        var tail = LogTail;
        if (tail.Length > 0) sb.Append(" Last log lines:\n").Append(tail);
        return sb.ToString();
    }

    internal static string BaseConfig(EmbeddedZooKeeperOptions o, string dataDir, int clientPort) =>
        string.Create(CultureInfo.InvariantCulture, $"""
        tickTime={o.TickTimeMs}
        dataDir={dataDir}
        clientPort={clientPort}
        clientPortAddress=127.0.0.1
        maxClientCnxns=0
        admin.enableServer=false
        4lw.commands.whitelist=ruok,srvr,stat,mntr,cons,conf,wchs,dump
        minSessionTimeout={o.MinSessionTimeoutMs}
        maxSessionTimeout={o.MaxSessionTimeoutMs}
        autopurge.purgeInterval=0
        preAllocSize=1024
        snapCount=100000

        """);
}
