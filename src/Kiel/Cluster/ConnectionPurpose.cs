namespace Kiel.Cluster;

/// <summary>
/// Which of a broker's connections to use. Each broker gets one connection per purpose, because a broker answers
/// the requests of one connection strictly in order: a long-polling Fetch must never delay a heartbeat or a
/// commit, a large Produce never a Fetch, and a JoinGroup held for a rebalance never a metadata refresh.
/// </summary>
internal enum ConnectionPurpose
{
    /// <summary>Group membership, offsets (commit and fetch), transactions and admin requests.</summary>
    Group = 0,
    /// <summary>Produce requests.</summary>
    Produce = 1,
    /// <summary>Fetch and ListOffsets requests.</summary>
    Fetch = 2,
    /// <summary>Metadata refreshes and coordinator lookups, which the cluster itself sends.</summary>
    Metadata = 3,
    /// <summary>The Fetch requests of a consumer's second fetch lane to the broker (see <see cref="Kiel.Consuming.BrokerFetchSource"/>):
    /// on a connection of its own, so that neither lane's long poll holds the other's answer back.</summary>
    SecondFetch = 4,
}
