namespace Kiel.Groups;

/// <summary>The session states the group coordination reacts to (kazoo's listener states, plus a new session after an expiry).</summary>
internal enum GroupSessionState
{
    /// <summary>A new session: the first, or a fresh one after <see cref="Expired"/>.</summary>
    Connected,
    /// <summary>The connection dropped; the session may still be alive.</summary>
    Suspended,
    /// <summary>The connection is back on the same session; ephemeral nodes are intact.</summary>
    Reconnected,
    /// <summary>The session expired: its ephemeral nodes (member, claims) are gone.</summary>
    Expired,
    /// <summary>The store was closed.</summary>
    Closed,
}

/// <summary>
/// What the group coordination needs from ZooKeeper, in kiel's layout (see <see cref="GroupPaths"/>). One instance is
/// one ZooKeeper session. Kept narrow so that the coordination logic can be tested without a server.
/// </summary>
internal interface IGroupStore : IAsyncDisposable
{
    /// <summary>Raised on every session state change, in order.</summary>
    event Action<GroupSessionState>? SessionChanged;

    /// <summary>Raised (from any thread) when the members, the partition set or the allocation node may have changed.</summary>
    event Action? Changed;

    /// <summary>Opens the session and arms the watches behind <see cref="Changed"/>.</summary>
    Task ConnectAsync(CancellationToken cancellationToken);

    /// <summary>Creates this member's ephemeral node; a stale node with the same name from another session is replaced (kiel's Party.join).</summary>
    Task JoinAsync(string member, CancellationToken cancellationToken);

    /// <summary>True when this member's node exists and belongs to the current session: the member still holds its claims.</summary>
    Task<bool> IsMemberAsync(string member, CancellationToken cancellationToken);

    /// <summary>Deletes this member's node; a missing node is fine.</summary>
    Task LeaveAsync(string member, CancellationToken cancellationToken);

    /// <summary>The current member names.</summary>
    Task<IReadOnlyList<string>> GetMembersAsync(CancellationToken cancellationToken);

    /// <summary>The current partition set (<c>topic:partition</c> strings); an absent node reads as empty.</summary>
    Task<IReadOnlyList<string>> GetPartitionsAsync(CancellationToken cancellationToken);

    /// <summary>Adds partitions to the shared set under the kazoo-compatible lock; writes only if the set changes.</summary>
    Task AddPartitionsAsync(IReadOnlyCollection<string> partitions, CancellationToken cancellationToken);

    /// <summary>Removes partitions from the shared set under the same lock (kiel's L12, fixed); writes only if the set changes.</summary>
    Task RemovePartitionsAsync(IReadOnlyCollection<string> partitions, CancellationToken cancellationToken);

    /// <summary>Creates the ephemeral owner node of <paramref name="partition"/>; true if this session now owns it (created now or before).</summary>
    Task<bool> TryClaimAsync(string partition, string member, CancellationToken cancellationToken);

    /// <summary>Completes when the owner node of <paramref name="partition"/> is gone, or after <paramref name="poll"/> at most.</summary>
    Task WaitForReleaseAsync(string partition, TimeSpan poll, CancellationToken cancellationToken);

    /// <summary>Deletes the owner node of <paramref name="partition"/> if this session owns it.</summary>
    Task ReleaseAsync(string partition, CancellationToken cancellationToken);

    /// <summary>The owner nodes: partition → member name.</summary>
    Task<IReadOnlyDictionary<string, string>> GetOwnersAsync(CancellationToken cancellationToken);

    /// <summary>The shared allocation node used by sticky allocators: its text (null when absent) and version (-1 when absent).</summary>
    Task<(string? Json, int Version)> GetAllocationAsync(CancellationToken cancellationToken);

    /// <summary>Writes the allocation node if its version is still <paramref name="expectedVersion"/> (-1: create it); false when someone else won.</summary>
    Task<bool> TrySetAllocationAsync(string json, int expectedVersion, CancellationToken cancellationToken);
}
