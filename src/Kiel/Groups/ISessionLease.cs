namespace Kiel.Groups;

/// <summary>
/// What a group store knows of its session's liveness, for the hand-out lease check: the session, the timeout the
/// server granted, and the session's last confirmation through the leader on the monotonic clock.
/// </summary>
internal interface ISessionLease
{
    /// <summary>The current session id; 0 when there is none (before the first session, or right after an expiry).</summary>
    long SessionId { get; }

    /// <summary>The session timeout the server granted (the requested one until a session exists).</summary>
    TimeSpan SessionTimeout { get; }

    /// <summary>
    /// The <see cref="TimeProvider.GetTimestamp"/> value at which the newest check that the session and its member
    /// node were alive <em>as the leader saw them</em> was sent (a sync, then the read); 0 when there is none for the
    /// current session. A ping or a plain read does not count: a lagging follower answers them for a session the
    /// leader has already expired.
    /// </summary>
    long LastContactTimestamp { get; }
}
