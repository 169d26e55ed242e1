using Kiel.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kiel.Groups.Kafka;

/// <summary>Log messages of Kafka consumer group members; event ids 2000–2049 of <see cref="LogEvents"/>.</summary>
internal static partial class KafkaGroupLog
{
    [LoggerMessage(LogEvents.KafkaGroupJoined, LogLevel.Information, "Group {Group}: member {Member} joined generation {Generation} with protocol {Protocol} (leader: {Leader})")]
    public static partial void Joined(ILogger logger, string group, string member, int generation, string? protocol, bool leader);

    [LoggerMessage(LogEvents.KafkaGroupAssigned, LogLevel.Information, "Group {Group}: member {Member} is assigned {Partitions}")]
    public static partial void Assigned(ILogger logger, string group, string member, string partitions);

    [LoggerMessage(LogEvents.KafkaGroupRevoked, LogLevel.Information, "Group {Group}: member {Member} gives up {Partitions}")]
    public static partial void Revoked(ILogger logger, string group, string member, string partitions);

    [LoggerMessage(LogEvents.KafkaGroupLost, LogLevel.Warning, "Group {Group}: member {Member} lost {Partitions} ({Reason}); it hands out nothing of them and joins again")]
    public static partial void Lost(ILogger logger, string group, string member, string partitions, string reason);

    [LoggerMessage(LogEvents.KafkaGroupRejoin, LogLevel.Information, "Group {Group}: member {Member} joins again: {Reason}")]
    public static partial void Rejoin(ILogger logger, string group, string member, string reason);

    [LoggerMessage(LogEvents.KafkaGroupRetriableError, LogLevel.Information, "Group {Group}: {Api} failed with {Error}; retrying in {DelayMs:0} ms")]
    public static partial void RetriableError(ILogger logger, string group, string api, string error, double delayMs);

    [LoggerMessage(LogEvents.KafkaGroupFailed, LogLevel.Error, "Group {Group}: member {Member} stops: {Reason}")]
    public static partial void Failed(ILogger logger, string group, string member, string reason);

    [LoggerMessage(LogEvents.KafkaGroupLeft, LogLevel.Information, "Group {Group}: member {Member} left the group")]
    public static partial void Left(ILogger logger, string group, string member);

    [LoggerMessage(LogEvents.KafkaGroupPollTimeout, LogLevel.Warning, "Group {Group}: member {Member} handed out no record and was not asked for any for {StalledMs:0} ms, more than MaxPollInterval ({MaxPollMs:0} ms); it leaves the group so that others take its partitions, and joins again when the application asks for records. Process faster, hand fewer records per step, or raise MaxPollInterval.")]
    public static partial void PollTimeout(ILogger logger, string group, string member, double stalledMs, double maxPollMs);

    [LoggerMessage(LogEvents.KafkaGroupSessionLapsed, LogLevel.Warning, "Group {Group}: member {Member} had no successful heartbeat for {ElapsedMs:0} ms (SessionTimeout {SessionMs:0} ms); the coordinator has likely expired it")]
    public static partial void SessionLapsed(ILogger logger, string group, string member, double elapsedMs, double sessionMs);

    [LoggerMessage(LogEvents.KafkaGroupHandlerFailed, LogLevel.Warning, "Group {Group}: the partitions-{Kind} handler failed; the rebalance goes on")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string group, string kind);

    [LoggerMessage(LogEvents.KafkaGroupCommitFailed, LogLevel.Warning, "Group {Group}: committing offsets failed")]
    public static partial void CommitFailed(ILogger logger, Exception exception, string group);

    [LoggerMessage(LogEvents.KafkaGroupStartPosition, LogLevel.Debug, "Group {Group}: {Partition} starts at {Offset} ({Source})")]
    public static partial void StartPosition(ILogger logger, string group, TopicPartition partition, long offset, string source);

    [LoggerMessage(LogEvents.KafkaGroupAssignmentComputed, LogLevel.Debug, "Group {Group}: leader {Member} assigned with {Assignor}: {Assignment}")]
    public static partial void AssignmentComputed(ILogger logger, string group, string member, string assignor, string assignment);

    [LoggerMessage(LogEvents.KafkaGroupCommitNotOwned, LogLevel.Warning, "Group {Group}: not committing {Partitions}: this member does not own them (any more); their new owner commits them")]
    public static partial void CommitNotOwned(ILogger logger, string group, string partitions);

    [LoggerMessage(LogEvents.KafkaGroupLeaderSyncHeadStart, LogLevel.Debug, "Group {Group}: leader {Member} at the librdkafka mock sends its SyncGroup {HeadStartMs:0} ms after the JoinGroup answer, so that the {Followers} other members' SyncGroup requests reach the coordinator first")]
    public static partial void LeaderSyncHeadStart(ILogger logger, string group, string member, double headStartMs, int followers);

    [LoggerMessage(LogEvents.KafkaGroupTopicChanged, LogLevel.Information, "Group {Group}: leader {Member} joins again: {Change} since it assigned, so the group is assigned afresh")]
    public static partial void TopicChanged(ILogger logger, string group, string member, string change);

    [LoggerMessage(LogEvents.KafkaGroupResumedAfterRefusedCommit, LogLevel.Information, "Group {Group}: {Partition} is back in the generation after {Generation}, whose final commit of it was refused; it resumes at {Offset}, where this member gave it up, not at the committed {Committed}")]
    public static partial void ResumedAfterRefusedCommit(ILogger logger, string group, TopicPartition partition, long offset, int generation, long committed);
}
