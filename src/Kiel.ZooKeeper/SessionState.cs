namespace Kiel.ZooKeeper;

/// <summary>The session states the client reports, modelled on kazoo's listener states.</summary>
public enum SessionState
{
    /// <summary>Not connected yet: the first session is being established.</summary>
    Connecting,
    /// <summary>A new session is established (the first one, or a new one after an expiry).</summary>
    Connected,
    /// <summary>The connection dropped; the session may still be alive and the client is reconnecting (kazoo's SUSPENDED).</summary>
    Suspended,
    /// <summary>The connection came back on the same session: ephemeral nodes are intact and watches were re-armed.</summary>
    Reconnected,
    /// <summary>The session expired (kazoo's LOST): its ephemeral nodes and watches are gone. The client goes on with a new session.</summary>
    Expired,
    /// <summary>The client was closed.</summary>
    Closed,
}

/// <summary>A change of session state.</summary>
/// <param name="State">The new state.</param>
/// <param name="SessionId">The session id at that moment (the new one after Connected; the lost one for Expired).</param>
/// <param name="Server">The server connected to, when connected.</param>
public sealed record SessionStateChange(SessionState State, long SessionId, string? Server);
