namespace Kiel.Groups;

/// <summary>
/// Whether a member may hand out records now: its claims are known alive (the session that joined and claimed is the
/// current one, and its last confirmation through the leader is younger than the session timeout less a margin), and its
/// own progress has had no gap longer than the margin (a pause, a freeze, a long GC) since it last confirmed them.
/// The margin is a third of the session timeout. A store without <see cref="ISessionLease"/> is taken as always alive.
/// Thread-safe.
/// </summary>
internal sealed class HandOutLease(ISessionLease? lease, TimeProvider clock)
{
    private readonly Lock _gate = new();
    private long _session;
    private long _lastTick = clock.GetTimestamp();
    private int _gaps;
    private int _confirmedGaps;

    /// <summary>A third of the session timeout: the lease ends this long before the server could expire the session.</summary>
    public TimeSpan Margin => lease is null ? TimeSpan.MaxValue : lease.SessionTimeout / 3;

    /// <summary>How often <see cref="Tick"/> should run.</summary>
    public TimeSpan TickPeriod => lease is null ? TimeSpan.FromSeconds(1) : TimeSpan.FromMilliseconds(Math.Max(10, Margin.TotalMilliseconds / 4));

    /// <summary>Gaps seen so far; a hand-out compares it with the count from before it fetched.</summary>
    public int Gaps { get { lock (_gate) return _gaps; } }

    /// <summary>The member joined (again) under the current session: claims from now on belong to it.</summary>
    /// <param name="sessionBeforeJoin">The session id read before the join; a different one now means the session
    /// changed during the join, and nothing is trusted until the next join.</param>
    public void Joined(long sessionBeforeJoin)
    {
        if (lease is null) return;
        var now = lease.SessionId;
        lock (_gate) _session = now == sessionBeforeJoin ? now : 0;
    }

    /// <summary>The member made progress now; a longer silence than the margin since the last tick counts as a gap.</summary>
    public void Tick()
    {
        var now = clock.GetTimestamp();
        lock (_gate)
        {
            if (clock.GetElapsedTime(_lastTick, now) > Margin) _gaps++;
            _lastTick = now;
        }
    }

    /// <summary>True when the session holding the claims is the current one and has been in touch with a server lately.</summary>
    public bool IsFresh
    {
        get
        {
            if (lease is null) return true;
            long joined;
            lock (_gate) joined = _session;
            var session = lease.SessionId;
            var contact = lease.LastContactTimestamp;
            // Read the session again: a contact read while the session was being replaced (expired, then a new one
            // established) can be the new session's handshake, which says nothing of the claims of the old one.
            if (session == 0 || session != joined || contact == 0 || lease.SessionId != session) return false;
            return clock.GetElapsedTime(contact) < lease.SessionTimeout - Margin;
        }
    }

    /// <summary>
    /// True when the member must drop what it prefetched and confirm its session and claims before handing anything
    /// out: a gap in its progress since the last confirmation (or one going on now), or a lease that is not fresh.
    /// </summary>
    public bool NeedsConfirmation(out int gaps)
    {
        lock (_gate)
        {
            gaps = _gaps;
            if (_gaps != _confirmedGaps || InGapLocked()) return true;
        }
        return !IsFresh;
    }

    /// <summary>
    /// True when the member's progress had a gap since the last confirmation, or has one now: what it prefetched may
    /// be another member's by now. A lease that is merely stale (no confirmation lately, progress steady) is not a gap.
    /// </summary>
    public bool HasUnconfirmedGap
    {
        get
        {
            lock (_gate) return _gaps != _confirmedGaps || InGapLocked();
        }
    }

    /// <summary>The session and claims were confirmed after the gaps counted in <paramref name="gaps"/>.</summary>
    public void Confirmed(int gaps)
    {
        lock (_gate)
        {
            // A gap going on now began during the confirmation (frozen while its round trip was under way, so the
            // answer may predate it): count it rather than let the reset below hide it, and it gets confirmed in turn.
            if (InGapLocked()) _gaps++;
            _confirmedGaps = gaps;
            // The confirmation is progress: the watch's next tick must not count the time before it as a new gap.
            _lastTick = clock.GetTimestamp();
        }
    }

    /// <summary>
    /// The check at the moment of hand-out: no gap since <paramref name="gapsBefore"/> was read (before the fetch),
    /// none going on, and the lease fresh.
    /// </summary>
    public bool MayHandOut(int gapsBefore)
    {
        lock (_gate)
            if (_gaps != gapsBefore || _gaps != _confirmedGaps || InGapLocked()) return false;
        return IsFresh;
    }

    /// <summary>
    /// True when no gap was counted since <paramref name="gaps"/> was read (<see cref="Gaps"/>) and none is going on:
    /// the member has not been paused or frozen since then. A commit checks it, with <see cref="IsFresh"/>, just before
    /// it is sent, so that one approved before a freeze is not written after the thaw over the commits of the member
    /// that took the partitions meanwhile.
    /// </summary>
    public bool NoGapSince(int gaps)
    {
        lock (_gate) return _gaps == gaps && !InGapLocked();
    }

    /// <summary>The lease's state in words, for logs: gaps, the time since the last tick, the sessions and the contact's age.</summary>
    public string Describe()
    {
        if (lease is null) return "no session lease";
        int gaps, confirmed;
        long joined, lastTick;
        lock (_gate) (gaps, confirmed, joined, lastTick) = (_gaps, _confirmedGaps, _session, _lastTick);
        var contact = lease.LastContactTimestamp;
        var contactAge = contact == 0 ? "none" : $"{clock.GetElapsedTime(contact).TotalMilliseconds:F0} ms ago";
        return $"gaps {gaps}, confirmed {confirmed}, last tick {clock.GetElapsedTime(lastTick).TotalMilliseconds:F0} ms ago, " +
            $"joined session 0x{joined:x}, current session 0x{lease.SessionId:x}, last contact {contactAge}, " +
            $"limit {(lease.SessionTimeout - Margin).TotalMilliseconds:F0} ms";
    }

    private bool InGapLocked() => lease is not null && clock.GetElapsedTime(_lastTick) > Margin;
}
