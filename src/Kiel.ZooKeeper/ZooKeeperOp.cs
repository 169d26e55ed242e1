namespace Kiel.ZooKeeper;

/// <summary>One operation of a <see cref="ZooKeeperClient.MultiAsync"/> transaction.</summary>
public abstract record ZooKeeperOp(string Path)
{
    /// <summary>Create a node.</summary>
    public static ZooKeeperOp Create(string path, ReadOnlyMemory<byte> data = default, CreateMode mode = CreateMode.Persistent, IReadOnlyList<ZooKeeperAcl>? acl = null)
        => new CreateOp(path, data, mode, acl ?? ZooKeeperAcl.OpenUnsafe);

    /// <summary>Delete a node (version -1 matches any).</summary>
    public static ZooKeeperOp Delete(string path, int version = -1) => new DeleteOp(path, version);

    /// <summary>Set a node's data (version -1 matches any).</summary>
    public static ZooKeeperOp SetData(string path, ReadOnlyMemory<byte> data, int version = -1) => new SetDataOp(path, data, version);

    /// <summary>Require a node's version (version -1 only requires existence).</summary>
    public static ZooKeeperOp Check(string path, int version) => new CheckOp(path, version);
}

/// <summary>Creates a node in a multi.</summary>
public sealed record CreateOp(string Path, ReadOnlyMemory<byte> Data, CreateMode Mode, IReadOnlyList<ZooKeeperAcl> Acl) : ZooKeeperOp(Path);

/// <summary>Deletes a node in a multi.</summary>
public sealed record DeleteOp(string Path, int Version) : ZooKeeperOp(Path);

/// <summary>Sets data in a multi.</summary>
public sealed record SetDataOp(string Path, ReadOnlyMemory<byte> Data, int Version) : ZooKeeperOp(Path);

/// <summary>Checks a version in a multi.</summary>
public sealed record CheckOp(string Path, int Version) : ZooKeeperOp(Path);

/// <summary>The result of one multi operation.</summary>
public abstract record OpResult
{
    /// <summary>A created node and its actual path (with the sequence number, relative to the chroot).</summary>
    public sealed record Create(string Path) : OpResult;

    /// <summary>A deleted node.</summary>
    public sealed record Delete : OpResult;

    /// <summary>Data set; the node's new stat.</summary>
    public sealed record SetData(ZooKeeperStat Stat) : OpResult;

    /// <summary>A version check passed.</summary>
    public sealed record Check : OpResult;

    /// <summary>The operation failed (or was not tried because another failed).</summary>
    public sealed record Error(ZooKeeperErrorCode Code) : OpResult;
}
