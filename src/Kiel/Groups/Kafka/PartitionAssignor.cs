using Kiel.Groups.Kafka;
using Kiel.Groups.Kafka.Assignors;

namespace Kiel;

/// <summary>
/// A strategy that shares a group's partitions among its members, run by the group leader and named on the wire
/// (Java's and Confluent.Kafka's <c>partition.assignment.strategy</c>). Members list the assignors they support in
/// order of preference; the group uses one that all of them list.
/// </summary>
/// <remarks>
/// The standard assignors (<see cref="Range"/>, <see cref="RoundRobin"/>, <see cref="CooperativeSticky"/>) compute
/// what Java's and librdkafka's do for the same members, so Kiel, Confluent.Kafka, librdkafka and Java members can
/// share a group whichever of them is the leader. <see cref="Naive"/>, <see cref="Balanced"/> and
/// <see cref="FromAllocator"/> run kiel's <see cref="PartitionAllocator"/>s without ZooKeeper; only Kiel members
/// know them, so a group that uses one must consist of Kiel members.
/// </remarks>
public abstract class PartitionAssignor
{
    private static readonly HashSet<string> ReservedNames = new(StringComparer.Ordinal)
    {
        RangeAssignor.AssignorName, RoundRobinAssignor.AssignorName, CooperativeStickyAssignor.AssignorName, "sticky",
        AllocatorAssignor.NaiveName, AllocatorAssignor.BalancedName,
    };

    private protected PartitionAssignor(string name, RebalanceProtocol protocol)
    {
        Name = name;
        Protocol = protocol;
    }

    /// <summary>
    /// The protocol name on the wire: <c>range</c>, <c>roundrobin</c>, <c>cooperative-sticky</c>, <c>kiel-naive</c>,
    /// <c>kiel-balanced</c>, or the name given to <see cref="FromAllocator"/>.
    /// </summary>
    public string Name { get; }

    /// <summary>The rebalance protocol this assignor needs: <see cref="RebalanceProtocol.Eager"/> or <see cref="RebalanceProtocol.Cooperative"/>.</summary>
    public RebalanceProtocol Protocol { get; }

    /// <summary>
    /// <c>range</c> (eager): for each topic on its own, the members that subscribe to it, sorted (static members by
    /// group instance id first, then the others by member id), each take a contiguous range of its partitions; the
    /// first <c>partitions mod members</c> take one more. librdkafka's default first choice.
    /// </summary>
    public static PartitionAssignor Range { get; } = new RangeAssignor();

    /// <summary>
    /// <c>roundrobin</c> (eager): all partitions of all subscribed topics, sorted by topic then partition, are dealt
    /// in turn to the members sorted as for <see cref="Range"/>, skipping a member that does not subscribe to the
    /// partition's topic.
    /// </summary>
    public static PartitionAssignor RoundRobin { get; } = new RoundRobinAssignor();

    /// <summary>
    /// <c>cooperative-sticky</c> (cooperative, KIP-429): as balanced as the subscriptions allow, and each member keeps
    /// as many of the partitions it owned in the latest generation as balance allows, so a rebalance moves few
    /// partitions and the others are never revoked.
    /// </summary>
    public static PartitionAssignor CooperativeSticky { get; } = new CooperativeStickyAssignor();

    /// <summary>
    /// <c>kiel-naive</c> (eager): <see cref="Allocators.Naive"/> as an assignor, on the member names (group instance
    /// ids where members have them, otherwise member ids) and the partitions in kiel's <c>topic:partition</c> form.
    /// </summary>
    public static PartitionAssignor Naive { get; } = new AllocatorAssignor(AllocatorAssignor.NaiveName, Allocators.Naive, RebalanceProtocol.Eager, sticky: false);

    /// <summary>
    /// <c>kiel-balanced</c> (cooperative): <see cref="Allocators.Balanced(IReadOnlyList{string}, IReadOnlyList{string}, IReadOnlyDictionary{string, IReadOnlyDictionary{string, IReadOnlyList{int}}}?)"/>
    /// as an assignor, given the partitions the members own as the previous allocation, so that it is sticky.
    /// </summary>
    public static PartitionAssignor Balanced { get; } = new AllocatorAssignor(AllocatorAssignor.BalancedName, null, RebalanceProtocol.Cooperative, sticky: true);

    /// <summary>
    /// Makes an eager assignor named <paramref name="name"/> from a <see cref="PartitionAllocator"/>. The allocator is
    /// given the member names (the group instance id of a static member, the member id of any other; member ids for all
    /// if two names would clash), sorted ordinally, and the partitions of the subscribed topics as
    /// <c>topic:partition</c>, sorted ordinally. Members with different subscriptions are allocated separately: one
    /// call per set of members that subscribe to the same topics.
    /// </summary>
    /// <param name="name">The protocol name on the wire; every member of the group must use the same allocator under it.</param>
    /// <param name="allocator">The allocator. It must give every partition to exactly one of the members it was given.</param>
    /// <returns>The assignor.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, longer than 255 characters, or a built-in assignor's name.</exception>
    public static PartitionAssignor FromAllocator(string name, PartitionAllocator allocator)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(allocator);
        if (string.IsNullOrWhiteSpace(name) || name.Length > 255)
            throw new ArgumentException("The assignor name must be 1 to 255 characters, for example \"my-allocator\".", nameof(name));
        if (ReservedNames.Contains(name))
            throw new ArgumentException($"\"{name}\" is a built-in assignor's name; choose another name for your allocator.", nameof(name));
        return new AllocatorAssignor(name, allocator, RebalanceProtocol.Eager, sticky: false);
    }

    /// <summary>
    /// Computes the assignment. <paramref name="partitionCounts"/> holds the partition count of each topic that is
    /// known to exist; topics a member subscribes to that are missing from it are left out. The result has an entry
    /// for every member (possibly empty), and gives every partition of every subscribed, existing topic to exactly
    /// one member that subscribes to its topic.
    /// </summary>
    internal abstract IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> Assign(
        IReadOnlyDictionary<string, int> partitionCounts, IReadOnlyList<GroupMemberSubscription> members);

    /// <inheritdoc />
    public override string ToString() => Name;
}
