namespace Kiel.Cluster;

/// <summary>
/// Which of a broker's connections to use. Each broker gets one connection per purpose so that a long-polling
/// Fetch never delays a heartbeat or a commit, and a large Produce never delays a Fetch.
/// </summary>
public enum ConnectionPurpose
{
    /// <summary>Metadata, coordinator lookups, group membership, offsets, admin.</summary>
    Group = 0,
    /// <summary>Produce requests.</summary>
    Produce = 1,
    /// <summary>Fetch and ListOffsets requests.</summary>
    Fetch = 2,
}
