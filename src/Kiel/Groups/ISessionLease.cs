namespace Kiel.Groups;

/// <summary>
/// What a group store knows of its session's liveness, for the hand-out lease check: the session, the timeout the
/// server granted, and the session's last fresh contact with a server on the monotonic clock.
/// </summary>
internal interface ISessionLease
{
    /// <summary>The current session id; 0 when there is none (before the first session, or right after an expiry).</summary>
    long SessionId { get; }

    /// <summary>The session timeout the server granted (the requested one until a session exists).</summary>
    TimeSpan SessionTimeout { get; }

    /// <summary>
    /// The <see cref="TimeProvider.GetTimestamp"/> value at which the newest request a server answered for this
    /// session was sent; 0 when there is none.
    /// </summary>
    long LastContactTimestamp { get; }
}
