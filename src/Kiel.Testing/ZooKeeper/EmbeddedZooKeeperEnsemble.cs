using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Kiel.Testing.ZooKeeper;

/// <summary>
/// A ZooKeeper 3.8 ensemble of real servers (<c>QuorumPeerMain</c>) on 127.0.0.1, each with its own ports and
/// data folder, for fault tests: stop, kill and restart single members. Members are numbered from 0;
/// member <c>i</c> has <c>myid</c> <c>i + 1</c>.
/// </summary>
public sealed class EmbeddedZooKeeperEnsemble : IAsyncDisposable
{
    private readonly ZooKeeperServerProcess[] _servers;
    private readonly EmbeddedZooKeeperOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _disposed;
    private List<TcpRelay> _relays = [];

    private EmbeddedZooKeeperEnsemble(ZooKeeperServerProcess[] servers, EmbeddedZooKeeperOptions options, string folder)
    {
        _servers = servers;
        _options = options;
        Folder = folder;
    }

    /// <summary>The number of members.</summary>
    public int Count => _servers.Length;

    /// <summary>All members' client addresses, <c>127.0.0.1:P1,127.0.0.1:P2,…</c>.</summary>
    public string ConnectString => string.Join(',', _servers.Select(s => $"127.0.0.1:{s.ClientPort}"));

    /// <summary>The temporary folder of the ensemble; deleted on dispose.</summary>
    public string Folder { get; }

    /// <summary>The client port of member <paramref name="index"/>.</summary>
    public int ClientPort(int index) => _servers[index].ClientPort;

    /// <summary>The connect string of member <paramref name="index"/> alone.</summary>
    public string ConnectStringOf(int index) => $"127.0.0.1:{_servers[index].ClientPort}";

    /// <summary>The member whose client port is <paramref name="port"/>, or -1.</summary>
    public int IndexOfPort(int port) => Array.FindIndex(_servers, s => s.ClientPort == port);

    /// <summary>True while member <paramref name="index"/>'s process runs.</summary>
    public bool IsRunning(int index) => _servers[index].IsRunning;

    /// <summary>The last log lines of member <paramref name="index"/>.</summary>
    public string LogTail(int index) => _servers[index].LogTail;

    /// <summary>Starts <paramref name="servers"/> members and waits (bounded) until every one serves as leader or follower.</summary>
    /// <param name="servers">Members, 1 to 7 (default 3).</param>
    /// <param name="options">Settings; null takes the defaults.</param>
    /// <param name="cancellationToken">Cancels the start; everything started is removed.</param>
    /// <exception cref="ZooKeeperNotInstalledException">java or the jar is missing.</exception>
    public static async Task<EmbeddedZooKeeperEnsemble> StartAsync(int servers = 3, EmbeddedZooKeeperOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(servers, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(servers, 7);
        options ??= new EmbeddedZooKeeperOptions();
        options.Validate();
        if (options.Tls || options.SaslUsers is not null)
            throw new ArgumentException("Tls and SaslUsers are served by the standalone EmbeddedZooKeeper only; start one with EmbeddedZooKeeper.StartAsync.", nameof(options));
        var (java, classPath) = ZooKeeperInstallation.Resolve(options.JavaPath, options.ServerJar);
        // A free port can be taken (by any process's outgoing connection) between our probe and java's bind; a server
        // that exits at start-up because its address is in use is started again, with every port new.
        for (var attempt = 1; ; attempt++)
        {
            try { return await StartOnceAsync(servers, options, java, classPath, cancellationToken).ConfigureAwait(false); }
            catch (InvalidOperationException e) when (attempt < 3 && e.Message.Contains("Address already in use", StringComparison.Ordinal)) { }
        }
    }

    private static async Task<EmbeddedZooKeeperEnsemble> StartOnceAsync(int servers, EmbeddedZooKeeperOptions options, string java, string classPath, CancellationToken cancellationToken)
    {
        var folder = ChildProcessGuard.CreateInstanceFolder();
        var ports = LoopbackPorts.Reserve(servers * 3);
        // The relayed member reaches every other member's quorum and election ports through a relay of its own.
        var relays = new List<TcpRelay>();
        var relayedPorts = (int[])ports.Clone();
        if (options.RelayedServer is { } relayed)
            for (var i = 0; i < servers; i++)
            {
                if (i == relayed) continue;
                for (var k = 1; k <= 2; k++)
                {
                    var relay = new TcpRelay(ports[3 * i + k]);
                    relays.Add(relay);
                    relayedPorts[3 * i + k] = relay.Port;
                }
            }
        string Members(int[] p)
        {
            var members = new StringBuilder();
            for (var i = 0; i < servers; i++)
                members.Append(CultureInfo.InvariantCulture, $"server.{i + 1}=127.0.0.1:{p[3 * i + 1]}:{p[3 * i + 2]}\n");
            return members.ToString();
        }
        var list = new ZooKeeperServerProcess[servers];
        for (var i = 0; i < servers; i++)
        {
            var memberFolder = Path.Combine(folder, $"server{i + 1}");
            var dataDir = Path.Combine(memberFolder, "data");
            var config = ZooKeeperServerProcess.BaseConfig(options, dataDir, ports[3 * i])
                + $"initLimit=20\nsyncLimit={options.SyncLimitTicks.ToString(CultureInfo.InvariantCulture)}\ncnxTimeout=1000\nreconfigEnabled=false\nstandaloneEnabled=false\n"
                + Members(i == options.RelayedServer ? relayedPorts : ports);
            list[i] = new ZooKeeperServerProcess(java, classPath, options, folder, memberFolder, ports[3 * i],
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", config);
            File.WriteAllText(Path.Combine(dataDir, "myid"), (i + 1).ToString(CultureInfo.InvariantCulture));
        }
        var ensemble = new EmbeddedZooKeeperEnsemble(list, options, folder) { _relays = relays };
        try
        {
            foreach (var s in list) s.Start();
            var clock = Stopwatch.StartNew();
            foreach (var s in list)
            {
                var left = options.StartTimeout - clock.Elapsed;
                await s.WaitReadyAsync(serving: true, left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1), cancellationToken).ConfigureAwait(false);
            }
            return ensemble;
        }
        catch
        {
            await ensemble.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops member <paramref name="index"/> gracefully (SIGTERM; SIGKILL after 5 s).</summary>
    public async Task StopServerAsync(int index, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try { await _servers[index].StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
        finally { _gate.Release(); }
    }

    /// <summary>
    /// Stalls every link of the member started as <see cref="EmbeddedZooKeeperOptions.RelayedServer"/> to the others
    /// (nothing forwarded, no close), as a network partition would: the member keeps serving its own clients from
    /// its own copy until syncLimit ticks pass, while the others go on without it.
    /// </summary>
    internal void StallLinksOf(int index)
    {
        if (_options.RelayedServer != index) throw new InvalidOperationException($"Member {index} was not started with relayed links (EmbeddedZooKeeperOptions.RelayedServer).");
        foreach (var relay in _relays) relay.Stall();
    }

    /// <summary>Lets the links stalled by <see cref="StallLinksOf"/> carry traffic again.</summary>
    internal void ResumeLinksOf(int index)
    {
        if (_options.RelayedServer != index) throw new InvalidOperationException($"Member {index} was not started with relayed links (EmbeddedZooKeeperOptions.RelayedServer).");
        foreach (var relay in _relays) relay.Resume();
    }

    /// <summary>Kills member <paramref name="index"/> at once (SIGKILL).</summary>
    public void KillServer(int index) => _servers[index].Kill();

    /// <summary>Starts member <paramref name="index"/> again (same ports and data) and waits (bounded) until it serves.</summary>
    public async Task StartServerAsync(int index, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _servers[index].Start();
            await _servers[index].WaitReadyAsync(serving: true, _options.StartTimeout, cancellationToken).ConfigureAwait(false);
        }
        finally { _gate.Release(); }
    }

    /// <summary>The mode of member <paramref name="index"/> (<c>leader</c>, <c>follower</c>), or null when it does not serve.</summary>
    public Task<string?> GetModeAsync(int index, CancellationToken cancellationToken = default)
        => _servers[index].IsRunning ? FourLetterWords.GetModeAsync(_servers[index].ClientPort, cancellationToken) : Task.FromResult<string?>(null);

    /// <summary>The index of the current leader, or -1 when none serves.</summary>
    public async Task<int> GetLeaderAsync(CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < _servers.Length; i++)
            if (await GetModeAsync(i, cancellationToken).ConfigureAwait(false) == "leader") return i;
        return -1;
    }

    /// <summary>Waits (bounded by <see cref="EmbeddedZooKeeperOptions.StartTimeout"/>) until every running member serves and one of them leads.</summary>
    public async Task WaitForQuorumAsync(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var serving = 0;
            var leader = false;
            var running = 0;
            for (var i = 0; i < _servers.Length; i++)
            {
                if (!_servers[i].IsRunning) continue;
                running++;
                var mode = await GetModeAsync(i, cancellationToken).ConfigureAwait(false);
                if (mode is null) continue;
                serving++;
                leader |= mode == "leader";
            }
            if (leader && serving == running && serving * 2 > _servers.Length) return;
            if (clock.Elapsed > _options.StartTimeout)
                throw new TimeoutException($"The ZooKeeper ensemble has no serving quorum after {_options.StartTimeout.TotalSeconds:0.#} s ({serving} of {running} running members serve).");
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Kills every member (bounded) and deletes the folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await Task.Run(() => Parallel.ForEach(_servers, s => s.Kill())).ConfigureAwait(false);
        foreach (var relay in _relays) await relay.DisposeAsync().ConfigureAwait(false);
        ChildProcessGuard.TryDelete(Folder);
    }
}
