namespace Kiel.ZooKeeper;

/// <summary>ZooKeeper's result codes (KeeperException.Code).</summary>
public enum ZooKeeperErrorCode
{
    /// <summary>Success.</summary>
    Ok = 0,
    /// <summary>A system error on the server.</summary>
    SystemError = -1,
    /// <summary>A runtime inconsistency (also marks the untried ops of a failed multi).</summary>
    RuntimeInconsistency = -2,
    /// <summary>A data inconsistency.</summary>
    DataInconsistency = -3,
    /// <summary>The connection to the server was lost; the outcome of the request is unknown.</summary>
    ConnectionLoss = -4,
    /// <summary>Marshalling failed.</summary>
    MarshallingError = -5,
    /// <summary>The operation is not implemented by the server.</summary>
    Unimplemented = -6,
    /// <summary>The operation timed out.</summary>
    OperationTimeout = -7,
    /// <summary>Invalid arguments.</summary>
    BadArguments = -8,
    /// <summary>The session is unknown to the server.</summary>
    UnknownSession = -12,
    /// <summary>No quorum for a new configuration.</summary>
    NewConfigNoQuorum = -13,
    /// <summary>A reconfiguration is in progress.</summary>
    ReconfigInProgress = -14,
    /// <summary>An API error.</summary>
    ApiError = -100,
    /// <summary>The node does not exist.</summary>
    NoNode = -101,
    /// <summary>Not authorized.</summary>
    NoAuth = -102,
    /// <summary>The expected version does not match.</summary>
    BadVersion = -103,
    /// <summary>Ephemeral nodes may not have children.</summary>
    NoChildrenForEphemerals = -108,
    /// <summary>The node already exists.</summary>
    NodeExists = -110,
    /// <summary>The node has children.</summary>
    NotEmpty = -111,
    /// <summary>The session has expired.</summary>
    SessionExpired = -112,
    /// <summary>Invalid callback.</summary>
    InvalidCallback = -113,
    /// <summary>Invalid ACL.</summary>
    InvalidAcl = -114,
    /// <summary>Authentication failed.</summary>
    AuthFailed = -115,
    /// <summary>The session moved to another server.</summary>
    SessionMoved = -118,
    /// <summary>A read-only server refused a write.</summary>
    NotReadOnly = -119,
    /// <summary>Ephemeral node on a local session.</summary>
    EphemeralOnLocalSession = -120,
    /// <summary>No such watcher.</summary>
    NoWatcher = -121,
    /// <summary>The request timed out.</summary>
    RequestTimeout = -122,
    /// <summary>Reconfiguration is disabled.</summary>
    ReconfigDisabled = -123,
    /// <summary>The session was closed because SASL is required.</summary>
    SessionClosedRequireSaslAuth = -124,
    /// <summary>A quota was exceeded.</summary>
    QuotaExceeded = -125,
    /// <summary>The server throttled the request.</summary>
    Throttled = -127,
}
