namespace Kiel.Diagnostics;

/// <summary>
/// Every log event id Kiel writes, in one table so that ids never collide and operators can filter on them.
/// Ranges: 1000-1099 network, 1100-1199 cluster and metadata, 1200-1299 coordinators and retries (named below);
/// 4000-4099 grouped consumer and allocators (Groups/GroupLog.cs), 6000-6099 producer (Producing/ProducerLog.cs),
/// 7000-7099 fetch engine and consumers (Consuming/ConsumerLog.cs), 9000-9099 the ZooKeeper client (Kiel.ZooKeeper/Log.cs).
/// docs/configuration.md lists them for operators.
/// </summary>
public static class LogEvents
{
    // Network (1000-1099)
    /// <summary>A connection to a broker was opened.</summary>
    public const int Connected = 1000;
    /// <summary>A connection to a broker could not be opened.</summary>
    public const int ConnectFailed = 1001;
    /// <summary>A connection to a broker was closed (on purpose or after an error).</summary>
    public const int Disconnected = 1002;
    /// <summary>API versions were negotiated with a broker.</summary>
    public const int VersionsNegotiated = 1003;
    /// <summary>The broker rejected ApiVersions at our version and we retried at its version.</summary>
    public const int ApiVersionsDowngraded = 1004;
    /// <summary>The broker did not answer ApiVersions and a configured fallback was used.</summary>
    public const int ApiVersionsFallback = 1005;
    /// <summary>The broker throttled a request.</summary>
    public const int Throttled = 1006;
    /// <summary>A request timed out.</summary>
    public const int RequestTimedOut = 1007;
    /// <summary>A connection was closed because it was idle.</summary>
    public const int IdleClosed = 1008;
    /// <summary>A reply to a request sent without expecting one (Produce acks=0) was dropped.</summary>
    public const int StrayReplyDropped = 1009;
    /// <summary>The connection failed because of malformed or unexpected bytes from the broker.</summary>
    public const int ProtocolViolation = 1010;

    // Cluster (1100-1199)
    /// <summary>Bootstrapping against one address failed.</summary>
    public const int BootstrapFailed = 1100;
    /// <summary>Metadata was refreshed.</summary>
    public const int MetadataRefreshed = 1101;
    /// <summary>A metadata refresh failed on one broker.</summary>
    public const int MetadataRefreshFailed = 1102;
    /// <summary>Every known broker failed, so the bootstrap list is tried again.</summary>
    public const int Rebootstrapping = 1103;
    /// <summary>A partition names a leader that is not in the broker list.</summary>
    public const int LeaderNotInBrokerList = 1104;
    /// <summary>The metadata view was marked stale.</summary>
    public const int MetadataStale = 1105;

    // Coordinators and retries (1200-1299)
    /// <summary>A coordinator was found.</summary>
    public const int CoordinatorFound = 1200;
    /// <summary>A cached coordinator was forgotten.</summary>
    public const int CoordinatorForgotten = 1201;
    /// <summary>An operation failed with a retriable error and will be retried.</summary>
    public const int Retrying = 1202;
    /// <summary>A coordinator lookup failed on one broker.</summary>
    public const int CoordinatorLookupFailed = 1203;
}
