namespace Kiel;

/// <summary>
/// Shares the partitions of a group among its members, as kiel's <c>partition_allocator</c> functions do.
/// Every member runs the allocator independently on the same inputs, so it must be a pure, deterministic
/// function of them: the same members and partitions must always give the same result.
/// </summary>
/// <param name="members">The member names of the group, sorted by ordinal string comparison.</param>
/// <param name="partitions">The partitions in kiel's <c>topic:partition</c> text form, sorted by ordinal string comparison.</param>
/// <returns>
/// Member name → topic → partition ids. Every partition must go to exactly one member. A member that gets
/// nothing may be absent; it then consumes nothing.
/// </returns>
public delegate IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<int>>> PartitionAllocator(
    IReadOnlyList<string> members,
    IReadOnlyList<string> partitions);
