namespace Kiel.Groups;

/// <summary>Kiel's znode layout for a group, plus the owner claims and the sticky allocation node that go beyond kiel.</summary>
internal sealed class GroupPaths(string group)
{
    /// <summary>The group's root: <c>/kiel/groups/&lt;group&gt;</c>.</summary>
    public string Root { get; } = $"/kiel/groups/{group}";

    /// <summary>The party: one ephemeral child per member (kiel).</summary>
    public string Members => Root + "/members";

    /// <summary>The shared set: a JSON array of <c>topic:partition</c> (kiel).</summary>
    public string Partitions => Root + "/partitions";

    /// <summary>The kazoo lock that guards changes of the shared set (kiel).</summary>
    public string PartitionsLock => Partitions + "/lock";

    /// <summary>Ephemeral owner claims, one per partition (beyond kiel).</summary>
    public string Owners => Root + "/owners";

    /// <summary>The last allocation of a sticky allocator, with the inputs it was computed from (beyond kiel).</summary>
    public string Allocation => Root + "/allocation";

    /// <summary>This member's party node.</summary>
    public string Member(string name) => Members + "/" + name;

    /// <summary>The owner node of one partition.</summary>
    public string Owner(string partition) => Owners + "/" + partition;
}
