using System.Buffers.Binary;

namespace Kiel.Groups.Kafka.Assignors;

/// <summary>
/// <c>cooperative-sticky</c> (KIP-429): balanced, and sticky to what members owned. The target it returns may move a
/// partition from one owner to another; the member code then revokes it first and hands it over in the follow-up
/// rebalance, as KIP-429 requires (this class computes only the target).
/// </summary>
/// <remarks>
/// <para>Ownership follows Java's generation rules: only the partitions claimed by members of the highest generation
/// count; a partition two members of that generation both claim counts for neither. A member's generation is the
/// subscription's <c>GenerationId</c> (v2+), or else the 4-byte generation Java's cooperative-sticky assignor puts in
/// the user data.</para>
/// <para>When every member subscribes to the same topics, each member gets ⌊P/M⌋ or ⌈P/M⌉ partitions, the ⌈P/M⌉ going
/// to the members that own the most, and each keeps as many of its owned partitions as its share allows: no other
/// balanced assignment moves fewer partitions. Otherwise partitions go first to their owners, then to the subscribing
/// member with the fewest, and single moves from a member to one with at least two fewer partitions balance it.</para>
/// </remarks>
internal sealed class CooperativeStickyAssignor() : PartitionAssignor(AssignorName, RebalanceProtocol.Cooperative)
{
    public const string AssignorName = "cooperative-sticky";

    internal override IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> Assign(
        IReadOnlyDictionary<string, int> partitionCounts, IReadOnlyList<GroupMemberSubscription> members)
    {
        var sorted = AssignorSupport.Sorted(members);
        var result = AssignorSupport.EmptyResult(sorted);
        if (sorted.Length == 0) return AssignorSupport.Freeze(result);

        var topics = AssignorSupport.SubscribedTopics(partitionCounts, sorted);
        var subscriptions = sorted.ToDictionary(
            m => m.MemberId,
            m => new HashSet<string>(m.Topics.Where(t => partitionCounts.TryGetValue(t, out var n) && n > 0), StringComparer.Ordinal),
            StringComparer.Ordinal);
        var all = new List<TopicPartition>();
        foreach (var t in topics)
            for (var p = 0; p < partitionCounts[t]; p++) all.Add(new TopicPartition(t, p));

        var owned = ValidOwned(sorted, subscriptions, partitionCounts);
        var equal = sorted.All(m => subscriptions[m.MemberId].SetEquals(subscriptions[sorted[0].MemberId]));
        if (equal) AssignEqual(sorted, all, owned, result);
        else AssignGeneral(sorted, all, owned, subscriptions, result);
        foreach (var list in result.Values) list.Sort();
        return AssignorSupport.Freeze(result);
    }

    /// <summary>The generation a member's owned partitions belong to, or -1 when it does not say.</summary>
    internal static int GenerationOf(GroupMemberSubscription member)
    {
        if (member.Generation >= 0) return member.Generation;
        return member.UserData.Length == 4 ? BinaryPrimitives.ReadInt32BigEndian(member.UserData.Span) : -1;
    }

    /// <summary>Each member's owned partitions that still count, sorted: see the class remarks.</summary>
    private static Dictionary<string, List<TopicPartition>> ValidOwned(GroupMemberSubscription[] members,
        Dictionary<string, HashSet<string>> subscriptions, IReadOnlyDictionary<string, int> partitionCounts)
    {
        var maxGeneration = members.Max(GenerationOf);
        var owner = new Dictionary<TopicPartition, string>();
        var contested = new HashSet<TopicPartition>();
        foreach (var m in members)
        {
            if (GenerationOf(m) != maxGeneration) continue;
            foreach (var tp in m.OwnedPartitions)
            {
                if (tp.Partition < 0 || !subscriptions[m.MemberId].Contains(tp.Topic) || tp.Partition >= partitionCounts[tp.Topic]) continue;
                if (owner.TryGetValue(tp, out var other) && other != m.MemberId) contested.Add(tp);
                else owner[tp] = m.MemberId;
            }
        }
        var result = members.ToDictionary(m => m.MemberId, _ => new List<TopicPartition>(), StringComparer.Ordinal);
        foreach (var (tp, m) in owner)
            if (!contested.Contains(tp)) result[m].Add(tp);
        foreach (var list in result.Values) list.Sort();
        return result;
    }

    private static void AssignEqual(GroupMemberSubscription[] members, List<TopicPartition> all,
        Dictionary<string, List<TopicPartition>> owned, Dictionary<string, List<TopicPartition>> result)
    {
        var minQuota = all.Count / members.Length;
        var withExtra = all.Count % members.Length;
        var byOwned = members.OrderByDescending(m => owned[m.MemberId].Count).ThenBy(m => m, AssignorSupport.MemberOrder).ToArray();
        var quota = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < byOwned.Length; i++) quota[byOwned[i].MemberId] = minQuota + (i < withExtra ? 1 : 0);

        var assigned = new HashSet<TopicPartition>();
        foreach (var m in members)
        {
            var keep = owned[m.MemberId].Take(quota[m.MemberId]);
            foreach (var tp in keep)
            {
                result[m.MemberId].Add(tp);
                assigned.Add(tp);
            }
        }

        // Deal the rest in turn to the members with room, which spreads each topic across them.
        var next = -1;
        foreach (var tp in all)
        {
            if (assigned.Contains(tp)) continue;
            do next = (next + 1) % members.Length;
            while (result[members[next].MemberId].Count >= quota[members[next].MemberId]);
            result[members[next].MemberId].Add(tp);
        }
    }

    private static void AssignGeneral(GroupMemberSubscription[] members, List<TopicPartition> all,
        Dictionary<string, List<TopicPartition>> owned, Dictionary<string, HashSet<string>> subscriptions,
        Dictionary<string, List<TopicPartition>> result)
    {
        var rank = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < members.Length; i++) rank[members[i].MemberId] = i;
        var eligible = all.ToDictionary(tp => tp, tp => members.Where(m => subscriptions[m.MemberId].Contains(tp.Topic)).Select(m => m.MemberId).ToArray());

        var holder = new Dictionary<TopicPartition, string>();
        foreach (var m in members)
            foreach (var tp in owned[m.MemberId])
            {
                result[m.MemberId].Add(tp);
                holder[tp] = m.MemberId;
            }

        string Lightest(IEnumerable<string> candidates)
            => candidates.OrderBy(c => result[c].Count).ThenBy(c => rank[c]).First();

        // The most constrained partitions first, so that the flexible ones can even out what they leave.
        foreach (var tp in all.Where(tp => !holder.ContainsKey(tp)).OrderBy(tp => eligible[tp].Length).ThenBy(tp => tp))
        {
            var to = Lightest(eligible[tp]);
            result[to].Add(tp);
            holder[tp] = to;
        }

        // Each move lowers the sum of squared counts by at least 2, so this ends; the cap is a second guard.
        var limit = (long)all.Count * all.Count + 1;
        for (long moves = 0; moves < limit; moves++)
        {
            var moved = false;
            foreach (var from in members.OrderByDescending(m => result[m.MemberId].Count).ThenBy(m => rank[m.MemberId]).Select(m => m.MemberId))
            {
                // Partitions the member did not own go first, so owned ones stay put where balance allows.
                var mine = result[from].OrderBy(tp => owned[from].Contains(tp) ? 1 : 0).ThenBy(tp => tp).ToArray();
                foreach (var tp in mine)
                {
                    var to = Lightest(eligible[tp]);
                    if (result[from].Count - result[to].Count < 2) continue;
                    result[from].Remove(tp);
                    result[to].Add(tp);
                    moved = true;
                    break;
                }
                if (moved) break;
            }
            if (!moved) return;
        }
    }
}
