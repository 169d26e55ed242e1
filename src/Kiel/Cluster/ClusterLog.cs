using Kiel.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kiel.Cluster;

/// <summary>Source-generated log methods of the cluster layer; ids are in <see cref="LogEvents"/>.</summary>
internal static partial class ClusterLog
{
    [LoggerMessage(LogEvents.BootstrapFailed, LogLevel.Warning, "Bootstrap via {Address} failed: {Reason}")]
    public static partial void BootstrapFailed(ILogger logger, string address, string reason);

    [LoggerMessage(LogEvents.MetadataRefreshed, LogLevel.Debug, "Metadata v{Version} from {Broker}: {Snapshot}")]
    public static partial void MetadataRefreshed(ILogger logger, short version, string broker, MetadataSnapshot snapshot);

    [LoggerMessage(LogEvents.MetadataRefreshFailed, LogLevel.Information, "Metadata request to {Broker} failed: {Reason}")]
    public static partial void MetadataRefreshFailed(ILogger logger, string broker, string reason);

    [LoggerMessage(LogEvents.Rebootstrapping, LogLevel.Warning, "No known broker answered; trying the bootstrap list again")]
    public static partial void Rebootstrapping(ILogger logger);

    [LoggerMessage(LogEvents.LeaderNotInBrokerList, LogLevel.Information, "{Topic}[{Partition}] names broker {Leader} as leader, but that broker is not in the broker list (down?)")]
    public static partial void LeaderNotInBrokerList(ILogger logger, string topic, int partition, int leader);

    [LoggerMessage(LogEvents.MetadataStale, LogLevel.Debug, "Metadata marked stale: {Reason}")]
    public static partial void MetadataStale(ILogger logger, string reason);

    [LoggerMessage(LogEvents.CoordinatorFound, LogLevel.Debug, "{Type} coordinator for '{Key}' is {Broker}")]
    public static partial void CoordinatorFound(ILogger logger, CoordinatorType type, string key, string broker);

    [LoggerMessage(LogEvents.CoordinatorForgotten, LogLevel.Debug, "Forgot the {Type} coordinator for '{Key}': {Reason}")]
    public static partial void CoordinatorForgotten(ILogger logger, CoordinatorType type, string key, string reason);

    [LoggerMessage(LogEvents.CoordinatorLookupFailed, LogLevel.Debug, "FindCoordinator via {Broker} failed: {Reason}")]
    public static partial void CoordinatorLookupFailed(ILogger logger, string broker, string reason);

    [LoggerMessage(LogEvents.Retrying, LogLevel.Debug, "{Operation} attempt {Attempt} failed ({Reason}); retrying in {DelayMs:0} ms")]
    public static partial void Retrying(ILogger logger, string operation, int attempt, string reason, double delayMs);
}
