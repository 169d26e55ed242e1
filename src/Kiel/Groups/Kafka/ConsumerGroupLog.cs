using Kiel.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kiel.Groups.Kafka;

/// <summary>Log messages of the KIP-848 group member (<see cref="ConsumerGroupMember"/>); event ids 2050–2099 of <see cref="LogEvents"/>.</summary>
internal static partial class ConsumerGroupLog
{
    [LoggerMessage(LogEvents.KafkaGroupHeartbeatJoined, LogLevel.Information, "Group {Group}: member {Member} joined with epoch {Epoch} (KIP-848 consumer protocol)")]
    public static partial void Joined(ILogger logger, string group, string member, int epoch);

    [LoggerMessage(LogEvents.KafkaGroupReconciled, LogLevel.Information, "Group {Group}: member {Member} at epoch {Epoch} gives up {Revoked} and takes {Assigned}")]
    public static partial void Reconciled(ILogger logger, string group, string member, int epoch, string revoked, string assigned);

    [LoggerMessage(LogEvents.KafkaGroupFenced, LogLevel.Warning, "Group {Group}: member {Member} lost {Partitions} ({Reason}); it joins again with epoch 0")]
    public static partial void Lost(ILogger logger, string group, string member, string partitions, string reason);

    [LoggerMessage(LogEvents.KafkaGroupHeartbeatRetry, LogLevel.Information, "Group {Group}: ConsumerGroupHeartbeat failed with {Error}; retrying in {DelayMs:0} ms")]
    public static partial void Retry(ILogger logger, string group, string error, double delayMs);

    [LoggerMessage(LogEvents.KafkaGroupHeartbeatFailed, LogLevel.Error, "Group {Group}: member {Member} stops: {Reason}")]
    public static partial void Failed(ILogger logger, string group, string member, string reason);

    [LoggerMessage(LogEvents.KafkaGroupHeartbeatLeft, LogLevel.Information, "Group {Group}: member {Member} left the group with epoch {Epoch}")]
    public static partial void Left(ILogger logger, string group, string member, int epoch);

    [LoggerMessage(LogEvents.KafkaGroupHeartbeatStalled, LogLevel.Warning, "Group {Group}: member {Member} leaves the group: the application has not asked for records for {ElapsedMs:0} ms, longer than MaxPollInterval ({MaxMs:0} ms); it joins again when it asks")]
    public static partial void Stalled(ILogger logger, string group, string member, double elapsedMs, double maxMs);

    [LoggerMessage(LogEvents.KafkaGroupUnknownTopicIds, LogLevel.Debug, "Group {Group}: the assignment names topic ids {TopicIds} that metadata does not know yet; they are taken once it does")]
    public static partial void UnknownTopicIds(ILogger logger, string group, string topicIds);
}
