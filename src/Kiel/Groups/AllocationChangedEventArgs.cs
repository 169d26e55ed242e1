namespace Kiel;

/// <summary>
/// What a rebalance changed for one member. Raised after revoked partitions have stopped being fetched and their
/// progress was committed (but before their claims are released, so that no other member reads them yet), and after
/// newly assigned partitions have been claimed (before their committed offsets are read).
/// A handler may flush or commit the application's own state; the rebalance waits for it.
/// </summary>
public sealed class AllocationChangedEventArgs : EventArgs
{
    internal AllocationChangedEventArgs(
        IReadOnlyDictionary<string, IReadOnlyList<int>> revoked,
        IReadOnlyDictionary<string, IReadOnlyList<int>> assigned,
        IReadOnlyDictionary<string, IReadOnlyList<int>> allocation,
        CancellationToken cancellationToken)
    {
        Revoked = revoked;
        Assigned = assigned;
        Allocation = allocation;
        CancellationToken = cancellationToken;
    }

    /// <summary>Topic → partitions this member no longer reads.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>> Revoked { get; }

    /// <summary>Topic → partitions this member now reads.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>> Assigned { get; }

    /// <summary>Topic → partitions this member reads after the change.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>> Allocation { get; }

    /// <summary>Cancelled when the consumer winds down.</summary>
    public CancellationToken CancellationToken { get; }
}
