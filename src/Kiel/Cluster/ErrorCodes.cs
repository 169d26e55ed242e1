namespace Kiel.Cluster;

/// <summary>
/// The broker error codes the cluster layer acts on, and Kafka's retriable set. Kept here until the protocol
/// layer's error table is available to this layer; the values are Kafka's.
/// </summary>
internal static class ErrorCodes
{
    public const short None = 0;
    public const short UnknownTopicOrPartition = 3;
    public const short LeaderNotAvailable = 5;
    public const short NotLeaderOrFollower = 6;
    public const short RequestTimedOut = 7;
    public const short ReplicaNotAvailable = 9;
    public const short NetworkException = 13;
    public const short CoordinatorLoadInProgress = 14;
    public const short CoordinatorNotAvailable = 15;
    public const short NotCoordinator = 16;
    public const short UnsupportedVersion = 35;
    public const short ListenerNotFound = 72;
    public const short FencedLeaderEpoch = 74;
    public const short UnknownLeaderEpoch = 75;
    public const short UnknownTopicId = 100;
    public const short InconsistentTopicId = 103;

    // Kafka's RetriableException subclasses, by code.
    private static readonly HashSet<short> Retriable =
    [
        2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 72, 74, 75, 78, 89, 100, 103, 106,
    ];

    public static bool IsRetriable(short code) => Retriable.Contains(code);

    /// <summary>Codes that say our view of leaders or topics is out of date.</summary>
    public static bool MeansStaleMetadata(short code) => code is UnknownTopicOrPartition or LeaderNotAvailable or NotLeaderOrFollower
        or ReplicaNotAvailable or ListenerNotFound or FencedLeaderEpoch or UnknownLeaderEpoch or UnknownTopicId or InconsistentTopicId;

    /// <summary>Codes that say the coordinator we asked is no longer (or not yet) the coordinator.</summary>
    public static bool MeansCoordinatorMoved(short code) => code is CoordinatorNotAvailable or NotCoordinator;

    private static readonly Dictionary<short, string> Names = new()
    {
        [-1] = "UNKNOWN_SERVER_ERROR", [1] = "OFFSET_OUT_OF_RANGE", [2] = "CORRUPT_MESSAGE", [3] = "UNKNOWN_TOPIC_OR_PARTITION",
        [5] = "LEADER_NOT_AVAILABLE", [6] = "NOT_LEADER_OR_FOLLOWER", [7] = "REQUEST_TIMED_OUT", [8] = "BROKER_NOT_AVAILABLE",
        [9] = "REPLICA_NOT_AVAILABLE", [13] = "NETWORK_EXCEPTION", [14] = "COORDINATOR_LOAD_IN_PROGRESS", [15] = "COORDINATOR_NOT_AVAILABLE",
        [16] = "NOT_COORDINATOR", [17] = "INVALID_TOPIC_EXCEPTION", [29] = "TOPIC_AUTHORIZATION_FAILED", [30] = "GROUP_AUTHORIZATION_FAILED",
        [31] = "CLUSTER_AUTHORIZATION_FAILED", [35] = "UNSUPPORTED_VERSION", [42] = "INVALID_REQUEST", [53] = "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
        [72] = "LISTENER_NOT_FOUND", [74] = "FENCED_LEADER_EPOCH", [75] = "UNKNOWN_LEADER_EPOCH", [100] = "UNKNOWN_TOPIC_ID",
    };

    public static string Name(short code) => Names.TryGetValue(code, out var n) ? n : "error " + code;
}
