namespace Kiel.ZooKeeper;

/// <summary>A znode's metadata (ZooKeeper's <c>Stat</c>).</summary>
/// <param name="Czxid">The zxid of the change that created the node.</param>
/// <param name="Mzxid">The zxid of the last change to the node's data.</param>
/// <param name="Ctime">Creation time, milliseconds since the Unix epoch.</param>
/// <param name="Mtime">Last modification time, milliseconds since the Unix epoch.</param>
/// <param name="Version">The data version, used for conditional updates.</param>
/// <param name="Cversion">The children version.</param>
/// <param name="Aversion">The ACL version.</param>
/// <param name="EphemeralOwner">The session id owning an ephemeral node, 0 for other nodes.</param>
/// <param name="DataLength">The length of the data in bytes.</param>
/// <param name="NumChildren">The number of children.</param>
/// <param name="Pzxid">The zxid of the last change to the children.</param>
public sealed record ZooKeeperStat(long Czxid, long Mzxid, long Ctime, long Mtime, int Version, int Cversion, int Aversion,
    long EphemeralOwner, int DataLength, int NumChildren, long Pzxid)
{
    /// <summary>The encoded size: 6 longs and 5 ints.</summary>
    internal const int Size = 68;

    /// <summary>True for an ephemeral node.</summary>
    public bool IsEphemeral => EphemeralOwner != 0;
}
