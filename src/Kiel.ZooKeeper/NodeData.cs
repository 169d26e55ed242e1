namespace Kiel.ZooKeeper;

/// <summary>A node's data and metadata.</summary>
/// <param name="Data">The data (empty when the node has none).</param>
/// <param name="Stat">The metadata.</param>
public sealed record NodeData(byte[] Data, ZooKeeperStat Stat);

/// <summary>A node's children and metadata.</summary>
/// <param name="Children">The child names (not full paths).</param>
/// <param name="Stat">The parent's metadata.</param>
public sealed record NodeChildren(IReadOnlyList<string> Children, ZooKeeperStat Stat);

/// <summary>A created node.</summary>
/// <param name="Path">The actual path (with the sequence suffix for sequential modes), relative to the chroot.</param>
/// <param name="Stat">The new node's stat (null for a plain create).</param>
public sealed record CreatedNode(string Path, ZooKeeperStat? Stat);
