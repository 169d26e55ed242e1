namespace Kiel.Diagnostics;

/// <summary>
/// Every log event id Kiel writes, in one table so that ids never collide and operators can filter on them.
/// Ranges (<see cref="Ranges"/>): 1000-1099 network, 1100-1199 cluster and metadata, 1200-1299 coordinators and retries,
/// 2000-2099 Kafka consumer groups, 3000-3099 security (TLS and SASL), 6100-6199 transactions,
/// 4000-4099 grouped consumer and allocators (Groups/GroupLog.cs), 6000-6099 producer (Producing/ProducerLog.cs),
/// 7000-7099 fetch engine and consumers (Consuming/ConsumerLog.cs). 9000-9099 belong to the ZooKeeper client, whose
/// table is <c>Kiel.ZooKeeper.ZooKeeperLogEvents</c>. Every <c>[LoggerMessage]</c> in Kiel names its id from this table,
/// and docs/configuration.md lists every id for operators (both are checked by tests).
/// </summary>
public static class LogEvents
{
    /// <summary>The documented id ranges: first id, last id, and the area that logs with them.</summary>
    internal static IReadOnlyList<(int First, int Last, string Area)> Ranges { get; } =
    [
        (1000, 1099, "connections"),
        (1100, 1199, "cluster and metadata"),
        (1200, 1299, "coordinators and retries"),
        (2000, 2099, "Kafka consumer groups"),
        (3000, 3099, "security: TLS and SASL"),
        (4000, 4099, "GroupedConsumer and allocators"),
        (6000, 6099, "producer"),
        (6100, 6199, "transactions"),
        (7000, 7099, "fetch engine and consumers"),
    ];

    // Kafka consumer groups (2000-2049; Groups/Kafka/KafkaGroupLog.cs)
    /// <summary>A Kafka group member joined a generation.</summary>
    public const int KafkaGroupJoined = 2000;
    /// <summary>A Kafka group member was assigned partitions.</summary>
    public const int KafkaGroupAssigned = 2001;
    /// <summary>A Kafka group member gave up partitions in an orderly rebalance.</summary>
    public const int KafkaGroupRevoked = 2002;
    /// <summary>A Kafka group member lost its partitions (session expired, fenced, stalled).</summary>
    public const int KafkaGroupLost = 2003;
    /// <summary>A Kafka group member joins again (rebalance, or the follow-up of a cooperative one).</summary>
    public const int KafkaGroupRejoin = 2004;
    /// <summary>A Kafka group request failed retriably and is repeated.</summary>
    public const int KafkaGroupRetriableError = 2005;
    /// <summary>A Kafka group member stopped for good (fenced, not authorized, refused setting).</summary>
    public const int KafkaGroupFailed = 2006;
    /// <summary>A Kafka group member left the group.</summary>
    public const int KafkaGroupLeft = 2007;
    /// <summary>A Kafka group member's application stalled past MaxPollInterval; the member left.</summary>
    public const int KafkaGroupPollTimeout = 2008;
    /// <summary>A Kafka group member had no successful heartbeat within the session timeout.</summary>
    public const int KafkaGroupSessionLapsed = 2009;
    /// <summary>A rebalance handler of the application threw.</summary>
    public const int KafkaGroupHandlerFailed = 2010;
    /// <summary>An offset commit of a Kafka group member failed.</summary>
    public const int KafkaGroupCommitFailed = 2011;
    /// <summary>Where a newly assigned partition starts (committed offset or reset policy).</summary>
    public const int KafkaGroupStartPosition = 2012;
    /// <summary>The group leader computed an assignment.</summary>
    public const int KafkaGroupAssignmentComputed = 2013;
    /// <summary>A commit named partitions this member does not own (any more); they were left out.</summary>
    public const int KafkaGroupCommitNotOwned = 2014;
    /// <summary>The leader of a group with other members waits before its SyncGroup, so that theirs arrive first.</summary>
    public const int KafkaGroupLeaderSyncHeadStart = 2015;
    /// <summary>The leader saw a subscribed topic's partition count change since it assigned, and rejoins so that the group is assigned afresh.</summary>
    public const int KafkaGroupTopicChanged = 2030;
    /// <summary>A partition came back in the generation right after the one whose final commit of it was refused; it resumes at this member's own position.</summary>
    public const int KafkaGroupResumedAfterRefusedCommit = 2031;

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
    /// <summary>A broker that predates ApiVersions was probed and its release (0.8.2 or 0.9.0) detected.</summary>
    public const int OldBrokerDetected = 1050;

    // Security: TLS and SASL (3000-3099)
    /// <summary>A connection authenticated with SASL.</summary>
    public const int SaslAuthenticated = 3000;
    /// <summary>SASL authentication with a broker failed.</summary>
    public const int SaslAuthenticationFailed = 3001;
    /// <summary>A connection re-authenticated before its session lifetime ended (KIP-368).</summary>
    public const int SaslReauthenticated = 3002;
    /// <summary>Re-authentication failed, so the connection is closed.</summary>
    public const int SaslReauthenticationFailed = 3003;
    /// <summary>TLS host name verification is off (SslEndpointIdentification = false).</summary>
    public const int TlsHostnameVerificationDisabled = 3004;
    /// <summary>A TLS session was established.</summary>
    public const int TlsEstablished = 3005;
    /// <summary>The TLS handshake with a broker failed.</summary>
    public const int TlsFailed = 3006;
    /// <summary>A client.properties file had keys Kiel does not use.</summary>
    public const int UnknownClientProperties = 3007;

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

    // Kafka consumer groups, the KIP-848 member (2050-2099; Groups/Kafka/ConsumerGroupLog.cs)
    /// <summary>A KIP-848 member joined its group (first epoch).</summary>
    public const int KafkaGroupHeartbeatJoined = 2050;
    /// <summary>A KIP-848 member reconciled a new assignment (revoked, then assigned).</summary>
    public const int KafkaGroupReconciled = 2051;
    /// <summary>A KIP-848 member lost its partitions (fenced, unknown member, session lapsed) and joins again.</summary>
    public const int KafkaGroupFenced = 2052;
    /// <summary>A ConsumerGroupHeartbeat failed retriably and is repeated.</summary>
    public const int KafkaGroupHeartbeatRetry = 2053;
    /// <summary>A KIP-848 member stopped for good.</summary>
    public const int KafkaGroupHeartbeatFailed = 2054;
    /// <summary>A KIP-848 member left its group.</summary>
    public const int KafkaGroupHeartbeatLeft = 2055;
    /// <summary>A KIP-848 member's application stalled past MaxPollInterval; the member left.</summary>
    public const int KafkaGroupHeartbeatStalled = 2056;
    /// <summary>A KIP-848 assignment named topic ids that metadata did not know yet.</summary>
    public const int KafkaGroupUnknownTopicIds = 2057;

    // Grouped consumer and allocators (4000-4099)
    /// <summary>Logs <c>Member {Member} joined group {Group}</c>.</summary>
    public const int GroupJoined = 4000;
    /// <summary>Logs <c>Member {Member} left group {Group}</c>.</summary>
    public const int GroupLeft = 4001;
    /// <summary>Logs <c>Group {Group} rebalanced: {Members} members, {Partitions} partitions; member {Member} is allocated {Allocation}</c>.</summary>
    public const int GroupRebalanced = 4002;
    /// <summary>Logs <c>Member {Member} gives up {Partitions}</c>.</summary>
    public const int GroupRevoking = 4003;
    /// <summary>Logs <c>Member {Member} claimed {Partitions}</c>.</summary>
    public const int GroupClaimed = 4004;
    /// <summary>Logs <c>Member {Member} waits for {Partition} to be released by its previous owner</c>.</summary>
    public const int GroupWaitingForClaim = 4005;
    /// <summary>Logs <c>ZooKeeper session of member {Member} is {State}</c>.</summary>
    public const int GroupSession = 4006;
    /// <summary>Logs <c>Rebalance of member {Member} failed; it is retried</c>.</summary>
    public const int GroupRebalanceFailed = 4007;
    /// <summary>Logs <c>Member {Member} could not claim {Partition}; it is retried</c>.</summary>
    public const int GroupClaimFailed = 4008;
    /// <summary>Logs <c>Member {Member} is not in the party of group {Group}; joining again</c>.</summary>
    public const int GroupRejoining = 4009;
    /// <summary>Logs <c>Committing revoked partitions failed for member {Member}; their claims are released anyway and the next owner may repeat records</c>.</summary>
    public const int GroupRevokeCommitFailed = 4010;
    /// <summary>Logs <c>The AllocationChanged handler of member {Member} failed</c>.</summary>
    public const int GroupHandlerFailed = 4011;
    /// <summary>Logs <c>Group {Group} coordinator is broker {BrokerId}</c>.</summary>
    public const int GroupCoordinator = 4020;
    /// <summary>Logs <c>Group {Group}: {Api} got retriable error {Code}; retrying (attempt {Attempt})</c>.</summary>
    public const int GroupRetriableError = 4021;
    /// <summary>Logs <c>Group {Group}: no committed offset for {Partition}; starting at {Position}</c>.</summary>
    public const int GroupNoCommittedOffset = 4022;
    /// <summary>Logs <c>Group {Group}: commit metadata was too large; committing again with empty metadata</c>.</summary>
    public const int GroupMetadataTooLarge = 4023;
    /// <summary>Logs <c>Wind-down of member {Member} did not finish cleanly</c>.</summary>
    public const int GroupWindDownFailed = 4024;
    /// <summary>Logs <c>Group {Group}: member {Member} skipped a commit: its claims could not be confirmed (session lost or out of touch)</c>.</summary>
    public const int GroupCommitSkipped = 4025;
    /// <summary>Logs <c>Member {Member} held back {Count} fetched records: its claims are not known alive ({Lease})</c>.</summary>
    public const int GroupHandOutHeldBack = 4026;
    /// <summary>Logs <c>Member {Member} confirmed its session and claims after a gap: {Confirmed} ({Lease})</c>.</summary>
    public const int GroupLeaseConfirmation = 4027;
    /// <summary>A partition with no Kafka-stored offset starts from kiel's ZooKeeper-stored offset.</summary>
    public const int GroupZooKeeperOffsetAdopted = 4050;
    /// <summary>kiel's ZooKeeper-stored offset of a partition could not be read or written.</summary>
    public const int GroupZooKeeperOffsetFailed = 4051;
    /// <summary>ConsumeAsync met transient trouble, logged it and returned (ThrowOnTransientErrors off).</summary>
    public const int GroupTransientConsumeError = 4052;
    /// <summary>Partitions deleted from the cluster were removed from the group's shared set.</summary>
    public const int GroupPartitionsDeleted = 4053;

    // Producer (6000-6099)
    /// <summary>Logs <c>Idempotent produce is off: the cluster does not support InitProducerId; records may be duplicated on retry</c>.</summary>
    public const int ProducerIdempotenceUnsupported = 6000;
    /// <summary>Logs <c>Producer id {ProducerId} epoch {Epoch}</c>.</summary>
    public const int ProducerIdAssigned = 6001;
    /// <summary>Logs <c>Produce to {Topic}:{Partition} failed with {Error}; retrying (attempt {Attempt})</c>.</summary>
    public const int ProducerRetrying = 6002;
    /// <summary>Logs <c>Produce to {Topic}:{Partition} failed: {Error}; {Count} records reported failed</c>.</summary>
    public const int ProducerBatchFailed = 6003;
    /// <summary>Logs <c>Produce request to broker {Broker} failed: {Error}</c>.</summary>
    public const int ProducerRequestFailed = 6004;
    /// <summary>Logs <c>Bumping the producer epoch after {Error} on {Topic}:{Partition} (KIP-360)</c>.</summary>
    public const int ProducerEpochBump = 6005;
    /// <summary>Logs <c>Splitting a batch of {Count} records for {Topic}:{Partition} after MESSAGE_TOO_LARGE</c>.</summary>
    public const int ProducerSplitting = 6006;
    /// <summary>Logs <c>Metadata refresh for {Topic} failed: {Error}</c>.</summary>
    public const int ProducerMetadataFailed = 6007;
    /// <summary>Logs <c>A delivery callback threw</c>.</summary>
    public const int ProducerCallbackThrew = 6008;
    /// <summary>Logs <c>Closing: {Count} records were not delivered within the close timeout and are reported failed</c>.</summary>
    public const int ProducerClosingFailedRecords = 6009;
    /// <summary>Logs <c>Getting a producer id failed: {Error}; retrying</c>.</summary>
    public const int ProducerInitProducerIdFailed = 6010;
    /// <summary>Logs <c>Headers dropped for {Topic}:{Partition}: the leader only takes message format {Magic}, which has no headers</c>.</summary>
    public const int ProducerHeadersDropped = 6011;
    /// <summary>Logs <c>The cluster refused to bump the epoch of producer id {ProducerId} (epoch {Epoch}) with {Error}; taking a fresh producer id</c>.</summary>
    public const int ProducerEpochBumpRefused = 6012;
    /// <summary>Logs <c>Abandoned a Produce request to broker {Broker} with {Batches} batches after {ElapsedMs} ms: a batch in it reached its delivery deadline (DeliveryTimeout); its records may or may not have been written</c>.</summary>
    public const int ProducerRequestAbandoned = 6050;

    // Transactions (6100-6199)
    /// <summary>Logs <c>Transactional id {TransactionalId}: producer id {ProducerId} epoch {Epoch}</c>.</summary>
    public const int TransactionInitialized = 6100;
    /// <summary>Logs <c>Transactional id {TransactionalId}: {Api} got {Error}; retrying (attempt {Attempt})</c>.</summary>
    public const int TransactionRetrying = 6101;
    /// <summary>Logs <c>Transactional id {TransactionalId}: the transaction must be aborted: {Reason}</c>.</summary>
    public const int TransactionAbortable = 6102;
    /// <summary>Logs <c>Transactional id {TransactionalId}: no more transactional work: {Reason}</c>.</summary>
    public const int TransactionFatal = 6103;
    /// <summary>Logs <c>Transactional id {TransactionalId}: transaction committed</c>.</summary>
    public const int TransactionCommitted = 6104;
    /// <summary>Logs <c>Transactional id {TransactionalId}: transaction aborted</c>.</summary>
    public const int TransactionAborted = 6105;
    /// <summary>Logs <c>Transactional id {TransactionalId}: {Count} partitions added to the transaction</c>.</summary>
    public const int TransactionPartitionsAdded = 6106;
    /// <summary>Logs <c>Transactional id {TransactionalId}: aborting the open transaction at close failed: {Error}; the coordinator aborts it after the transaction timeout</c>.</summary>
    public const int TransactionAbortAtCloseFailed = 6107;

    // Fetch engine and consumers (7000-7099)
    /// <summary>Logs <c>Offset {Offset} of {TopicPartition} is out of range; resetting to {NewOffset} by policy {Policy}</c>.</summary>
    public const int ConsumerOffsetReset = 7000;
    /// <summary>Logs <c>Offset {Offset} of {TopicPartition} is out of range and the reset policy is Error</c>.</summary>
    public const int ConsumerOffsetOutOfRange = 7001;
    /// <summary>Logs <c>{TopicPartition} fetch error {ErrorCode} from broker {BrokerId}; refreshing its leader and resuming at offset {Offset}</c>.</summary>
    public const int ConsumerPartitionError = 7002;
    /// <summary>Logs <c>Fetch from broker {BrokerId} failed; its partitions move to a refreshed leader</c>.</summary>
    public const int ConsumerFetchFailed = 7003;
    /// <summary>Logs <c>{TopicPartition} now fetched from broker {BrokerId} (leader epoch {LeaderEpoch})</c>.</summary>
    public const int ConsumerLeaderChanged = 7004;
    /// <summary>Logs <c>Metadata refresh for topic {Topic} failed</c>.</summary>
    public const int ConsumerMetadataFailed = 7005;
    /// <summary>Logs <c>A record of {TopicPartition} at offset {Offset} is larger than the partition fetch size; raising it to {MaxBytes} bytes</c>.</summary>
    public const int ConsumerFetchSizeRaised = 7006;
    /// <summary>Logs <c>Fetch session with broker {BrokerId} reset after error {ErrorCode}</c>.</summary>
    public const int ConsumerSessionReset = 7007;
    /// <summary>Logs <c>Offset reset of {TopicPartition} failed; retrying</c>.</summary>
    public const int ConsumerResetFailed = 7008;
    /// <summary>Logs <c>No record of {TopicPartition} at or after {TimestampMs} ms; starting at the log end {Offset}</c>.</summary>
    public const int ConsumerTimestampNotFound = 7009;
    /// <summary>Logs <c>Fetch from broker {BrokerId} failed with error {ErrorCode}</c>.</summary>
    public const int ConsumerFetchTopLevelError = 7010;
    /// <summary>Logs <c>Fetch engine closing with {Count} partition(s) assigned: {State}</c>.</summary>
    public const int ConsumerFetchState = 7011;
    /// <summary>Logs <c>The fetch loop of broker {BrokerId} met a fault it does not handle while {Stage}; its partitions are fetched again from their positions</c>.</summary>
    public const int ConsumerFetchLoopFault = 7012;
    /// <summary>A record that could not be deserialized was skipped by the deserialization policy.</summary>
    public const int ConsumerRecordSkipped = 7050;
    /// <summary>A SingleConsumer's ConsumeAsync met transient trouble, logged it and returned (ThrowOnTransientErrors off).</summary>
    public const int ConsumerTransientError = 7051;
}
