using Allocation = System.Collections.Generic.IReadOnlyDictionary<string, System.Collections.Generic.IReadOnlyDictionary<string, System.Collections.Generic.IReadOnlyList<int>>>;

namespace Kiel.Groups.Kafka.Assignors;

/// <summary>
/// A <see cref="PartitionAllocator"/> run as a group assignor: <c>kiel-naive</c>, <c>kiel-balanced</c> (sticky, fed
/// the members' owned partitions as the previous allocation) or a user's allocator.
/// </summary>
/// <remarks>
/// Members are named by group instance id where they have one (stable across restarts, as kiel's ZooKeeper member
/// names are), otherwise by member id; if two members would get the same name, all are named by member id. Members
/// are grouped by the set of existing topics they subscribe to, and the allocator runs once per group of members on
/// the partitions of their topics, so that a member is never given a topic it does not read. With one subscription
/// for all (the usual case) that is one call with every member and every partition, as the ZooKeeper GroupedConsumer
/// makes it.
/// </remarks>
internal sealed class AllocatorAssignor : PartitionAssignor
{
    public const string NaiveName = "kiel-naive";
    public const string BalancedName = "kiel-balanced";

    private readonly PartitionAllocator? _allocator;
    private readonly bool _sticky;

    /// <param name="name">The protocol name.</param>
    /// <param name="allocator">The allocator; null for the sticky <see cref="Allocators.Balanced(IReadOnlyList{string}, IReadOnlyList{string}, Allocation?)"/>.</param>
    /// <param name="protocol">The rebalance protocol.</param>
    /// <param name="sticky">Whether to pass owned partitions as the previous allocation (only with a null allocator).</param>
    internal AllocatorAssignor(string name, PartitionAllocator? allocator, RebalanceProtocol protocol, bool sticky)
        : base(name, protocol)
    {
        _allocator = allocator;
        _sticky = sticky;
    }

    internal override IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> Assign(
        IReadOnlyDictionary<string, int> partitionCounts, IReadOnlyList<GroupMemberSubscription> members)
    {
        var sorted = AssignorSupport.Sorted(members);
        var result = AssignorSupport.EmptyResult(sorted);
        var names = Names(sorted);
        var topics = AssignorSupport.SubscribedTopics(partitionCounts, sorted);

        // Group members by their existing subscribed topics; each group's topics go to its members only.
        var groups = new Dictionary<string, (List<GroupMemberSubscription> Members, string[] Topics)>(StringComparer.Ordinal);
        foreach (var m in sorted)
        {
            var mine = topics.Where(t => AssignorSupport.Subscribes(m, t)).ToArray();
            var key = string.Join('\n', mine);
            if (!groups.TryGetValue(key, out var g)) groups[key] = g = ([], mine);
            g.Members.Add(m);
        }

        foreach (var (groupMembers, groupTopics) in groups.Values)
        {
            if (groupTopics.Length == 0) continue;
            var byName = groupMembers.ToDictionary(m => names[m.MemberId], m => m, StringComparer.Ordinal);
            var memberNames = byName.Keys.Order(StringComparer.Ordinal).ToArray();
            var partitions = groupTopics.SelectMany(t => Enumerable.Range(0, partitionCounts[t]).Select(p => $"{t}:{p}"))
                .Order(StringComparer.Ordinal).ToArray();
            Allocation allocation = _allocator is not null
                ? _allocator(memberNames, partitions)
                : Allocators.Balanced(memberNames, partitions, _sticky ? Previous(groupMembers, names, groupTopics) : null);
            Apply(allocation, byName, partitions, result);
        }
        foreach (var list in result.Values) list.Sort();
        return AssignorSupport.Freeze(result);
    }

    private static Dictionary<string, string> Names(GroupMemberSubscription[] members)
    {
        var names = members.ToDictionary(m => m.MemberId, m => m.GroupInstanceId ?? m.MemberId, StringComparer.Ordinal);
        return names.Values.Distinct(StringComparer.Ordinal).Count() == names.Count
            ? names
            : members.ToDictionary(m => m.MemberId, m => m.MemberId, StringComparer.Ordinal);
    }

    private static Allocation Previous(List<GroupMemberSubscription> members, Dictionary<string, string> names, string[] topics)
    {
        // Owned partitions of the latest generation only, as the cooperative protocol requires of a sticky assignor.
        var latest = members.Max(CooperativeStickyAssignor.GenerationOf);
        var previous = new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyList<int>>>(StringComparer.Ordinal);
        foreach (var m in members)
        {
            if (CooperativeStickyAssignor.GenerationOf(m) != latest) continue;
            previous[names[m.MemberId]] = m.OwnedPartitions
                .Where(tp => topics.Contains(tp.Topic, StringComparer.Ordinal))
                .GroupBy(tp => tp.Topic, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => (IReadOnlyList<int>)g.Select(tp => tp.Partition).ToArray(), StringComparer.Ordinal);
        }
        return previous;
    }

    private void Apply(Allocation allocation, Dictionary<string, GroupMemberSubscription> byName, string[] partitions,
        Dictionary<string, List<TopicPartition>> result)
    {
        if (allocation is null) throw new InvalidOperationException($"The allocator of assignor '{Name}' returned null; it must return an allocation.");
        var expected = new HashSet<string>(partitions, StringComparer.Ordinal);
        var given = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, topicsOf) in allocation)
        {
            if (!byName.TryGetValue(name, out var member))
                throw new InvalidOperationException($"The allocator of assignor '{Name}' gave partitions to '{name}', which is not one of the members it was given.");
            foreach (var (topic, ids) in topicsOf)
                foreach (var id in ids)
                {
                    var text = $"{topic}:{id}";
                    if (!expected.Contains(text))
                        throw new InvalidOperationException($"The allocator of assignor '{Name}' gave out {text}, which is not one of the partitions it was given.");
                    if (!given.Add(text))
                        throw new InvalidOperationException($"The allocator of assignor '{Name}' gave {text} to two members; each partition must go to exactly one.");
                    result[member.MemberId].Add(new TopicPartition(topic, id));
                }
        }
        if (given.Count != expected.Count)
        {
            var missing = partitions.First(p => !given.Contains(p));
            throw new InvalidOperationException($"The allocator of assignor '{Name}' left {expected.Count - given.Count} partition(s) unassigned (for example {missing}); each partition must go to exactly one member.");
        }
    }
}
