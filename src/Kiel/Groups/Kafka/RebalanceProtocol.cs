namespace Kiel;

/// <summary>How a group moves partitions between members when it rebalances.</summary>
public enum RebalanceProtocol
{
    /// <summary>
    /// Every member gives up all its partitions before the group rejoins, and gets its new ones after the rebalance
    /// (Kafka's original protocol; the <c>range</c> and <c>roundrobin</c> assignors).
    /// </summary>
    Eager = 0,

    /// <summary>
    /// Incremental cooperative rebalancing (KIP-429): members keep the partitions that stay theirs, and a partition that
    /// moves is first only revoked from its owner and handed to its new owner in a follow-up rebalance.
    /// </summary>
    Cooperative = 1,
}
