namespace Kiel.Groups.Kafka.Assignors;

/// <summary>
/// <c>range</c>: per topic, the subscribing members in <see cref="AssignorSupport.MemberOrder"/> each take a
/// contiguous range; the first <c>partitions mod members</c> take one extra. This is Java's <c>RangeAssignor</c> and
/// librdkafka's range assignor when no member names a rack (their rack-aware variants are not implemented: Kiel
/// members send no rack, and without racks on both sides both peers fall back to exactly this).
/// </summary>
internal sealed class RangeAssignor() : PartitionAssignor(AssignorName, RebalanceProtocol.Eager)
{
    public const string AssignorName = "range";

    internal override IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> Assign(
        IReadOnlyDictionary<string, int> partitionCounts, IReadOnlyList<GroupMemberSubscription> members)
    {
        var sorted = AssignorSupport.Sorted(members);
        var result = AssignorSupport.EmptyResult(sorted);
        foreach (var topic in AssignorSupport.SubscribedTopics(partitionCounts, sorted))
        {
            var subscribers = sorted.Where(m => AssignorSupport.Subscribes(m, topic)).ToArray();
            var count = partitionCounts[topic];
            var each = count / subscribers.Length;
            var extra = count % subscribers.Length;
            var next = 0;
            for (var i = 0; i < subscribers.Length; i++)
            {
                var take = each + (i < extra ? 1 : 0);
                var list = result[subscribers[i].MemberId];
                for (var j = 0; j < take; j++) list.Add(new TopicPartition(topic, next++));
            }
        }
        return AssignorSupport.Freeze(result);
    }
}
