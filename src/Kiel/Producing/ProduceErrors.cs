namespace Kiel.Producing;

/// <summary>How the producer treats the error codes a Produce or InitProducerId response can carry.</summary>
internal static class ProduceErrors
{
    public const short None = 0;
    public const short CorruptMessage = 2;
    public const short UnknownTopicOrPartition = 3;
    public const short LeaderNotAvailable = 5;
    public const short NotLeaderOrFollower = 6;
    public const short RequestTimedOut = 7;
    public const short MessageTooLarge = 10;
    public const short NetworkException = 13;
    public const short RecordListTooLarge = 18;
    public const short NotEnoughReplicas = 19;
    public const short NotEnoughReplicasAfterAppend = 20;
    public const short UnsupportedVersion = 35;
    public const short OutOfOrderSequenceNumber = 45;
    public const short DuplicateSequenceNumber = 46;
    public const short InvalidProducerEpoch = 47;
    public const short UnknownProducerId = 59;
    public const short KafkaStorageError = 56;
    public const short FencedLeaderEpoch = 74;
    public const short UnknownLeaderEpoch = 75;
    public const short InvalidRecord = 87;
    public const short ConcurrentTransactions = 51;
    public const short CoordinatorLoadInProgress = 14;
    public const short CoordinatorNotAvailable = 15;
    public const short NotCoordinator = 16;

    public static bool IsRetriable(short code) => code switch
    {
        CorruptMessage or UnknownTopicOrPartition or LeaderNotAvailable or NotLeaderOrFollower or RequestTimedOut
            or NetworkException or NotEnoughReplicas or NotEnoughReplicasAfterAppend or KafkaStorageError
            or FencedLeaderEpoch or UnknownLeaderEpoch or ConcurrentTransactions or CoordinatorLoadInProgress
            or CoordinatorNotAvailable or NotCoordinator => true,
        _ => false,
    };

    /// <summary>Errors after which the partition's leader may have moved.</summary>
    public static bool NeedsMetadata(short code) => code is UnknownTopicOrPartition or LeaderNotAvailable or NotLeaderOrFollower
        or NetworkException or FencedLeaderEpoch or UnknownLeaderEpoch or KafkaStorageError;

    public static string Name(short code) => code switch
    {
        -1 => "UNKNOWN_SERVER_ERROR",
        None => "NONE",
        1 => "OFFSET_OUT_OF_RANGE",
        CorruptMessage => "CORRUPT_MESSAGE",
        UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
        4 => "INVALID_FETCH_SIZE",
        LeaderNotAvailable => "LEADER_NOT_AVAILABLE",
        NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
        RequestTimedOut => "REQUEST_TIMED_OUT",
        8 => "BROKER_NOT_AVAILABLE",
        9 => "REPLICA_NOT_AVAILABLE",
        MessageTooLarge => "MESSAGE_TOO_LARGE",
        NetworkException => "NETWORK_EXCEPTION",
        CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
        CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
        NotCoordinator => "NOT_COORDINATOR",
        17 => "INVALID_TOPIC_EXCEPTION",
        RecordListTooLarge => "RECORD_LIST_TOO_LARGE",
        NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
        NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        21 => "INVALID_REQUIRED_ACKS",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        31 => "CLUSTER_AUTHORIZATION_FAILED",
        32 => "INVALID_TIMESTAMP",
        UnsupportedVersion => "UNSUPPORTED_VERSION",
        43 => "UNSUPPORTED_FOR_MESSAGE_FORMAT",
        OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
        DuplicateSequenceNumber => "DUPLICATE_SEQUENCE_NUMBER",
        InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
        ConcurrentTransactions => "CONCURRENT_TRANSACTIONS",
        KafkaStorageError => "KAFKA_STORAGE_ERROR",
        UnknownProducerId => "UNKNOWN_PRODUCER_ID",
        FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
        UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
        76 => "UNSUPPORTED_COMPRESSION_TYPE",
        InvalidRecord => "INVALID_RECORD",
        _ => $"ERROR_{code}",
    };
}
