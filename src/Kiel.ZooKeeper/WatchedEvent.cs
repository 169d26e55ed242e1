namespace Kiel.ZooKeeper;

/// <summary>What happened to a watched node.</summary>
public enum WatchEventType
{
    /// <summary>No node event: the session state changed (see <see cref="WatchedEvent.State"/>).</summary>
    None = -1,
    /// <summary>The node was created.</summary>
    NodeCreated = 1,
    /// <summary>The node was deleted.</summary>
    NodeDeleted = 2,
    /// <summary>The node's data changed.</summary>
    NodeDataChanged = 3,
    /// <summary>The node's children changed.</summary>
    NodeChildrenChanged = 4,
}

/// <summary>The state carried by a watch event.</summary>
public enum WatchState
{
    /// <summary>Connected.</summary>
    SyncConnected = 3,
    /// <summary>The session expired; the watch will never fire again.</summary>
    Expired = -112,
    /// <summary>The client was closed; the watch will never fire again.</summary>
    Closed = 7,
}

/// <summary>A watch notification: one-shot, delivered at most once per registration.</summary>
/// <param name="Type">The node event, or <see cref="WatchEventType.None"/> for a session event.</param>
/// <param name="State">The session state.</param>
/// <param name="Path">The path (relative to the chroot), or null for session events.</param>
public sealed record WatchedEvent(WatchEventType Type, WatchState State, string? Path);
