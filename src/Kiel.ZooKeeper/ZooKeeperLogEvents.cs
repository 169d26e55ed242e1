namespace Kiel.ZooKeeper;

/// <summary>
/// Every log event id Kiel.ZooKeeper writes: 9000-9099. Kiel's own ids are in <c>Kiel.Diagnostics.LogEvents</c>
/// (this assembly cannot reference Kiel, which references it); docs/configuration.md lists both tables.
/// </summary>
public static class ZooKeeperLogEvents
{
    /// <summary>The first id of this assembly's range.</summary>
    public const int First = 9000;

    /// <summary>The last id of this assembly's range.</summary>
    public const int Last = 9099;

    /// <summary>Logs <c>ZooKeeper session 0x{SessionId:x} established on {Server} (timeout {TimeoutMs} ms)</c>.</summary>
    public const int SessionEstablished = 9001;

    /// <summary>Logs <c>ZooKeeper session 0x{SessionId:x} reconnected on {Server}</c>.</summary>
    public const int SessionReconnected = 9002;

    /// <summary>Logs <c>ZooKeeper session 0x{SessionId:x} expired</c>.</summary>
    public const int SessionExpired = 9003;

    /// <summary>Logs <c>ZooKeeper connection to {Server} lost</c>.</summary>
    public const int ConnectionLost = 9004;

    /// <summary>Logs <c>ZooKeeper connect to {Server} failed</c>.</summary>
    public const int ConnectFailed = 9005;

    /// <summary>Logs <c>A ZooKeeper watch or state callback threw</c>.</summary>
    public const int CallbackFailed = 9006;

    /// <summary>Logs <c>ZooKeeper session 0x{SessionId:x} closed</c>.</summary>
    public const int SessionClosed = 9007;

    /// <summary>Logs <c>Re-arming {Count} ZooKeeper watches failed with {Code}</c>.</summary>
    public const int SetWatchesFailed = 9008;

    /// <summary>Logs <c>ZooKeeper recipe {Recipe} at {Path} failed; retrying</c>.</summary>
    public const int RecipeRetry = 9009;

    /// <summary>Logs <c>TLS with ZooKeeper at {Server} failed: {Problem}</c>.</summary>
    public const int TlsFailed = 9050;

    /// <summary>Logs <c>ZooKeeper session 0x{SessionId:x} authenticated with SASL DIGEST-MD5 as {User} on {Server}</c>.</summary>
    public const int SaslAuthenticated = 9051;

    /// <summary>Logs <c>SASL DIGEST-MD5 authentication as {User} with ZooKeeper at {Server} failed: {Problem}</c>.</summary>
    public const int SaslFailed = 9052;
}
