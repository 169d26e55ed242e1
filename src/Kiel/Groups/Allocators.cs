using Allocation = System.Collections.Generic.IReadOnlyDictionary<string, System.Collections.Generic.IReadOnlyDictionary<string, System.Collections.Generic.IReadOnlyList<int>>>;

namespace Kiel;

/// <summary>Ready-made <see cref="PartitionAllocator"/>s.</summary>
public static class Allocators
{
    /// <summary>
    /// Kiel's <c>naive_allocator</c>, exactly: partition <c>i</c> of the partitions sorted by ordinal string
    /// comparison goes to member <c>i mod n</c> of the members sorted the same way. Because the sort is on the
    /// text form, <c>t:10</c> comes before <c>t:2</c>. Members that get nothing are absent from the result.
    /// </summary>
    /// <param name="members">The member names (duplicates count once).</param>
    /// <param name="partitions">The partitions as <c>topic:partition</c> (duplicates count once).</param>
    /// <returns>Member → topic → partition ids in the order they were dealt.</returns>
    /// <exception cref="FormatException">A partition is not of the form <c>topic:partition</c>.</exception>
    public static Allocation Naive(IReadOnlyList<string> members, IReadOnlyList<string> partitions)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(partitions);
        var sortedMembers = SortedDistinct(members);
        var sortedPartitions = SortedDistinct(partitions);
        var result = new Dictionary<string, Dictionary<string, List<int>>>(StringComparer.Ordinal);
        if (sortedMembers.Length == 0) return Freeze(result);
        for (var i = 0; i < sortedPartitions.Length; i++)
        {
            var tp = TopicPartition.Parse(sortedPartitions[i]);
            Add(result, sortedMembers[i % sortedMembers.Length], tp);
        }
        return Freeze(result);
    }

    /// <summary>
    /// A balanced allocator beyond kiel: partition counts per member differ by at most one, each topic is
    /// dealt round-robin so that its partitions spread across members, and partitions are ordered by number
    /// (<c>t:2</c> before <c>t:10</c>). Without a previous allocation the result depends only on the inputs.
    /// </summary>
    /// <param name="members">The member names (duplicates count once).</param>
    /// <param name="partitions">The partitions as <c>topic:partition</c> (duplicates count once).</param>
    /// <returns>Member → topic → partition ids in ascending order. Every member is present, possibly with no topics.</returns>
    /// <exception cref="FormatException">A partition is not of the form <c>topic:partition</c>.</exception>
    public static Allocation Balanced(IReadOnlyList<string> members, IReadOnlyList<string> partitions)
        => Balanced(members, partitions, previous: null);

    /// <summary>
    /// The sticky form of <see cref="Balanced(IReadOnlyList{string}, IReadOnlyList{string})"/>: each member keeps as
    /// many of its <paramref name="previous"/> partitions as balance allows, so a change of the group moves as few
    /// partitions as possible. The result is a pure function of the three inputs, so members that read the same
    /// previous allocation (the GroupedConsumer reads it from ZooKeeper) compute the same result.
    /// </summary>
    /// <param name="members">The member names (duplicates count once).</param>
    /// <param name="partitions">The partitions as <c>topic:partition</c> (duplicates count once).</param>
    /// <param name="previous">The allocation in force before the change, or null. Entries for members or partitions that
    /// no longer exist are ignored; a partition listed under two members stays with the first in ordinal order.</param>
    /// <returns>Member → topic → partition ids in ascending order. Every member is present, possibly with no topics.</returns>
    /// <exception cref="FormatException">A partition is not of the form <c>topic:partition</c>.</exception>
    public static Allocation Balanced(IReadOnlyList<string> members, IReadOnlyList<string> partitions, Allocation? previous)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(partitions);
        var sortedMembers = SortedDistinct(members);
        var all = partitions.Select(TopicPartition.Parse).Distinct().Order().ToArray();
        var result = new Dictionary<string, Dictionary<string, List<int>>>(StringComparer.Ordinal);
        foreach (var m in sortedMembers) result[m] = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        if (sortedMembers.Length == 0) return Freeze(result);

        if (previous is null || previous.Count == 0)
        {
            // Round-robin over the list sorted by topic, then partition number: overall counts differ by at most one,
            // and since each topic is a contiguous run of the deal, so do the counts within every topic.
            for (var i = 0; i < all.Length; i++) Add(result, sortedMembers[i % sortedMembers.Length], all[i]);
            return Freeze(result);
        }

        var existing = new HashSet<TopicPartition>(all);
        var kept = new Dictionary<string, List<TopicPartition>>(StringComparer.Ordinal);
        var taken = new HashSet<TopicPartition>();
        foreach (var m in sortedMembers)
        {
            var mine = new List<TopicPartition>();
            if (previous.TryGetValue(m, out var topics))
            {
                foreach (var (topic, ids) in topics.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    foreach (var id in ids.Distinct().Order())
                    {
                        var tp = new TopicPartition(topic, id);
                        if (existing.Contains(tp) && taken.Add(tp)) mine.Add(tp);
                    }
            }
            kept[m] = mine;
        }

        // Quotas: floor(n/m) each, and the remainder goes to the members that held the most, so that the
        // +1 lands where it saves a move; ties break by name so every member computes the same quotas.
        var baseQuota = all.Length / sortedMembers.Length;
        var extra = all.Length % sortedMembers.Length;
        var quota = new Dictionary<string, int>(StringComparer.Ordinal);
        var byHeld = sortedMembers.OrderByDescending(m => kept[m].Count).ThenBy(m => m, StringComparer.Ordinal).ToArray();
        for (var i = 0; i < byHeld.Length; i++) quota[byHeld[i]] = baseQuota + (i < extra ? 1 : 0);

        var perTopic = new Dictionary<(string Member, string Topic), int>();
        int TopicCount(string m, string t) => perTopic.GetValueOrDefault((m, t));
        var count = new Dictionary<string, int>(StringComparer.Ordinal);
        var assigned = new HashSet<TopicPartition>();
        foreach (var m in sortedMembers)
        {
            var mine = kept[m];
            // Over quota: give up partitions of the topic this member holds most of, highest number first,
            // which keeps what remains spread across topics.
            while (mine.Count > quota[m])
            {
                var heaviest = mine.GroupBy(tp => tp.Topic).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First().Key;
                var drop = mine.Where(tp => tp.Topic == heaviest).Max();
                mine.Remove(drop);
            }
            foreach (var tp in mine)
            {
                Add(result, m, tp);
                assigned.Add(tp);
                perTopic[(m, tp.Topic)] = TopicCount(m, tp.Topic) + 1;
            }
            count[m] = mine.Count;
        }

        foreach (var tp in all)
        {
            if (assigned.Contains(tp)) continue;
            string? best = null;
            foreach (var m in sortedMembers)
            {
                if (count[m] >= quota[m]) continue;
                if (best is null) { best = m; continue; }
                var c = TopicCount(m, tp.Topic).CompareTo(TopicCount(best, tp.Topic));
                if (c == 0) c = count[m].CompareTo(count[best]);
                if (c < 0) best = m;
            }
            // Quotas sum to the number of partitions, so some member always has room.
            Add(result, best!, tp);
            count[best!]++;
            perTopic[(best!, tp.Topic)] = TopicCount(best!, tp.Topic) + 1;
        }
        foreach (var topics in result.Values)
            foreach (var ids in topics.Values) ids.Sort();
        return Freeze(result);
    }

    private static string[] SortedDistinct(IReadOnlyList<string> items)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            ArgumentNullException.ThrowIfNull(item, nameof(items));
            set.Add(item);
        }
        var sorted = set.ToArray();
        Array.Sort(sorted, StringComparer.Ordinal);
        return sorted;
    }

    private static void Add(Dictionary<string, Dictionary<string, List<int>>> result, string member, TopicPartition tp)
    {
        if (!result.TryGetValue(member, out var topics)) result[member] = topics = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        if (!topics.TryGetValue(tp.Topic, out var ids)) topics[tp.Topic] = ids = [];
        ids.Add(tp.Partition);
    }

    private static Allocation Freeze(Dictionary<string, Dictionary<string, List<int>>> result)
        => result.ToDictionary(
            kv => kv.Key,
            kv => (IReadOnlyDictionary<string, IReadOnlyList<int>>)kv.Value.ToDictionary(t => t.Key, t => (IReadOnlyList<int>)t.Value.ToArray(), StringComparer.Ordinal),
            StringComparer.Ordinal);
}
