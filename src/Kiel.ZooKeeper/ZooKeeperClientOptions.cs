using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.ZooKeeper;

/// <summary>Settings of a <see cref="ZooKeeperClient"/>.</summary>
public sealed record ZooKeeperClientOptions
{
    /// <summary>Servers and optional chroot: <c>host1:2181,host2:2181/chroot</c>. Required.</summary>
    public string ConnectString { get; init; } = "";

    /// <summary>The session timeout asked of the server (default 10 s, kazoo's default). The server clamps it to its own bounds.</summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bound on one TCP connect plus handshake to one server; null means the session timeout divided by the number of servers (at least 1 s).</summary>
    public TimeSpan? ConnectTimeout { get; init; }

    /// <summary>How long a request waits for a connection while the client is not connected before it fails with
    /// <see cref="ConnectionLossException"/>; null means the session timeout. Also bounds <see cref="ZooKeeperClient.ConnectAsync(CancellationToken)"/>.</summary>
    public TimeSpan? ConnectionWaitTimeout { get; init; }

    /// <summary>Shuffle the server order, so clients spread over the ensemble (default true).</summary>
    public bool ShuffleHosts { get; init; } = true;

    /// <summary>After an expiry, establish a new session (kazoo's behaviour; default true). When false the client stays expired and requests fail with <see cref="SessionExpiredException"/>.</summary>
    public bool ReconnectAfterExpiry { get; init; } = true;

    /// <summary>Largest data accepted for one node (default 1 MiB, ZooKeeper's jute.maxbuffer); larger writes are refused before sending.</summary>
    public int MaxDataSize { get; init; } = 1024 * 1024;

    /// <summary>Largest reply frame accepted from a server (default 16 MiB); a larger length is treated as hostile and drops the connection.</summary>
    public int MaxReplySize { get; init; } = 16 * 1024 * 1024;

    /// <summary>Longest pause between rounds of failed connection attempts (default 1 s).</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Bound on closing the session in <see cref="ZooKeeperClient.DisposeAsync"/> (default 2 s).</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Where logs go (default none).</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>
    /// The clock of pings, the read timeout (two thirds of the session timeout), connect timeouts, the connection wait,
    /// reconnect backoff and the local session-expiry check. Default <see cref="TimeProvider.System"/>; tests pass a fake one.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Credentials the session presents at every connection, before any request (as <see cref="ZooKeeperClient.AddAuthAsync"/>
    /// does, from the start). Default none.
    /// </summary>
    public IReadOnlyList<ZooKeeperAuth> Auth { get; init; } = [];

    /// <summary>The ACL of nodes created without one (<c>acl: null</c>). Null (default): <see cref="ZooKeeperAcl.OpenUnsafe"/>.</summary>
    public IReadOnlyList<ZooKeeperAcl>? DefaultAcl { get; init; }

    /// <summary>
    /// TLS to the servers' secure client port (the connect string then names those ports). Null (default): plaintext.
    /// </summary>
    public ZooKeeperTlsOptions? Tls { get; init; }

    /// <summary>Checks the settings and throws <see cref="ArgumentException"/> saying what is wrong and how to fix it.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectString))
            throw new ArgumentException("ConnectString is required, for example \"127.0.0.1:2181\" or \"h1:2181,h2:2181/chroot\".", nameof(ConnectString));
        _ = Kiel.ZooKeeper.ConnectString.Parse(ConnectString);
        if (TimeProvider is null) throw new ArgumentException("TimeProvider must not be null; leave it unset for TimeProvider.System.", nameof(TimeProvider));
        if (SessionTimeout < TimeSpan.FromMilliseconds(100) || SessionTimeout > TimeSpan.FromHours(1))
            throw new ArgumentException($"SessionTimeout must be between 100 ms and 1 h (got {SessionTimeout}).", nameof(SessionTimeout));
        if (ConnectTimeout is { } ct && ct <= TimeSpan.Zero)
            throw new ArgumentException("ConnectTimeout must be positive when set.", nameof(ConnectTimeout));
        if (ConnectionWaitTimeout is { } cw && cw <= TimeSpan.Zero)
            throw new ArgumentException("ConnectionWaitTimeout must be positive when set.", nameof(ConnectionWaitTimeout));
        if (MaxDataSize is < 1 or > 64 * 1024 * 1024)
            throw new ArgumentException($"MaxDataSize must be between 1 byte and 64 MiB (got {MaxDataSize}).", nameof(MaxDataSize));
        if (MaxReplySize < 64 * 1024)
            throw new ArgumentException($"MaxReplySize must be at least 64 KiB (got {MaxReplySize}).", nameof(MaxReplySize));
        if (MaxReconnectDelay < TimeSpan.Zero)
            throw new ArgumentException("MaxReconnectDelay must not be negative.", nameof(MaxReconnectDelay));
        if (CloseTimeout <= TimeSpan.Zero)
            throw new ArgumentException("CloseTimeout must be positive.", nameof(CloseTimeout));
        ArgumentNullException.ThrowIfNull(LoggerFactory, nameof(LoggerFactory));
        if (Auth is null) throw new ArgumentException("Auth must not be null; leave it unset for no credentials.", nameof(Auth));
        foreach (var auth in Auth)
            if (auth is null || string.IsNullOrEmpty(auth.Scheme) || auth.Credentials is null)
                throw new ArgumentException("Every Auth entry needs a scheme and credentials, for example ZooKeeperAuth.Digest(\"user\", password).", nameof(Auth));
        Tls?.Validate();
        if (Auth.Count(a => a.Scheme == ZooKeeperAuth.SaslScheme) > 1)
            throw new ArgumentException("Auth holds more than one ZooKeeperAuth.Sasl entry; a session authenticates with SASL once, as one user.", nameof(Auth));
        if (DefaultAcl is { Count: 0 })
            throw new ArgumentException("DefaultAcl must not be empty; leave it null for world:anyone, or give entries such as ZooKeeperAcl.Digest(user, password).", nameof(DefaultAcl));
    }
}
