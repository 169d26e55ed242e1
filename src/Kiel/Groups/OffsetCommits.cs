using Kiel.Protocol.Messages;

namespace Kiel.Groups;

/// <summary>The OffsetCommit request every committer sends: the GroupedConsumer, a Kafka group member and the CLI.</summary>
internal static class OffsetCommits
{
    /// <summary>
    /// Commits <paramref name="offsets"/> (for each partition the offset of the next record to read) for
    /// <paramref name="groupId"/>, as <paramref name="member"/> of its current generation, or for the group as a whole
    /// (generation -1, no member id) when it is null.
    /// </summary>
    public static OffsetCommitRequest Create(string groupId, IEnumerable<KeyValuePair<TopicPartition, long>> offsets, string? metadata,
        ConsumerGroupMetadata? member = null) => new()
        {
            GroupId = groupId,
            GenerationIdOrMemberEpoch = member?.GenerationId ?? -1,
            MemberId = member?.MemberId ?? "",
            GroupInstanceId = member?.GroupInstanceId,
            RetentionTimeMs = -1,
            Topics = [.. offsets.GroupBy(kv => kv.Key.Topic, StringComparer.Ordinal).Select(g => new OffsetCommitRequest.OffsetCommitRequestTopic
            {
                Name = g.Key,
                Partitions = [.. g.Select(kv => new OffsetCommitRequest.OffsetCommitRequestPartition
                {
                    PartitionIndex = kv.Key.Partition,
                    CommittedOffset = kv.Value,
                    CommittedMetadata = metadata,
                    CommitTimestamp = -1,
                })],
            })],
        };
}
