using Kiel.Protocol;

namespace Kiel.Cluster;

/// <summary>What an error code means for the cluster's caches: stale metadata, or a coordinator that moved.</summary>
internal static class ErrorClassification
{
    /// <summary>True when <paramref name="code"/> says our view of leaders or topics is out of date, so metadata must be refreshed.</summary>
    public static bool MeansStaleMetadata(ErrorCode code) => code is ErrorCode.UnknownTopicOrPartition or ErrorCode.LeaderNotAvailable
        or ErrorCode.NotLeaderOrFollower or ErrorCode.ReplicaNotAvailable or ErrorCode.ListenerNotFound or ErrorCode.FencedLeaderEpoch
        or ErrorCode.UnknownLeaderEpoch or ErrorCode.UnknownTopicId or ErrorCode.InconsistentTopicId or ErrorCode.NotController;

    /// <summary>True when <paramref name="code"/> says the broker asked is not (or not yet) the coordinator, so the cached one must be forgotten.</summary>
    public static bool MeansCoordinatorMoved(ErrorCode code) => code is ErrorCode.CoordinatorNotAvailable or ErrorCode.NotCoordinator;

    /// <summary>The Kafka error code an exception carries, or null.</summary>
    public static ErrorCode? GetErrorCode(Exception error) => error switch
    {
        KafkaException k => k.ErrorCode,
        Network.ApiVersionsException a => (ErrorCode)a.ErrorCode,
        _ => null,
    };

    /// <summary>
    /// True when repeating an operation that failed with <paramref name="error"/> may succeed: a retriable broker
    /// error code, a broken or timed-out connection, or a missing broker.
    /// </summary>
    public static bool IsRetriable(Exception error) => error switch
    {
        KielException k => k.IsRetriable,
        System.Net.Sockets.SocketException or IOException or TimeoutException => true,
        _ => false,
    };
}
