namespace Kiel.Testing.ZooKeeper;

/// <summary>
/// A real ZooKeeper 3.8 server (standalone) in a child java process on a free 127.0.0.1 port with a temporary data
/// folder. Start it with <see cref="StartAsync(EmbeddedZooKeeperOptions?, CancellationToken)"/>; dispose it to stop
/// the process and delete the folder. It can be stopped, killed and restarted on the same port and data for fault tests.
/// </summary>
/// <remarks>
/// Needs <c>java</c> and Debian's <c>libzookeeper-java</c>; without them starting throws
/// <see cref="ZooKeeperNotInstalledException"/>. A process left by a test host that died hard is killed by the kernel
/// (parent-death signal) or, failing that, by the next start (see the folder markers in <c>/tmp/kiel-zk-*</c>).
/// </remarks>
public sealed class EmbeddedZooKeeper : IAsyncDisposable
{
    private readonly ZooKeeperServerProcess _server;
    private readonly EmbeddedZooKeeperOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TestCertificates? _certificates;
    private int _disposed;

    private EmbeddedZooKeeper(ZooKeeperServerProcess server, EmbeddedZooKeeperOptions options, string folder, TestCertificates? certificates, int? securePort)
    {
        _server = server;
        _options = options;
        Folder = folder;
        _certificates = certificates;
        SecurePort = securePort;
    }

    /// <summary>The TLS port on 127.0.0.1 when <see cref="EmbeddedZooKeeperOptions.Tls"/> is set, else null.</summary>
    public int? SecurePort { get; }

    /// <summary>The connect string of the TLS port, <c>127.0.0.1:SECUREPORT</c>, or null without TLS.</summary>
    public string? SecureConnectString => SecurePort is { } port ? $"127.0.0.1:{port}" : null;

    /// <summary>The PEM file of the CA that signed the server's certificate (for 127.0.0.1 and localhost), or null without TLS.</summary>
    public string? TlsCaPath => _certificates?.CaPath;

    /// <summary>A PEM client certificate signed by that CA (for <see cref="EmbeddedZooKeeperOptions.TlsRequireClientCertificate"/>), or null without TLS.</summary>
    public string? TlsClientCertificatePath => _certificates?.ClientCertificatePath;

    /// <summary>The PEM key of <see cref="TlsClientCertificatePath"/>, or null without TLS.</summary>
    public string? TlsClientKeyPath => _certificates?.ClientKeyPath;

    /// <summary>A client certificate and key signed by an unrelated CA, which the server refuses.</summary>
    internal (string Certificate, string Key)? UntrustedClientCertificate =>
        _certificates is { } c ? (c.UntrustedClientCertificatePath, c.UntrustedClientKeyPath) : null;

    /// <summary>The client port on 127.0.0.1.</summary>
    public int Port => _server.ClientPort;

    /// <summary>The connect string, <c>127.0.0.1:PORT</c>.</summary>
    public string ConnectString => $"127.0.0.1:{Port}";

    /// <summary>The temporary folder holding the config, data and snapshots; deleted on dispose.</summary>
    public string Folder { get; }

    /// <summary>True while the java process runs.</summary>
    public bool IsRunning => _server.IsRunning;

    /// <summary>The PID of the java process while it runs.</summary>
    public int? ProcessId => _server.ProcessId;

    /// <summary>The last lines the server logged (at the configured level).</summary>
    public string LogTail => _server.LogTail;

    /// <summary>Starts a standalone server and waits (bounded by <see cref="EmbeddedZooKeeperOptions.StartTimeout"/>) until it serves (<c>ruok</c> → <c>imok</c> and <c>srvr</c> reports its mode).</summary>
    /// <param name="options">Settings; null takes the defaults.</param>
    /// <param name="cancellationToken">Cancels the start; the process and folder are then removed.</param>
    /// <exception cref="ZooKeeperNotInstalledException">java or the jar is missing.</exception>
    public static async Task<EmbeddedZooKeeper> StartAsync(EmbeddedZooKeeperOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new EmbeddedZooKeeperOptions();
        options.Validate();
        var (java, classPath) = ZooKeeperInstallation.Resolve(options.JavaPath, options.ServerJar, netty: options.Tls);
        Exception? last = null;
        // A free port can be taken between our probe and java's bind; a second try with a new port covers that race.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var folder = ChildProcessGuard.CreateInstanceFolder();
            var ports = LoopbackPorts.Reserve(options.Tls ? 2 : 1);
            var port = ports[0];
            var config = ZooKeeperServerProcess.BaseConfig(options, Path.Combine(folder, "data"), port);
            TestCertificates? certificates = null;
            int? securePort = null;
            if (options.Tls)
            {
                certificates = TestCertificates.Create(ServerCertificateKind.Valid, folder);
                securePort = ports[1];
                config += TlsConfig(options, certificates, ports[1]);
            }
            var jvm = new List<string>();
            if (options.SaslUsers is { } users)
            {
                var jaas = Path.Combine(folder, "jaas.conf");
                var sb = new System.Text.StringBuilder("Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule required");
                foreach (var (user, password) in users) sb.Append("\n    user_").Append(user).Append("=\"").Append(password).Append('"');
                File.WriteAllText(jaas, sb.Append(";\n};\n").ToString());
                jvm.Add("-Djava.security.auth.login.config=" + jaas);
                config += "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n";
            }
            var server = new ZooKeeperServerProcess(java, classPath, options, folder, folder, port,
                "org.apache.zookeeper.server.ZooKeeperServerMain", config) { ExtraJvmArguments = jvm };
            var zk = new EmbeddedZooKeeper(server, options, folder, certificates, securePort);
            try
            {
                server.Start();
                await server.WaitReadyAsync(serving: true, options.StartTimeout, cancellationToken).ConfigureAwait(false);
                if (securePort is { } tlsPort) await WaitListeningAsync(server, tlsPort, options.StartTimeout, cancellationToken).ConfigureAwait(false);
                return zk;
            }
            catch (Exception e)
            {
                await zk.DisposeAsync().ConfigureAwait(false);
                if (e is OperationCanceledException || e is TimeoutException) throw;
                last = e;
            }
        }
        throw last!;
    }

    /// <summary>The secure port is bound a moment after the plaintext one answers: wait (bounded) until it accepts a connection.</summary>
    private static async Task WaitListeningAsync(ZooKeeperServerProcess server, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            using (var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp))
            {
                try
                {
                    await socket.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port), cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (System.Net.Sockets.SocketException) { }
            }
            if (!server.IsRunning) throw new InvalidOperationException(server.Describe($"ZooKeeper exited before its TLS port {port} listened"));
            if (clock.Elapsed > timeout) throw new TimeoutException(server.Describe($"ZooKeeper's TLS port {port} did not listen within {timeout.TotalSeconds:0.#} s"));
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string TlsConfig(EmbeddedZooKeeperOptions options, TestCertificates certificates, int securePort) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"""
        secureClientPort={securePort}
        secureClientPortAddress=127.0.0.1
        serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
        ssl.keyStore.location={certificates.ServerKeystorePath}
        ssl.keyStore.type=PEM
        ssl.trustStore.location={certificates.CaPath}
        ssl.trustStore.type=PEM
        ssl.clientAuth={(options.TlsRequireClientCertificate ? "need" : "none")}

        """);

    /// <summary>
    /// Kills the java processes and deletes the folders (<c>/tmp/kiel-zk-*</c>) left behind by test hosts that died
    /// without cleaning up. The first start in a process does this by itself.
    /// </summary>
    /// <returns>The number of stale folders removed.</returns>
    public static int RemoveStaleInstances() => ChildProcessGuard.RemoveStaleFoldersSafely();

    /// <summary>Stops the server gracefully (SIGTERM; SIGKILL after 5 s). Sessions survive in its data and resume on restart.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try { await _server.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
        finally { _gate.Release(); }
    }

    /// <summary>Kills the server at once (SIGKILL), as a crash would.</summary>
    public void Kill() => _server.Kill();

    /// <summary>Starts the server again after <see cref="StopAsync"/> or <see cref="Kill"/>, on the same port and data, and waits until it answers.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _server.Start();
            await _server.WaitReadyAsync(serving: true, _options.StartTimeout, cancellationToken).ConfigureAwait(false);
        }
        finally { _gate.Release(); }
    }

    /// <summary>Stops the process (bounded) and deletes the folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        // No graceful stop: the data is thrown away, so a kill is quicker and just as clean.
        await Task.Run(_server.Kill).ConfigureAwait(false);
        ChildProcessGuard.TryDelete(Folder);
        _certificates?.Dispose();
    }
}
