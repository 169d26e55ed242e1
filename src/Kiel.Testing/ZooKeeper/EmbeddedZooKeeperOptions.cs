namespace Kiel.Testing.ZooKeeper;

/// <summary>Settings of an embedded ZooKeeper server or ensemble. The defaults suit fast tests.</summary>
public sealed record EmbeddedZooKeeperOptions
{
    /// <summary>ZooKeeper's tick in milliseconds (default 200). Session timeouts are bounded by 2 and 20 ticks unless set below.</summary>
    public int TickTimeMs { get; init; } = 200;

    /// <summary>The smallest session timeout the server grants, in milliseconds (default 1000), so tests can use short sessions.</summary>
    public int MinSessionTimeoutMs { get; init; } = 1000;

    /// <summary>The largest session timeout the server grants, in milliseconds (default 60000).</summary>
    public int MaxSessionTimeoutMs { get; init; } = 60000;

    /// <summary>
    /// An ensemble's syncLimit, in ticks (default 10): how long a follower that hears nothing from its leader goes on
    /// serving its clients from its own copy before it gives up.
    /// </summary>
    internal int SyncLimitTicks { get; init; } = 10;

    /// <summary>
    /// An ensemble member (index) whose links to the other members run through relays that a test can stall
    /// (<see cref="EmbeddedZooKeeperEnsemble.StallLinksOf"/>); null: none.
    /// </summary>
    internal int? RelayedServer { get; init; }

    /// <summary>How long to wait for a server (or a quorum) to serve before giving up (default 30 s).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The java executable; null looks in JAVA_HOME and then PATH.</summary>
    public string? JavaPath { get; init; }

    /// <summary>The ZooKeeper server jar (default Debian's <c>/usr/share/java/zookeeper.jar</c>).</summary>
    public string ServerJar { get; init; } = ZooKeeperInstallation.DefaultServerJar;

    /// <summary>The JVM's maximum heap in MiB (default 128).</summary>
    public int MaxHeapMb { get; init; } = 128;

    /// <summary>SLF4J log level of the server (default <c>warn</c>); its output is kept and shown when a start fails.</summary>
    public string LogLevel { get; init; } = "warn";

    /// <summary>
    /// Also serve TLS on a second port (<c>secureClientPort</c>, with the server's Netty connection factory): a CA and a
    /// server certificate for 127.0.0.1 and localhost are made at start and deleted at dispose
    /// (<see cref="EmbeddedZooKeeper.TlsCaPath"/>). The plaintext port stays open. Standalone servers only. Default false.
    /// </summary>
    public bool Tls { get; init; }

    /// <summary>With <see cref="Tls"/>: the secure port asks for a client certificate signed by the CA (<c>ssl.clientAuth=need</c>) and refuses a connection without one. Default false.</summary>
    public bool TlsRequireClientCertificate { get; init; }

    /// <summary>
    /// Users (name → password) the server accepts with SASL DIGEST-MD5: a JAAS file with a <c>Server</c> section of
    /// <c>DigestLoginModule</c> users is written at start (<c>-Djava.security.auth.login.config</c>) and
    /// <c>authProvider.1=…SASLAuthenticationProvider</c> set, so such a session is <c>sasl:NAME</c> to ACLs. Null (default): no SASL.
    /// </summary>
    public IReadOnlyDictionary<string, string>? SaslUsers { get; init; }

    /// <summary>Checks the settings and throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (TickTimeMs is < 10 or > 10000)
            throw new ArgumentException($"TickTimeMs must be between 10 and 10000 (got {TickTimeMs}).", nameof(TickTimeMs));
        if (MinSessionTimeoutMs < TickTimeMs)
            throw new ArgumentException($"MinSessionTimeoutMs ({MinSessionTimeoutMs}) must be at least TickTimeMs ({TickTimeMs}).", nameof(MinSessionTimeoutMs));
        if (MaxSessionTimeoutMs < MinSessionTimeoutMs)
            throw new ArgumentException($"MaxSessionTimeoutMs ({MaxSessionTimeoutMs}) must be at least MinSessionTimeoutMs ({MinSessionTimeoutMs}).", nameof(MaxSessionTimeoutMs));
        if (StartTimeout <= TimeSpan.Zero)
            throw new ArgumentException("StartTimeout must be positive.", nameof(StartTimeout));
        if (string.IsNullOrWhiteSpace(ServerJar))
            throw new ArgumentException("ServerJar must name the ZooKeeper jar.", nameof(ServerJar));
        if (MaxHeapMb is < 32 or > 65536)
            throw new ArgumentException($"MaxHeapMb must be between 32 and 65536 (got {MaxHeapMb}).", nameof(MaxHeapMb));
        if (LogLevel is not ("trace" or "debug" or "info" or "warn" or "error" or "off"))
            throw new ArgumentException($"LogLevel must be one of trace, debug, info, warn, error, off (got '{LogLevel}').", nameof(LogLevel));
        if (TlsRequireClientCertificate && !Tls)
            throw new ArgumentException("TlsRequireClientCertificate needs Tls = true.", nameof(TlsRequireClientCertificate));
        if (SaslUsers is not null)
            foreach (var (user, password) in SaslUsers)
                if (string.IsNullOrEmpty(user) || user.Any(c => !char.IsAsciiLetterOrDigit(c) && c is not ('_' or '-' or '.')) || password is null || password.Contains('"') || password.Contains('\\'))
                    throw new ArgumentException($"SaslUsers: '{user}' must be letters, digits, '_', '-' or '.', with a password without quotes or backslashes (they go into a JAAS file).", nameof(SaslUsers));
    }
}
