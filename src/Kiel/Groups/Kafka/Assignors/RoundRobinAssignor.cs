namespace Kiel.Groups.Kafka.Assignors;

/// <summary>
/// <c>roundrobin</c>: the partitions of all subscribed topics, sorted by topic name and partition, are dealt one by
/// one to the members in <see cref="AssignorSupport.MemberOrder"/>, continuing the cycle across topics and skipping a
/// member that does not subscribe to the partition's topic (Java's <c>RoundRobinAssignor</c>, librdkafka's roundrobin).
/// </summary>
internal sealed class RoundRobinAssignor() : PartitionAssignor(AssignorName, RebalanceProtocol.Eager)
{
    public const string AssignorName = "roundrobin";

    internal override IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> Assign(
        IReadOnlyDictionary<string, int> partitionCounts, IReadOnlyList<GroupMemberSubscription> members)
    {
        var sorted = AssignorSupport.Sorted(members);
        var result = AssignorSupport.EmptyResult(sorted);
        var next = -1;
        foreach (var topic in AssignorSupport.SubscribedTopics(partitionCounts, sorted))
        {
            for (var p = 0; p < partitionCounts[topic]; p++)
            {
                // The topic is subscribed by at least one member, so this scan ends within one cycle.
                do next = (next + 1) % sorted.Length;
                while (!AssignorSupport.Subscribes(sorted[next], topic));
                result[sorted[next].MemberId].Add(new TopicPartition(topic, p));
            }
        }
        return AssignorSupport.Freeze(result);
    }
}
