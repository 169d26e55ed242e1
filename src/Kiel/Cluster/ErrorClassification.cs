using Kiel.Protocol;

namespace Kiel.Cluster;

/// <summary>
/// What an error code means for the clients: the one place where Kiel decides whether a Kafka error is retried,
/// refreshes metadata, sends the client to find its coordinator again, resets an offset or is final.
/// Client code never compares raw error numbers; it asks this class (or <see cref="ErrorCodes"/> for names).
/// </summary>
internal static class ErrorClassification
{
    /// <summary>True when <paramref name="code"/> says our view of leaders or topics is out of date, so metadata must be refreshed.</summary>
    /// <remarks>
    /// The codes Kafka's Java client treats as invalid metadata, plus <c>NOT_CONTROLLER</c>: a broker that stopped
    /// leading, a leader election in progress, a broken connection or failed log directory on the leader, epochs or
    /// topic ids that disagree with ours.
    /// </remarks>
    public static bool MeansStaleMetadata(ErrorCode code) => code is ErrorCode.UnknownTopicOrPartition or ErrorCode.LeaderNotAvailable
        or ErrorCode.NotLeaderOrFollower or ErrorCode.ReplicaNotAvailable or ErrorCode.ListenerNotFound or ErrorCode.FencedLeaderEpoch
        or ErrorCode.UnknownLeaderEpoch or ErrorCode.UnknownTopicId or ErrorCode.InconsistentTopicId or ErrorCode.NotController
        or ErrorCode.NetworkException or ErrorCode.KafkaStorageError;

    /// <summary>True when <paramref name="code"/> says the broker asked is not (or not yet) the coordinator, so the cached one must be forgotten.</summary>
    public static bool MeansCoordinatorMoved(ErrorCode code) => code is ErrorCode.CoordinatorNotAvailable or ErrorCode.NotCoordinator;

    /// <summary>True when the same request may succeed later (Kafka's Java client classifies the code as retriable).</summary>
    internal static bool IsRetriable(ErrorCode code) => code.IsRetriable();

    /// <summary>True when a Fetch response's top-level <paramref name="code"/> only says the incremental fetch session is gone, so the next fetch is a full one.</summary>
    internal static bool IsFetchSessionLost(ErrorCode code) => code is ErrorCode.FetchSessionIdNotFound or ErrorCode.InvalidFetchSessionEpoch;

    /// <summary>What a consumer does with a partition's error code in a Fetch response.</summary>
    internal static FetchErrorAction ForFetch(ErrorCode code) => code switch
    {
        ErrorCode.None => FetchErrorAction.Deliver,
        ErrorCode.OffsetOutOfRange => FetchErrorAction.ResetOffset,
        ErrorCode.TopicAuthorizationFailed => FetchErrorAction.Stop,
        // The leader is right but cannot answer now: the same broker is asked again after the backoff.
        ErrorCode.CorruptMessage or ErrorCode.RequestTimedOut or ErrorCode.UnknownLeaderEpoch => FetchErrorAction.BackOff,
        _ => FetchErrorAction.RefreshLeader,
    };

    /// <summary>True when a ListOffsets answer with <paramref name="code"/> for one partition is asked again (after a metadata refresh).</summary>
    internal static bool IsRetriableListOffsets(ErrorCode code) => code.IsRetriable() || MeansStaleMetadata(code);

    /// <summary>
    /// True when an InitProducerId that asked to bump the current epoch (KIP-360) was refused for good with
    /// <paramref name="code"/>: INVALID_PRODUCER_ID_MAPPING, UNKNOWN_PRODUCER_ID, or any other non-retriable error. A
    /// non-transactional idempotent producer then takes a fresh producer id instead.
    /// </summary>
    internal static bool RefusesEpochBump(ErrorCode code) =>
        code is ErrorCode.InvalidProducerIdMapping or ErrorCode.UnknownProducerId
        || (code > ErrorCode.None && !code.IsRetriable());

    /// <summary>What the producer does with a partition's error code in a Produce response.</summary>
    /// <param name="code">The partition's error code.</param>
    /// <param name="idempotent">True when the producer has a producer id, so sequence errors are healed by bumping the epoch.</param>
    internal static ProduceErrorAction ForProduce(ErrorCode code, bool idempotent) => code switch
    {
        ErrorCode.None => ProduceErrorAction.Delivered,
        // An idempotent retry of a batch the broker already has: delivered, at an offset the broker does not repeat.
        ErrorCode.DuplicateSequenceNumber => ProduceErrorAction.DeliveredDuplicate,
        ErrorCode.MessageTooLarge or ErrorCode.RecordListTooLarge => ProduceErrorAction.TooLarge,
        ErrorCode.OutOfOrderSequenceNumber or ErrorCode.UnknownProducerId or ErrorCode.InvalidProducerEpoch when idempotent
            => ProduceErrorAction.BumpEpoch,
        _ when !code.IsRetriable() => ProduceErrorAction.Fail,
        _ when MeansStaleMetadata(code) => ProduceErrorAction.RetryAfterMetadata,
        _ => ProduceErrorAction.Retry,
    };

    /// <summary>
    /// What a transactional producer does with an error code from InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
    /// TxnOffsetCommit, EndTxn or a transactional Produce, as Kafka's Java client classifies them: coordinator moves are
    /// looked up again and retried; load-in-progress, concurrent transactions and other retriable codes are retried;
    /// authorization of a topic or group, a stale group member or a lost producer id make the transaction abortable; a
    /// fence (a newer instance), a refused transactional id, an invalid transaction state and anything unexpected are fatal.
    /// </summary>
    internal static TransactionErrorAction ForTransaction(ErrorCode code) => code switch
    {
        ErrorCode.None => TransactionErrorAction.None,
        ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable or ErrorCode.RequestTimedOut or ErrorCode.NetworkException
            => TransactionErrorAction.FindCoordinatorAndRetry,
        ErrorCode.CoordinatorLoadInProgress or ErrorCode.ConcurrentTransactions or ErrorCode.UnknownTopicOrPartition
            or ErrorCode.OperationNotAttempted => TransactionErrorAction.Retry,
        ErrorCode.ProducerFenced or ErrorCode.InvalidProducerEpoch or ErrorCode.TransactionalIdAuthorizationFailed
            or ErrorCode.ClusterAuthorizationFailed or ErrorCode.InvalidTxnState or ErrorCode.UnsupportedForMessageFormat
            or ErrorCode.TransactionCoordinatorFenced => TransactionErrorAction.Fatal,
        ErrorCode.TopicAuthorizationFailed or ErrorCode.GroupAuthorizationFailed or ErrorCode.UnknownMemberId or ErrorCode.IllegalGeneration
            or ErrorCode.FencedInstanceId or ErrorCode.RebalanceInProgress => TransactionErrorAction.Abortable,
        ErrorCode.UnknownProducerId or ErrorCode.InvalidProducerIdMapping => TransactionErrorAction.AbortableWithEpochBump,
        _ when code.IsRetriable() => TransactionErrorAction.Retry,
        _ => TransactionErrorAction.Fatal,
    };

    /// <summary>True when a commit or offset fetch that failed with <paramref name="code"/> is repeated (after finding the coordinator again when it moved).</summary>
    internal static bool IsRetriableGroupOffsets(ErrorCode code) => code.IsRetriable();

    /// <summary>
    /// True when a group request that failed retriably with <paramref name="code"/> (<see cref="ErrorCode.None"/> for a lost
    /// connection) should look the coordinator up again before the retry: it may have moved, not be there yet, or its
    /// connection broke. Only <c>COORDINATOR_LOAD_IN_PROGRESS</c> is the coordinator itself asking for patience.
    /// </summary>
    internal static bool RediscoverCoordinatorAfter(ErrorCode code) => code != ErrorCode.CoordinatorLoadInProgress;

    /// <summary>True when a partition's metadata still names a usable leader despite <paramref name="code"/> (a follower is missing, the leader is fine).</summary>
    internal static bool LeaderUsable(ErrorCode code) => code is ErrorCode.None or ErrorCode.ReplicaNotAvailable;

    /// <summary>The Kafka error code an exception carries, or null.</summary>
    public static ErrorCode? GetErrorCode(Exception error) => error switch
    {
        KafkaException k => k.ErrorCode,
        ApiVersionsException a => (ErrorCode)a.ErrorCode,
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

/// <summary>What a consumer does with one partition of a Fetch response, by its error code.</summary>
internal enum FetchErrorAction
{
    /// <summary>No error: the records are handed out.</summary>
    Deliver,
    /// <summary>The position is outside the log: apply the reset policy.</summary>
    ResetOffset,
    /// <summary>A final error for the partition (not authorized): stop it and tell the application.</summary>
    Stop,
    /// <summary>A passing error on the right leader: ask the same broker again after the backoff.</summary>
    BackOff,
    /// <summary>The leader may have moved: refresh metadata and fetch from the new leader.</summary>
    RefreshLeader,
}

/// <summary>What a transactional producer does with an error code (<see cref="ErrorClassification.ForTransaction"/>).</summary>
internal enum TransactionErrorAction
{
    /// <summary>No error.</summary>
    None,
    /// <summary>A passing error: the same request again after the backoff, within the delivery timeout.</summary>
    Retry,
    /// <summary>The coordinator moved or cannot be reached: look it up again, then retry.</summary>
    FindCoordinatorAndRetry,
    /// <summary>The transaction can only be aborted now.</summary>
    Abortable,
    /// <summary>The transaction can only be aborted, and the producer then needs a new epoch (KIP-360).</summary>
    AbortableWithEpochBump,
    /// <summary>The producer can do no more transactional work.</summary>
    Fatal,
}

/// <summary>What the producer does with one partition of a Produce response, by its error code.</summary>
internal enum ProduceErrorAction
{
    /// <summary>The batch was written.</summary>
    Delivered,
    /// <summary>The batch had already been written by an earlier attempt (idempotent duplicate).</summary>
    DeliveredDuplicate,
    /// <summary>The batch is larger than the broker takes: split it, or fail a single record as too large.</summary>
    TooLarge,
    /// <summary>The producer's sequence state is out of step: bump the epoch (KIP-360) and send again.</summary>
    BumpEpoch,
    /// <summary>A passing error: send again after the backoff.</summary>
    Retry,
    /// <summary>The leader may have moved: refresh metadata, then send again.</summary>
    RetryAfterMetadata,
    /// <summary>A final error: the batch's records are reported failed.</summary>
    Fail,
}
