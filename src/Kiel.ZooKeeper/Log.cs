using Microsoft.Extensions.Logging;

namespace Kiel.ZooKeeper;

/// <summary>Source-generated log messages; event ids 9000–9099 belong to Kiel.ZooKeeper.</summary>
internal static partial class Log
{
    [LoggerMessage(ZooKeeperLogEvents.SessionEstablished, LogLevel.Information, "ZooKeeper session 0x{SessionId:x} established on {Server} (timeout {TimeoutMs} ms)")]
    internal static partial void SessionEstablished(ILogger logger, long sessionId, string server, int timeoutMs);

    [LoggerMessage(ZooKeeperLogEvents.SessionReconnected, LogLevel.Information, "ZooKeeper session 0x{SessionId:x} reconnected on {Server}")]
    internal static partial void SessionReconnected(ILogger logger, long sessionId, string server);

    [LoggerMessage(ZooKeeperLogEvents.SessionExpired, LogLevel.Warning, "ZooKeeper session 0x{SessionId:x} expired")]
    internal static partial void SessionExpired(ILogger logger, long sessionId);

    [LoggerMessage(ZooKeeperLogEvents.ConnectionLost, LogLevel.Warning, "ZooKeeper connection to {Server} lost")]
    internal static partial void ConnectionLost(ILogger logger, string server, Exception? reason);

    [LoggerMessage(ZooKeeperLogEvents.ConnectFailed, LogLevel.Debug, "ZooKeeper connect to {Server} failed")]
    internal static partial void ConnectFailed(ILogger logger, string server, Exception reason);

    [LoggerMessage(ZooKeeperLogEvents.CallbackFailed, LogLevel.Error, "A ZooKeeper watch or state callback threw")]
    internal static partial void CallbackFailed(ILogger logger, Exception reason);

    [LoggerMessage(ZooKeeperLogEvents.SessionClosed, LogLevel.Debug, "ZooKeeper session 0x{SessionId:x} closed")]
    internal static partial void SessionClosed(ILogger logger, long sessionId);

    [LoggerMessage(ZooKeeperLogEvents.SetWatchesFailed, LogLevel.Warning, "Re-arming {Count} ZooKeeper watches failed with {Code}")]
    internal static partial void SetWatchesFailed(ILogger logger, int count, ZooKeeperErrorCode code);

    [LoggerMessage(ZooKeeperLogEvents.RecipeRetry, LogLevel.Warning, "ZooKeeper recipe {Recipe} at {Path} failed; retrying")]
    internal static partial void RecipeRetry(ILogger logger, string recipe, string path, Exception reason);

    [LoggerMessage(ZooKeeperLogEvents.TlsFailed, LogLevel.Warning, "TLS with ZooKeeper at {Server} failed: {Problem}")]
    internal static partial void TlsFailed(ILogger logger, string server, string problem);

    [LoggerMessage(ZooKeeperLogEvents.SaslAuthenticated, LogLevel.Information, "ZooKeeper session 0x{SessionId:x} authenticated with SASL DIGEST-MD5 as {User} on {Server}")]
    internal static partial void SaslAuthenticated(ILogger logger, long sessionId, string user, string server);

    [LoggerMessage(ZooKeeperLogEvents.SaslFailed, LogLevel.Warning, "SASL DIGEST-MD5 authentication as {User} with ZooKeeper at {Server} failed: {Problem}")]
    internal static partial void SaslFailed(ILogger logger, string user, string server, string problem);
}
