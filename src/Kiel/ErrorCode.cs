namespace Kiel;

/// <summary>
/// Kafka error codes, as brokers return them in responses: the values and names of Kafka's
/// <c>org.apache.kafka.common.protocol.Errors</c>, -1 to 133 as of Kafka 4.x. A code outside this list is legal on the wire;
/// <see cref="KafkaException"/> names such a code as unknown instead of failing.
/// </summary>
public enum ErrorCode : short
{
    /// <summary><c>UNKNOWN_SERVER_ERROR</c>: The server experienced an unexpected error when processing the request.</summary>
    UnknownServerError = -1,
    /// <summary><c>NONE</c>: No error.</summary>
    None = 0,
    /// <summary><c>OFFSET_OUT_OF_RANGE</c>: The requested offset is not within the range of offsets maintained by the server.</summary>
    OffsetOutOfRange = 1,
    /// <summary><c>CORRUPT_MESSAGE</c>: This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt. Retriable.</summary>
    CorruptMessage = 2,
    /// <summary><c>UNKNOWN_TOPIC_OR_PARTITION</c>: This server does not host this topic-partition. Retriable.</summary>
    UnknownTopicOrPartition = 3,
    /// <summary><c>INVALID_FETCH_SIZE</c>: The requested fetch size is invalid.</summary>
    InvalidFetchSize = 4,
    /// <summary><c>LEADER_NOT_AVAILABLE</c>: There is no leader for this topic-partition as we are in the middle of a leadership election. Retriable.</summary>
    LeaderNotAvailable = 5,
    /// <summary><c>NOT_LEADER_OR_FOLLOWER</c>: For requests intended only for the leader, this error indicates that the broker is not the current leader. For requests intended for any replica, this error indicates that the broker is not a replica of the topic partition. Retriable.</summary>
    NotLeaderOrFollower = 6,
    /// <summary><c>REQUEST_TIMED_OUT</c>: The request timed out. Retriable.</summary>
    RequestTimedOut = 7,
    /// <summary><c>BROKER_NOT_AVAILABLE</c>: The broker is not available.</summary>
    BrokerNotAvailable = 8,
    /// <summary><c>REPLICA_NOT_AVAILABLE</c>: The replica is not available for the requested topic-partition. Produce/Fetch requests and other requests intended only for the leader or follower return NOT_LEADER_OR_FOLLOWER if the broker is not a replica of the topic-partition. Retriable.</summary>
    ReplicaNotAvailable = 9,
    /// <summary><c>MESSAGE_TOO_LARGE</c>: The request included a message larger than the max message size the server will accept.</summary>
    MessageTooLarge = 10,
    /// <summary><c>STALE_CONTROLLER_EPOCH</c>: The controller moved to another broker.</summary>
    StaleControllerEpoch = 11,
    /// <summary><c>OFFSET_METADATA_TOO_LARGE</c>: The metadata field of the offset request was too large.</summary>
    OffsetMetadataTooLarge = 12,
    /// <summary><c>NETWORK_EXCEPTION</c>: The server disconnected before a response was received. Retriable.</summary>
    NetworkException = 13,
    /// <summary><c>COORDINATOR_LOAD_IN_PROGRESS</c>: The coordinator is loading and hence can't process requests. Retriable.</summary>
    CoordinatorLoadInProgress = 14,
    /// <summary><c>COORDINATOR_NOT_AVAILABLE</c>: The coordinator is not available. Retriable.</summary>
    CoordinatorNotAvailable = 15,
    /// <summary><c>NOT_COORDINATOR</c>: This is not the correct coordinator. Retriable.</summary>
    NotCoordinator = 16,
    /// <summary><c>INVALID_TOPIC_EXCEPTION</c>: The request attempted to perform an operation on an invalid topic.</summary>
    InvalidTopicException = 17,
    /// <summary><c>RECORD_LIST_TOO_LARGE</c>: The request included message batch larger than the configured segment size on the server.</summary>
    RecordListTooLarge = 18,
    /// <summary><c>NOT_ENOUGH_REPLICAS</c>: Messages are rejected since there are fewer in-sync replicas than required. Retriable.</summary>
    NotEnoughReplicas = 19,
    /// <summary><c>NOT_ENOUGH_REPLICAS_AFTER_APPEND</c>: Messages are written to the log, but to fewer in-sync replicas than required. Retriable.</summary>
    NotEnoughReplicasAfterAppend = 20,
    /// <summary><c>INVALID_REQUIRED_ACKS</c>: Produce request specified an invalid value for required acks.</summary>
    InvalidRequiredAcks = 21,
    /// <summary><c>ILLEGAL_GENERATION</c>: Specified group generation id is not valid.</summary>
    IllegalGeneration = 22,
    /// <summary><c>INCONSISTENT_GROUP_PROTOCOL</c>: The group member's supported protocols are incompatible with those of existing members or first group member tried to join with empty protocol type or empty protocol list.</summary>
    InconsistentGroupProtocol = 23,
    /// <summary><c>INVALID_GROUP_ID</c>: The configured groupId is invalid.</summary>
    InvalidGroupId = 24,
    /// <summary><c>UNKNOWN_MEMBER_ID</c>: The coordinator is not aware of this member.</summary>
    UnknownMemberId = 25,
    /// <summary><c>INVALID_SESSION_TIMEOUT</c>: The session timeout is not within the range allowed by the broker (as configured by group.min.session.timeout.ms and group.max.session.timeout.ms).</summary>
    InvalidSessionTimeout = 26,
    /// <summary><c>REBALANCE_IN_PROGRESS</c>: The group is rebalancing, so a rejoin is needed.</summary>
    RebalanceInProgress = 27,
    /// <summary><c>INVALID_COMMIT_OFFSET_SIZE</c>: The committing offset data size is not valid.</summary>
    InvalidCommitOffsetSize = 28,
    /// <summary><c>TOPIC_AUTHORIZATION_FAILED</c>: Topic authorization failed.</summary>
    TopicAuthorizationFailed = 29,
    /// <summary><c>GROUP_AUTHORIZATION_FAILED</c>: Group authorization failed.</summary>
    GroupAuthorizationFailed = 30,
    /// <summary><c>CLUSTER_AUTHORIZATION_FAILED</c>: Cluster authorization failed.</summary>
    ClusterAuthorizationFailed = 31,
    /// <summary><c>INVALID_TIMESTAMP</c>: The timestamp of the message is out of acceptable range.</summary>
    InvalidTimestamp = 32,
    /// <summary><c>UNSUPPORTED_SASL_MECHANISM</c>: The broker does not support the requested SASL mechanism.</summary>
    UnsupportedSaslMechanism = 33,
    /// <summary><c>ILLEGAL_SASL_STATE</c>: Request is not valid given the current SASL state.</summary>
    IllegalSaslState = 34,
    /// <summary><c>UNSUPPORTED_VERSION</c>: The version of API is not supported.</summary>
    UnsupportedVersion = 35,
    /// <summary><c>TOPIC_ALREADY_EXISTS</c>: Topic with this name already exists.</summary>
    TopicAlreadyExists = 36,
    /// <summary><c>INVALID_PARTITIONS</c>: Number of partitions is below 1.</summary>
    InvalidPartitions = 37,
    /// <summary><c>INVALID_REPLICATION_FACTOR</c>: Replication factor is below 1 or larger than the number of available brokers.</summary>
    InvalidReplicationFactor = 38,
    /// <summary><c>INVALID_REPLICA_ASSIGNMENT</c>: Replica assignment is invalid.</summary>
    InvalidReplicaAssignment = 39,
    /// <summary><c>INVALID_CONFIG</c>: Configuration is invalid.</summary>
    InvalidConfig = 40,
    /// <summary><c>NOT_CONTROLLER</c>: This is not the correct controller for this cluster. Retriable.</summary>
    NotController = 41,
    /// <summary><c>INVALID_REQUEST</c>: This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details.</summary>
    InvalidRequest = 42,
    /// <summary><c>UNSUPPORTED_FOR_MESSAGE_FORMAT</c>: The message format version on the broker does not support the request.</summary>
    UnsupportedForMessageFormat = 43,
    /// <summary><c>POLICY_VIOLATION</c>: Request parameters do not satisfy the configured policy.</summary>
    PolicyViolation = 44,
    /// <summary><c>OUT_OF_ORDER_SEQUENCE_NUMBER</c>: The broker received an out of order sequence number.</summary>
    OutOfOrderSequenceNumber = 45,
    /// <summary><c>DUPLICATE_SEQUENCE_NUMBER</c>: The broker received a duplicate sequence number.</summary>
    DuplicateSequenceNumber = 46,
    /// <summary><c>INVALID_PRODUCER_EPOCH</c>: Producer attempted to produce with an old epoch.</summary>
    InvalidProducerEpoch = 47,
    /// <summary><c>INVALID_TXN_STATE</c>: The producer attempted a transactional operation in an invalid state.</summary>
    InvalidTxnState = 48,
    /// <summary><c>INVALID_PRODUCER_ID_MAPPING</c>: The producer attempted to use a producer id which is not currently assigned to its transactional id.</summary>
    InvalidProducerIdMapping = 49,
    /// <summary><c>INVALID_TRANSACTION_TIMEOUT</c>: The transaction timeout is larger than the maximum value allowed by the broker (as configured by transaction.max.timeout.ms).</summary>
    InvalidTransactionTimeout = 50,
    /// <summary><c>CONCURRENT_TRANSACTIONS</c>: The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing. Retriable.</summary>
    ConcurrentTransactions = 51,
    /// <summary><c>TRANSACTION_COORDINATOR_FENCED</c>: Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current coordinator for a given producer.</summary>
    TransactionCoordinatorFenced = 52,
    /// <summary><c>TRANSACTIONAL_ID_AUTHORIZATION_FAILED</c>: Transactional Id authorization failed.</summary>
    TransactionalIdAuthorizationFailed = 53,
    /// <summary><c>SECURITY_DISABLED</c>: Security features are disabled.</summary>
    SecurityDisabled = 54,
    /// <summary><c>OPERATION_NOT_ATTEMPTED</c>: The broker did not attempt to execute this operation. This may happen for batched RPCs where some operations in the batch failed, causing the broker to respond without trying the rest.</summary>
    OperationNotAttempted = 55,
    /// <summary><c>KAFKA_STORAGE_ERROR</c>: Disk error when trying to access log file on the disk. Retriable.</summary>
    KafkaStorageError = 56,
    /// <summary><c>LOG_DIR_NOT_FOUND</c>: The user-specified log directory is not found in the broker config.</summary>
    LogDirNotFound = 57,
    /// <summary><c>SASL_AUTHENTICATION_FAILED</c>: SASL Authentication failed.</summary>
    SaslAuthenticationFailed = 58,
    /// <summary><c>UNKNOWN_PRODUCER_ID</c>: This exception is raised by the broker if it could not locate the producer metadata associated with the producerId in question. This could happen if, for instance, the producer's records were deleted because their retention time had elapsed. Once the last records of the producerId are removed, the producer's metadata is removed from the broker, and future appends by the producer will return this exception.</summary>
    UnknownProducerId = 59,
    /// <summary><c>REASSIGNMENT_IN_PROGRESS</c>: A partition reassignment is in progress.</summary>
    ReassignmentInProgress = 60,
    /// <summary><c>DELEGATION_TOKEN_AUTH_DISABLED</c>: Delegation Token feature is not enabled.</summary>
    DelegationTokenAuthDisabled = 61,
    /// <summary><c>DELEGATION_TOKEN_NOT_FOUND</c>: Delegation Token is not found on server.</summary>
    DelegationTokenNotFound = 62,
    /// <summary><c>DELEGATION_TOKEN_OWNER_MISMATCH</c>: Specified Principal is not valid Owner/Renewer.</summary>
    DelegationTokenOwnerMismatch = 63,
    /// <summary><c>DELEGATION_TOKEN_REQUEST_NOT_ALLOWED</c>: Delegation Token requests are not allowed on PLAINTEXT/1-way SSL channels and on delegation token authenticated channels.</summary>
    DelegationTokenRequestNotAllowed = 64,
    /// <summary><c>DELEGATION_TOKEN_AUTHORIZATION_FAILED</c>: Delegation Token authorization failed.</summary>
    DelegationTokenAuthorizationFailed = 65,
    /// <summary><c>DELEGATION_TOKEN_EXPIRED</c>: Delegation Token is expired.</summary>
    DelegationTokenExpired = 66,
    /// <summary><c>INVALID_PRINCIPAL_TYPE</c>: Supplied principalType is not supported.</summary>
    InvalidPrincipalType = 67,
    /// <summary><c>NON_EMPTY_GROUP</c>: The group is not empty.</summary>
    NonEmptyGroup = 68,
    /// <summary><c>GROUP_ID_NOT_FOUND</c>: The group id does not exist.</summary>
    GroupIdNotFound = 69,
    /// <summary><c>FETCH_SESSION_ID_NOT_FOUND</c>: The fetch session ID was not found. Retriable.</summary>
    FetchSessionIdNotFound = 70,
    /// <summary><c>INVALID_FETCH_SESSION_EPOCH</c>: The fetch session epoch is invalid. Retriable.</summary>
    InvalidFetchSessionEpoch = 71,
    /// <summary><c>LISTENER_NOT_FOUND</c>: There is no listener on the leader broker that matches the listener on which metadata request was processed. Retriable.</summary>
    ListenerNotFound = 72,
    /// <summary><c>TOPIC_DELETION_DISABLED</c>: Topic deletion is disabled.</summary>
    TopicDeletionDisabled = 73,
    /// <summary><c>FENCED_LEADER_EPOCH</c>: The leader epoch in the request is older than the epoch on the broker. Retriable.</summary>
    FencedLeaderEpoch = 74,
    /// <summary><c>UNKNOWN_LEADER_EPOCH</c>: The leader epoch in the request is newer than the epoch on the broker. Retriable.</summary>
    UnknownLeaderEpoch = 75,
    /// <summary><c>UNSUPPORTED_COMPRESSION_TYPE</c>: The requesting client does not support the compression type of given partition.</summary>
    UnsupportedCompressionType = 76,
    /// <summary><c>STALE_BROKER_EPOCH</c>: Broker epoch has changed.</summary>
    StaleBrokerEpoch = 77,
    /// <summary><c>OFFSET_NOT_AVAILABLE</c>: The leader high watermark has not caught up from a recent leader election so the offsets cannot be guaranteed to be monotonically increasing. Retriable.</summary>
    OffsetNotAvailable = 78,
    /// <summary><c>MEMBER_ID_REQUIRED</c>: The group member needs to have a valid member id before actually entering a consumer group.</summary>
    MemberIdRequired = 79,
    /// <summary><c>PREFERRED_LEADER_NOT_AVAILABLE</c>: The preferred leader was not available. Retriable.</summary>
    PreferredLeaderNotAvailable = 80,
    /// <summary><c>GROUP_MAX_SIZE_REACHED</c>: The consumer group has reached its max size.</summary>
    GroupMaxSizeReached = 81,
    /// <summary><c>FENCED_INSTANCE_ID</c>: The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id.</summary>
    FencedInstanceId = 82,
    /// <summary><c>ELIGIBLE_LEADERS_NOT_AVAILABLE</c>: Eligible topic partition leaders are not available. Retriable.</summary>
    EligibleLeadersNotAvailable = 83,
    /// <summary><c>ELECTION_NOT_NEEDED</c>: Leader election not needed for topic partition. Retriable.</summary>
    ElectionNotNeeded = 84,
    /// <summary><c>NO_REASSIGNMENT_IN_PROGRESS</c>: No partition reassignment is in progress.</summary>
    NoReassignmentInProgress = 85,
    /// <summary><c>GROUP_SUBSCRIBED_TO_TOPIC</c>: Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it.</summary>
    GroupSubscribedToTopic = 86,
    /// <summary><c>INVALID_RECORD</c>: This record has failed the validation on broker and hence will be rejected.</summary>
    InvalidRecord = 87,
    /// <summary><c>UNSTABLE_OFFSET_COMMIT</c>: There are unstable offsets that need to be cleared. Retriable.</summary>
    UnstableOffsetCommit = 88,
    /// <summary><c>THROTTLING_QUOTA_EXCEEDED</c>: The throttling quota has been exceeded. Retriable.</summary>
    ThrottlingQuotaExceeded = 89,
    /// <summary><c>PRODUCER_FENCED</c>: There is a newer producer with the same transactionalId which fences the current one.</summary>
    ProducerFenced = 90,
    /// <summary><c>RESOURCE_NOT_FOUND</c>: A request illegally referred to a resource that does not exist.</summary>
    ResourceNotFound = 91,
    /// <summary><c>DUPLICATE_RESOURCE</c>: A request illegally referred to the same resource twice.</summary>
    DuplicateResource = 92,
    /// <summary><c>UNACCEPTABLE_CREDENTIAL</c>: Requested credential would not meet criteria for acceptability.</summary>
    UnacceptableCredential = 93,
    /// <summary><c>INCONSISTENT_VOTER_SET</c>: Indicates that the either the sender or recipient of a voter-only request is not one of the expected voters.</summary>
    InconsistentVoterSet = 94,
    /// <summary><c>INVALID_UPDATE_VERSION</c>: The given update version was invalid.</summary>
    InvalidUpdateVersion = 95,
    /// <summary><c>FEATURE_UPDATE_FAILED</c>: Unable to update finalized features due to an unexpected server error.</summary>
    FeatureUpdateFailed = 96,
    /// <summary><c>PRINCIPAL_DESERIALIZATION_FAILURE</c>: Request principal deserialization failed during forwarding. This indicates an internal error on the broker cluster security setup.</summary>
    PrincipalDeserializationFailure = 97,
    /// <summary><c>SNAPSHOT_NOT_FOUND</c>: Requested snapshot was not found.</summary>
    SnapshotNotFound = 98,
    /// <summary><c>POSITION_OUT_OF_RANGE</c>: Requested position is not greater than or equal to zero, and less than the size of the snapshot.</summary>
    PositionOutOfRange = 99,
    /// <summary><c>UNKNOWN_TOPIC_ID</c>: This server does not host this topic ID. Retriable.</summary>
    UnknownTopicId = 100,
    /// <summary><c>DUPLICATE_BROKER_REGISTRATION</c>: This broker ID is already in use.</summary>
    DuplicateBrokerRegistration = 101,
    /// <summary><c>BROKER_ID_NOT_REGISTERED</c>: The given broker ID was not registered.</summary>
    BrokerIdNotRegistered = 102,
    /// <summary><c>INCONSISTENT_TOPIC_ID</c>: The log's topic ID did not match the topic ID in the request. Retriable.</summary>
    InconsistentTopicId = 103,
    /// <summary><c>INCONSISTENT_CLUSTER_ID</c>: The clusterId in the request does not match that found on the server.</summary>
    InconsistentClusterId = 104,
    /// <summary><c>TRANSACTIONAL_ID_NOT_FOUND</c>: The transactionalId could not be found.</summary>
    TransactionalIdNotFound = 105,
    /// <summary><c>FETCH_SESSION_TOPIC_ID_ERROR</c>: The fetch session encountered inconsistent topic ID usage. Retriable.</summary>
    FetchSessionTopicIdError = 106,
    /// <summary><c>INELIGIBLE_REPLICA</c>: The new ISR contains at least one ineligible replica.</summary>
    IneligibleReplica = 107,
    /// <summary><c>NEW_LEADER_ELECTED</c>: The AlterPartition request successfully updated the partition state but the leader has changed.</summary>
    NewLeaderElected = 108,
    /// <summary><c>OFFSET_MOVED_TO_TIERED_STORAGE</c>: The requested offset is moved to tiered storage.</summary>
    OffsetMovedToTieredStorage = 109,
    /// <summary><c>FENCED_MEMBER_EPOCH</c>: The member epoch is fenced by the group coordinator. The member must abandon all its partitions and rejoin.</summary>
    FencedMemberEpoch = 110,
    /// <summary><c>UNRELEASED_INSTANCE_ID</c>: The instance ID is still used by another member in the consumer group. That member must leave first.</summary>
    UnreleasedInstanceId = 111,
    /// <summary><c>UNSUPPORTED_ASSIGNOR</c>: The assignor or its version range is not supported by the consumer group.</summary>
    UnsupportedAssignor = 112,
    /// <summary><c>STALE_MEMBER_EPOCH</c>: The member epoch is stale. The member must retry after receiving its updated member epoch via the ConsumerGroupHeartbeat API.</summary>
    StaleMemberEpoch = 113,
    /// <summary><c>MISMATCHED_ENDPOINT_TYPE</c>: The request was sent to an endpoint of the wrong type.</summary>
    MismatchedEndpointType = 114,
    /// <summary><c>UNSUPPORTED_ENDPOINT_TYPE</c>: This endpoint type is not supported yet.</summary>
    UnsupportedEndpointType = 115,
    /// <summary><c>UNKNOWN_CONTROLLER_ID</c>: This controller ID is not known.</summary>
    UnknownControllerId = 116,
    /// <summary><c>UNKNOWN_SUBSCRIPTION_ID</c>: Client sent a push telemetry request with an invalid or outdated subscription ID.</summary>
    UnknownSubscriptionId = 117,
    /// <summary><c>TELEMETRY_TOO_LARGE</c>: Client sent a push telemetry request larger than the maximum size the broker will accept.</summary>
    TelemetryTooLarge = 118,
    /// <summary><c>INVALID_REGISTRATION</c>: The controller has considered the broker registration to be invalid.</summary>
    InvalidRegistration = 119,
    /// <summary><c>TRANSACTION_ABORTABLE</c>: The server encountered an error with the transaction. The client can abort the transaction to continue using this transactional ID.</summary>
    TransactionAbortable = 120,
    /// <summary><c>INVALID_RECORD_STATE</c>: The record state is invalid. The acknowledgement of delivery could not be completed.</summary>
    InvalidRecordState = 121,
    /// <summary><c>SHARE_SESSION_NOT_FOUND</c>: The share session was not found. Retriable.</summary>
    ShareSessionNotFound = 122,
    /// <summary><c>INVALID_SHARE_SESSION_EPOCH</c>: The share session epoch is invalid. Retriable.</summary>
    InvalidShareSessionEpoch = 123,
    /// <summary><c>FENCED_STATE_EPOCH</c>: The share coordinator rejected the request because the share-group state epoch did not match.</summary>
    FencedStateEpoch = 124,
    /// <summary><c>INVALID_VOTER_KEY</c>: The voter key doesn't match the receiving replica's key.</summary>
    InvalidVoterKey = 125,
    /// <summary><c>DUPLICATE_VOTER</c>: The voter is already part of the set of voters.</summary>
    DuplicateVoter = 126,
    /// <summary><c>VOTER_NOT_FOUND</c>: The voter is not part of the set of voters.</summary>
    VoterNotFound = 127,
    /// <summary><c>INVALID_REGULAR_EXPRESSION</c>: The regular expression is not valid.</summary>
    InvalidRegularExpression = 128,
    /// <summary><c>REBOOTSTRAP_REQUIRED</c>: Client metadata is stale. The client should rebootstrap to obtain new metadata.</summary>
    RebootstrapRequired = 129,
    /// <summary><c>STREAMS_INVALID_TOPOLOGY</c>: The supplied topology is invalid.</summary>
    StreamsInvalidTopology = 130,
    /// <summary><c>STREAMS_INVALID_TOPOLOGY_EPOCH</c>: The supplied topology epoch is invalid.</summary>
    StreamsInvalidTopologyEpoch = 131,
    /// <summary><c>STREAMS_TOPOLOGY_FENCED</c>: The supplied topology epoch is outdated.</summary>
    StreamsTopologyFenced = 132,
    /// <summary><c>SHARE_SESSION_LIMIT_REACHED</c>: The limit of share sessions has been reached.</summary>
    ShareSessionLimitReached = 133,
}
