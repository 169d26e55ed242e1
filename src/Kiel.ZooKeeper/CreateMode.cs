namespace Kiel.ZooKeeper;

/// <summary>How a znode is created; the values are the wire flags.</summary>
public enum CreateMode
{
    /// <summary>A node that lives until deleted.</summary>
    Persistent = 0,
    /// <summary>A node deleted when the creating session ends.</summary>
    Ephemeral = 1,
    /// <summary>A persistent node whose name gets a 10-digit increasing suffix.</summary>
    PersistentSequential = 2,
    /// <summary>An ephemeral node whose name gets a 10-digit increasing suffix.</summary>
    EphemeralSequential = 3,
    /// <summary>A container node, deleted by the server once its last child is gone.</summary>
    Container = 4,
    /// <summary>A persistent node deleted after its TTL when it has no children and was not changed (server needs <c>extendedTypesEnabled</c>).</summary>
    PersistentWithTtl = 5,
    /// <summary>A sequential node with a TTL (server needs <c>extendedTypesEnabled</c>).</summary>
    PersistentSequentialWithTtl = 6,
}

/// <summary>Helpers on <see cref="CreateMode"/>.</summary>
public static class CreateModeExtensions
{
    /// <summary>True for the modes that append a sequence number.</summary>
    public static bool IsSequential(this CreateMode mode) =>
        mode is CreateMode.PersistentSequential or CreateMode.EphemeralSequential or CreateMode.PersistentSequentialWithTtl;

    /// <summary>True for the modes that take a TTL.</summary>
    public static bool HasTtl(this CreateMode mode) =>
        mode is CreateMode.PersistentWithTtl or CreateMode.PersistentSequentialWithTtl;

    /// <summary>True for ephemeral modes.</summary>
    public static bool IsEphemeral(this CreateMode mode) =>
        mode is CreateMode.Ephemeral or CreateMode.EphemeralSequential;
}
