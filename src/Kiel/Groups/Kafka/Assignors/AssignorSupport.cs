namespace Kiel.Groups.Kafka.Assignors;

/// <summary>What the assignors share: member order, subscribed partitions, the result shape.</summary>
internal static class AssignorSupport
{
    /// <summary>
    /// Java's member order (<c>MemberInfo.compareTo</c>): static members first, by group instance id, then dynamic
    /// members by member id, all ordinal. librdkafka compares two static members by instance id and any other pair by
    /// member id; for a group that is all static or all dynamic the two orders agree, and for a mixed group
    /// librdkafka's comparison is not a total order, so Java's is the one a sort can follow.
    /// </summary>
    public static readonly Comparer<GroupMemberSubscription> MemberOrder = Comparer<GroupMemberSubscription>.Create(static (a, b) =>
    {
        if (a.GroupInstanceId is { } ai && b.GroupInstanceId is { } bi)
        {
            var c = string.CompareOrdinal(ai, bi);
            return c != 0 ? c : string.CompareOrdinal(a.MemberId, b.MemberId);
        }
        if (a.GroupInstanceId is not null) return -1;
        if (b.GroupInstanceId is not null) return 1;
        return string.CompareOrdinal(a.MemberId, b.MemberId);
    });

    /// <summary>Members sorted by <see cref="MemberOrder"/>; duplicate member ids are rejected.</summary>
    public static GroupMemberSubscription[] Sorted(IReadOnlyList<GroupMemberSubscription> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in members)
            if (!seen.Add(m.MemberId)) throw new ArgumentException($"Member id '{m.MemberId}' appears twice.", nameof(members));
        var sorted = members.ToArray();
        Array.Sort(sorted, MemberOrder);
        return sorted;
    }

    /// <summary>The topics some member subscribes to that exist (have a partition count), sorted ordinally.</summary>
    public static string[] SubscribedTopics(IReadOnlyDictionary<string, int> partitionCounts, IEnumerable<GroupMemberSubscription> members)
    {
        ArgumentNullException.ThrowIfNull(partitionCounts);
        var topics = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var m in members)
            foreach (var t in m.Topics)
                if (partitionCounts.TryGetValue(t, out var n) && n > 0) topics.Add(t);
        return [.. topics];
    }

    /// <summary>A mutable result with an empty list for every member.</summary>
    public static Dictionary<string, List<TopicPartition>> EmptyResult(IEnumerable<GroupMemberSubscription> members)
    {
        var result = new Dictionary<string, List<TopicPartition>>(StringComparer.Ordinal);
        foreach (var m in members) result[m.MemberId] = [];
        return result;
    }

    /// <summary>The read-only form of a result.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> Freeze(Dictionary<string, List<TopicPartition>> result)
        => result.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<TopicPartition>)kv.Value.ToArray(), StringComparer.Ordinal);

    /// <summary>Whether <paramref name="member"/> subscribes to <paramref name="topic"/>.</summary>
    public static bool Subscribes(GroupMemberSubscription member, string topic)
    {
        foreach (var t in member.Topics)
            if (string.Equals(t, topic, StringComparison.Ordinal)) return true;
        return false;
    }
}
