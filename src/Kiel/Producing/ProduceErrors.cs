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

    /// <summary>Kafka's name for the code, from the protocol's full table (unknown codes get a generic name, never an exception).</summary>
    public static string Name(short code) => Kiel.Protocol.ErrorCodes.Info(code).Name;
}
