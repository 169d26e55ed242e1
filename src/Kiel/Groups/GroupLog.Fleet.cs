using Kiel.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kiel.Groups;

/// <summary>Log messages for a kiel fleet switching over: ZooKeeper-stored offsets, skipped records, outages (4050-4099).</summary>
internal static partial class GroupLog
{
    [LoggerMessage(LogEvents.GroupZooKeeperOffsetAdopted, LogLevel.Information, "Group {Group}: {TopicPartition} has no offset stored in Kafka; starting from kiel's ZooKeeper-stored offset {Offset} ({Path})")]
    public static partial void ZooKeeperOffsetAdopted(ILogger logger, string group, string topicPartition, long offset, string path);

    [LoggerMessage(LogEvents.GroupZooKeeperOffsetFailed, LogLevel.Warning, "Group {Group}: could not {Action} kiel's ZooKeeper-stored offset of {TopicPartition} ({Path}): {Problem}")]
    public static partial void ZooKeeperOffsetFailed(ILogger logger, string group, string action, string topicPartition, string path, string problem);

    [LoggerMessage(LogEvents.GroupPartitionsDeleted, LogLevel.Information, "Group {Group}: {Count} partition(s) deleted from the cluster leave the shared set: {Partitions}")]
    public static partial void PartitionsDeleted(ILogger logger, string group, int count, string partitions);

    [LoggerMessage(LogEvents.GroupTransientConsumeError, LogLevel.Warning, "Group {Group}: member {Member} met transient trouble consuming {Topic} ({ErrorType}: {Problem}); returning what it has and trying again on the next call")]
    public static partial void TransientConsumeError(ILogger logger, string group, string member, string topic, string errorType, string problem);
}
