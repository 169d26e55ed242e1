namespace Kiel.Protocol;

/// <summary>What Kiel knows about one error code.</summary>
/// <param name="Code">The code.</param>
/// <param name="Name">Kafka's constant name, for example <c>NOT_LEADER_OR_FOLLOWER</c>.</param>
/// <param name="Message">Kafka's description of the error.</param>
/// <param name="IsRetriable">
/// True when Kafka's Java client classifies the error as retriable (its exception derives from <c>RetriableException</c>):
/// the same request may succeed later, often after a metadata refresh or a coordinator lookup.
/// </param>
internal sealed record ErrorInfo(ErrorCode Code, string Name, string Message, bool IsRetriable)
{
    /// <summary>True for codes this table does not list (newer than Kiel, or garbage).</summary>
    public bool IsUnknown { get; init; }
}

/// <summary>The table of Kafka error codes: names, messages and whether each one is retriable.</summary>
internal static class ErrorCodes
{
    /// <summary>The lowest code Kafka defines.</summary>
    public const short MinCode = -1;

    /// <summary>The highest code this table lists.</summary>
    public const short MaxCode = 133;

    /// <summary>Every known code, in ascending order.</summary>
    public static IReadOnlyList<ErrorInfo> All { get; } =
    [
        new(ErrorCode.UnknownServerError, "UNKNOWN_SERVER_ERROR", "The server experienced an unexpected error when processing the request.", false),
        new(ErrorCode.None, "NONE", "No error.", false),
        new(ErrorCode.OffsetOutOfRange, "OFFSET_OUT_OF_RANGE", "The requested offset is not within the range of offsets maintained by the server.", false),
        new(ErrorCode.CorruptMessage, "CORRUPT_MESSAGE", "This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt.", true),
        new(ErrorCode.UnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", "This server does not host this topic-partition.", true),
        new(ErrorCode.InvalidFetchSize, "INVALID_FETCH_SIZE", "The requested fetch size is invalid.", false),
        new(ErrorCode.LeaderNotAvailable, "LEADER_NOT_AVAILABLE", "There is no leader for this topic-partition as we are in the middle of a leadership election.", true),
        new(ErrorCode.NotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", "For requests intended only for the leader, this error indicates that the broker is not the current leader. For requests intended for any replica, this error indicates that the broker is not a replica of the topic partition.", true),
        new(ErrorCode.RequestTimedOut, "REQUEST_TIMED_OUT", "The request timed out.", true),
        new(ErrorCode.BrokerNotAvailable, "BROKER_NOT_AVAILABLE", "The broker is not available.", false),
        new(ErrorCode.ReplicaNotAvailable, "REPLICA_NOT_AVAILABLE", "The replica is not available for the requested topic-partition. Produce/Fetch requests and other requests intended only for the leader or follower return NOT_LEADER_OR_FOLLOWER if the broker is not a replica of the topic-partition.", true),
        new(ErrorCode.MessageTooLarge, "MESSAGE_TOO_LARGE", "The request included a message larger than the max message size the server will accept.", false),
        new(ErrorCode.StaleControllerEpoch, "STALE_CONTROLLER_EPOCH", "The controller moved to another broker.", false),
        new(ErrorCode.OffsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE", "The metadata field of the offset request was too large.", false),
        new(ErrorCode.NetworkException, "NETWORK_EXCEPTION", "The server disconnected before a response was received.", true),
        new(ErrorCode.CoordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS", "The coordinator is loading and hence can't process requests.", true),
        new(ErrorCode.CoordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE", "The coordinator is not available.", true),
        new(ErrorCode.NotCoordinator, "NOT_COORDINATOR", "This is not the correct coordinator.", true),
        new(ErrorCode.InvalidTopicException, "INVALID_TOPIC_EXCEPTION", "The request attempted to perform an operation on an invalid topic.", false),
        new(ErrorCode.RecordListTooLarge, "RECORD_LIST_TOO_LARGE", "The request included message batch larger than the configured segment size on the server.", false),
        new(ErrorCode.NotEnoughReplicas, "NOT_ENOUGH_REPLICAS", "Messages are rejected since there are fewer in-sync replicas than required.", true),
        new(ErrorCode.NotEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "Messages are written to the log, but to fewer in-sync replicas than required.", true),
        new(ErrorCode.InvalidRequiredAcks, "INVALID_REQUIRED_ACKS", "Produce request specified an invalid value for required acks.", false),
        new(ErrorCode.IllegalGeneration, "ILLEGAL_GENERATION", "Specified group generation id is not valid.", false),
        new(ErrorCode.InconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL", "The group member's supported protocols are incompatible with those of existing members or first group member tried to join with empty protocol type or empty protocol list.", false),
        new(ErrorCode.InvalidGroupId, "INVALID_GROUP_ID", "The configured groupId is invalid.", false),
        new(ErrorCode.UnknownMemberId, "UNKNOWN_MEMBER_ID", "The coordinator is not aware of this member.", false),
        new(ErrorCode.InvalidSessionTimeout, "INVALID_SESSION_TIMEOUT", "The session timeout is not within the range allowed by the broker (as configured by group.min.session.timeout.ms and group.max.session.timeout.ms).", false),
        new(ErrorCode.RebalanceInProgress, "REBALANCE_IN_PROGRESS", "The group is rebalancing, so a rejoin is needed.", false),
        new(ErrorCode.InvalidCommitOffsetSize, "INVALID_COMMIT_OFFSET_SIZE", "The committing offset data size is not valid.", false),
        new(ErrorCode.TopicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED", "Topic authorization failed.", false),
        new(ErrorCode.GroupAuthorizationFailed, "GROUP_AUTHORIZATION_FAILED", "Group authorization failed.", false),
        new(ErrorCode.ClusterAuthorizationFailed, "CLUSTER_AUTHORIZATION_FAILED", "Cluster authorization failed.", false),
        new(ErrorCode.InvalidTimestamp, "INVALID_TIMESTAMP", "The timestamp of the message is out of acceptable range.", false),
        new(ErrorCode.UnsupportedSaslMechanism, "UNSUPPORTED_SASL_MECHANISM", "The broker does not support the requested SASL mechanism.", false),
        new(ErrorCode.IllegalSaslState, "ILLEGAL_SASL_STATE", "Request is not valid given the current SASL state.", false),
        new(ErrorCode.UnsupportedVersion, "UNSUPPORTED_VERSION", "The version of API is not supported.", false),
        new(ErrorCode.TopicAlreadyExists, "TOPIC_ALREADY_EXISTS", "Topic with this name already exists.", false),
        new(ErrorCode.InvalidPartitions, "INVALID_PARTITIONS", "Number of partitions is below 1.", false),
        new(ErrorCode.InvalidReplicationFactor, "INVALID_REPLICATION_FACTOR", "Replication factor is below 1 or larger than the number of available brokers.", false),
        new(ErrorCode.InvalidReplicaAssignment, "INVALID_REPLICA_ASSIGNMENT", "Replica assignment is invalid.", false),
        new(ErrorCode.InvalidConfig, "INVALID_CONFIG", "Configuration is invalid.", false),
        new(ErrorCode.NotController, "NOT_CONTROLLER", "This is not the correct controller for this cluster.", true),
        new(ErrorCode.InvalidRequest, "INVALID_REQUEST", "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details.", false),
        new(ErrorCode.UnsupportedForMessageFormat, "UNSUPPORTED_FOR_MESSAGE_FORMAT", "The message format version on the broker does not support the request.", false),
        new(ErrorCode.PolicyViolation, "POLICY_VIOLATION", "Request parameters do not satisfy the configured policy.", false),
        new(ErrorCode.OutOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", "The broker received an out of order sequence number.", false),
        new(ErrorCode.DuplicateSequenceNumber, "DUPLICATE_SEQUENCE_NUMBER", "The broker received a duplicate sequence number.", false),
        new(ErrorCode.InvalidProducerEpoch, "INVALID_PRODUCER_EPOCH", "Producer attempted to produce with an old epoch.", false),
        new(ErrorCode.InvalidTxnState, "INVALID_TXN_STATE", "The producer attempted a transactional operation in an invalid state.", false),
        new(ErrorCode.InvalidProducerIdMapping, "INVALID_PRODUCER_ID_MAPPING", "The producer attempted to use a producer id which is not currently assigned to its transactional id.", false),
        new(ErrorCode.InvalidTransactionTimeout, "INVALID_TRANSACTION_TIMEOUT", "The transaction timeout is larger than the maximum value allowed by the broker (as configured by transaction.max.timeout.ms).", false),
        new(ErrorCode.ConcurrentTransactions, "CONCURRENT_TRANSACTIONS", "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing.", true),
        new(ErrorCode.TransactionCoordinatorFenced, "TRANSACTION_COORDINATOR_FENCED", "Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current coordinator for a given producer.", false),
        new(ErrorCode.TransactionalIdAuthorizationFailed, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "Transactional Id authorization failed.", false),
        new(ErrorCode.SecurityDisabled, "SECURITY_DISABLED", "Security features are disabled.", false),
        new(ErrorCode.OperationNotAttempted, "OPERATION_NOT_ATTEMPTED", "The broker did not attempt to execute this operation. This may happen for batched RPCs where some operations in the batch failed, causing the broker to respond without trying the rest.", false),
        new(ErrorCode.KafkaStorageError, "KAFKA_STORAGE_ERROR", "Disk error when trying to access log file on the disk.", true),
        new(ErrorCode.LogDirNotFound, "LOG_DIR_NOT_FOUND", "The user-specified log directory is not found in the broker config.", false),
        new(ErrorCode.SaslAuthenticationFailed, "SASL_AUTHENTICATION_FAILED", "SASL Authentication failed.", false),
        new(ErrorCode.UnknownProducerId, "UNKNOWN_PRODUCER_ID", "This exception is raised by the broker if it could not locate the producer metadata associated with the producerId in question. This could happen if, for instance, the producer's records were deleted because their retention time had elapsed. Once the last records of the producerId are removed, the producer's metadata is removed from the broker, and future appends by the producer will return this exception.", false),
        new(ErrorCode.ReassignmentInProgress, "REASSIGNMENT_IN_PROGRESS", "A partition reassignment is in progress.", false),
        new(ErrorCode.DelegationTokenAuthDisabled, "DELEGATION_TOKEN_AUTH_DISABLED", "Delegation Token feature is not enabled.", false),
        new(ErrorCode.DelegationTokenNotFound, "DELEGATION_TOKEN_NOT_FOUND", "Delegation Token is not found on server.", false),
        new(ErrorCode.DelegationTokenOwnerMismatch, "DELEGATION_TOKEN_OWNER_MISMATCH", "Specified Principal is not valid Owner/Renewer.", false),
        new(ErrorCode.DelegationTokenRequestNotAllowed, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", "Delegation Token requests are not allowed on PLAINTEXT/1-way SSL channels and on delegation token authenticated channels.", false),
        new(ErrorCode.DelegationTokenAuthorizationFailed, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", "Delegation Token authorization failed.", false),
        new(ErrorCode.DelegationTokenExpired, "DELEGATION_TOKEN_EXPIRED", "Delegation Token is expired.", false),
        new(ErrorCode.InvalidPrincipalType, "INVALID_PRINCIPAL_TYPE", "Supplied principalType is not supported.", false),
        new(ErrorCode.NonEmptyGroup, "NON_EMPTY_GROUP", "The group is not empty.", false),
        new(ErrorCode.GroupIdNotFound, "GROUP_ID_NOT_FOUND", "The group id does not exist.", false),
        new(ErrorCode.FetchSessionIdNotFound, "FETCH_SESSION_ID_NOT_FOUND", "The fetch session ID was not found.", true),
        new(ErrorCode.InvalidFetchSessionEpoch, "INVALID_FETCH_SESSION_EPOCH", "The fetch session epoch is invalid.", true),
        new(ErrorCode.ListenerNotFound, "LISTENER_NOT_FOUND", "There is no listener on the leader broker that matches the listener on which metadata request was processed.", true),
        new(ErrorCode.TopicDeletionDisabled, "TOPIC_DELETION_DISABLED", "Topic deletion is disabled.", false),
        new(ErrorCode.FencedLeaderEpoch, "FENCED_LEADER_EPOCH", "The leader epoch in the request is older than the epoch on the broker.", true),
        new(ErrorCode.UnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH", "The leader epoch in the request is newer than the epoch on the broker.", true),
        new(ErrorCode.UnsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE", "The requesting client does not support the compression type of given partition.", false),
        new(ErrorCode.StaleBrokerEpoch, "STALE_BROKER_EPOCH", "Broker epoch has changed.", false),
        new(ErrorCode.OffsetNotAvailable, "OFFSET_NOT_AVAILABLE", "The leader high watermark has not caught up from a recent leader election so the offsets cannot be guaranteed to be monotonically increasing.", true),
        new(ErrorCode.MemberIdRequired, "MEMBER_ID_REQUIRED", "The group member needs to have a valid member id before actually entering a consumer group.", false),
        new(ErrorCode.PreferredLeaderNotAvailable, "PREFERRED_LEADER_NOT_AVAILABLE", "The preferred leader was not available.", true),
        new(ErrorCode.GroupMaxSizeReached, "GROUP_MAX_SIZE_REACHED", "The consumer group has reached its max size.", false),
        new(ErrorCode.FencedInstanceId, "FENCED_INSTANCE_ID", "The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id.", false),
        new(ErrorCode.EligibleLeadersNotAvailable, "ELIGIBLE_LEADERS_NOT_AVAILABLE", "Eligible topic partition leaders are not available.", true),
        new(ErrorCode.ElectionNotNeeded, "ELECTION_NOT_NEEDED", "Leader election not needed for topic partition.", true),
        new(ErrorCode.NoReassignmentInProgress, "NO_REASSIGNMENT_IN_PROGRESS", "No partition reassignment is in progress.", false),
        new(ErrorCode.GroupSubscribedToTopic, "GROUP_SUBSCRIBED_TO_TOPIC", "Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it.", false),
        new(ErrorCode.InvalidRecord, "INVALID_RECORD", "This record has failed the validation on broker and hence will be rejected.", false),
        new(ErrorCode.UnstableOffsetCommit, "UNSTABLE_OFFSET_COMMIT", "There are unstable offsets that need to be cleared.", true),
        new(ErrorCode.ThrottlingQuotaExceeded, "THROTTLING_QUOTA_EXCEEDED", "The throttling quota has been exceeded.", true),
        new(ErrorCode.ProducerFenced, "PRODUCER_FENCED", "There is a newer producer with the same transactionalId which fences the current one.", false),
        new(ErrorCode.ResourceNotFound, "RESOURCE_NOT_FOUND", "A request illegally referred to a resource that does not exist.", false),
        new(ErrorCode.DuplicateResource, "DUPLICATE_RESOURCE", "A request illegally referred to the same resource twice.", false),
        new(ErrorCode.UnacceptableCredential, "UNACCEPTABLE_CREDENTIAL", "Requested credential would not meet criteria for acceptability.", false),
        new(ErrorCode.InconsistentVoterSet, "INCONSISTENT_VOTER_SET", "Indicates that the either the sender or recipient of a voter-only request is not one of the expected voters.", false),
        new(ErrorCode.InvalidUpdateVersion, "INVALID_UPDATE_VERSION", "The given update version was invalid.", false),
        new(ErrorCode.FeatureUpdateFailed, "FEATURE_UPDATE_FAILED", "Unable to update finalized features due to an unexpected server error.", false),
        new(ErrorCode.PrincipalDeserializationFailure, "PRINCIPAL_DESERIALIZATION_FAILURE", "Request principal deserialization failed during forwarding. This indicates an internal error on the broker cluster security setup.", false),
        new(ErrorCode.SnapshotNotFound, "SNAPSHOT_NOT_FOUND", "Requested snapshot was not found.", false),
        new(ErrorCode.PositionOutOfRange, "POSITION_OUT_OF_RANGE", "Requested position is not greater than or equal to zero, and less than the size of the snapshot.", false),
        new(ErrorCode.UnknownTopicId, "UNKNOWN_TOPIC_ID", "This server does not host this topic ID.", true),
        new(ErrorCode.DuplicateBrokerRegistration, "DUPLICATE_BROKER_REGISTRATION", "This broker ID is already in use.", false),
        new(ErrorCode.BrokerIdNotRegistered, "BROKER_ID_NOT_REGISTERED", "The given broker ID was not registered.", false),
        new(ErrorCode.InconsistentTopicId, "INCONSISTENT_TOPIC_ID", "The log's topic ID did not match the topic ID in the request.", true),
        new(ErrorCode.InconsistentClusterId, "INCONSISTENT_CLUSTER_ID", "The clusterId in the request does not match that found on the server.", false),
        new(ErrorCode.TransactionalIdNotFound, "TRANSACTIONAL_ID_NOT_FOUND", "The transactionalId could not be found.", false),
        new(ErrorCode.FetchSessionTopicIdError, "FETCH_SESSION_TOPIC_ID_ERROR", "The fetch session encountered inconsistent topic ID usage.", true),
        new(ErrorCode.IneligibleReplica, "INELIGIBLE_REPLICA", "The new ISR contains at least one ineligible replica.", false),
        new(ErrorCode.NewLeaderElected, "NEW_LEADER_ELECTED", "The AlterPartition request successfully updated the partition state but the leader has changed.", false),
        new(ErrorCode.OffsetMovedToTieredStorage, "OFFSET_MOVED_TO_TIERED_STORAGE", "The requested offset is moved to tiered storage.", false),
        new(ErrorCode.FencedMemberEpoch, "FENCED_MEMBER_EPOCH", "The member epoch is fenced by the group coordinator. The member must abandon all its partitions and rejoin.", false),
        new(ErrorCode.UnreleasedInstanceId, "UNRELEASED_INSTANCE_ID", "The instance ID is still used by another member in the consumer group. That member must leave first.", false),
        new(ErrorCode.UnsupportedAssignor, "UNSUPPORTED_ASSIGNOR", "The assignor or its version range is not supported by the consumer group.", false),
        new(ErrorCode.StaleMemberEpoch, "STALE_MEMBER_EPOCH", "The member epoch is stale. The member must retry after receiving its updated member epoch via the ConsumerGroupHeartbeat API.", false),
        new(ErrorCode.MismatchedEndpointType, "MISMATCHED_ENDPOINT_TYPE", "The request was sent to an endpoint of the wrong type.", false),
        new(ErrorCode.UnsupportedEndpointType, "UNSUPPORTED_ENDPOINT_TYPE", "This endpoint type is not supported yet.", false),
        new(ErrorCode.UnknownControllerId, "UNKNOWN_CONTROLLER_ID", "This controller ID is not known.", false),
        new(ErrorCode.UnknownSubscriptionId, "UNKNOWN_SUBSCRIPTION_ID", "Client sent a push telemetry request with an invalid or outdated subscription ID.", false),
        new(ErrorCode.TelemetryTooLarge, "TELEMETRY_TOO_LARGE", "Client sent a push telemetry request larger than the maximum size the broker will accept.", false),
        new(ErrorCode.InvalidRegistration, "INVALID_REGISTRATION", "The controller has considered the broker registration to be invalid.", false),
        new(ErrorCode.TransactionAbortable, "TRANSACTION_ABORTABLE", "The server encountered an error with the transaction. The client can abort the transaction to continue using this transactional ID.", false),
        new(ErrorCode.InvalidRecordState, "INVALID_RECORD_STATE", "The record state is invalid. The acknowledgement of delivery could not be completed.", false),
        new(ErrorCode.ShareSessionNotFound, "SHARE_SESSION_NOT_FOUND", "The share session was not found.", true),
        new(ErrorCode.InvalidShareSessionEpoch, "INVALID_SHARE_SESSION_EPOCH", "The share session epoch is invalid.", true),
        new(ErrorCode.FencedStateEpoch, "FENCED_STATE_EPOCH", "The share coordinator rejected the request because the share-group state epoch did not match.", false),
        new(ErrorCode.InvalidVoterKey, "INVALID_VOTER_KEY", "The voter key doesn't match the receiving replica's key.", false),
        new(ErrorCode.DuplicateVoter, "DUPLICATE_VOTER", "The voter is already part of the set of voters.", false),
        new(ErrorCode.VoterNotFound, "VOTER_NOT_FOUND", "The voter is not part of the set of voters.", false),
        new(ErrorCode.InvalidRegularExpression, "INVALID_REGULAR_EXPRESSION", "The regular expression is not valid.", false),
        new(ErrorCode.RebootstrapRequired, "REBOOTSTRAP_REQUIRED", "Client metadata is stale. The client should rebootstrap to obtain new metadata.", false),
        new(ErrorCode.StreamsInvalidTopology, "STREAMS_INVALID_TOPOLOGY", "The supplied topology is invalid.", false),
        new(ErrorCode.StreamsInvalidTopologyEpoch, "STREAMS_INVALID_TOPOLOGY_EPOCH", "The supplied topology epoch is invalid.", false),
        new(ErrorCode.StreamsTopologyFenced, "STREAMS_TOPOLOGY_FENCED", "The supplied topology epoch is outdated.", false),
        new(ErrorCode.ShareSessionLimitReached, "SHARE_SESSION_LIMIT_REACHED", "The limit of share sessions has been reached.", false),
    ];

    /// <summary>
    /// Describes <paramref name="code"/>. Never throws: a code this table does not list gets a generic, non-retriable
    /// entry named <c>UNKNOWN_ERROR_CODE_n</c> (kiel crashed on such codes; spec L22).
    /// </summary>
    public static ErrorInfo Info(ErrorCode code)
    {
        var index = (short)code - MinCode;
        if (index >= 0 && index < All.Count) return All[index];
        return new ErrorInfo(code, "UNKNOWN_ERROR_CODE_" + (short)code,
            $"The broker returned error code {(short)code}, which this version of Kiel does not know.", false) { IsUnknown = true };
    }

    /// <summary>Describes a raw code read from a response.</summary>
    public static ErrorInfo Info(short code) => Info((ErrorCode)code);

    /// <summary>True when <paramref name="code"/> is retriable (false for unknown codes).</summary>
    public static bool IsRetriable(this ErrorCode code) => Info(code).IsRetriable;

    /// <summary>Kafka's constant name of <paramref name="code"/>.</summary>
    public static string Name(this ErrorCode code) => Info(code).Name;
}
