using Microsoft.Extensions.Logging;

namespace Kiel;

public partial class GroupedConsumer<TValue>
{
    /// <summary>
    /// Before a consume call fetches: after a gap in this member's progress drop what was prefetched (it may be another
    /// member's by now), and after a gap or with a lease gone stale confirm the session and its claims with ZooKeeper
    /// (through the leader: a sync, then the read); otherwise the usual lease check (a round trip at most every
    /// <see cref="LeaseAge"/>). False: hand out nothing now.
    /// Called under the gate.
    /// </summary>
    private async Task<bool> ConfirmLeaseLockedAsync(CancellationToken cancellationToken)
    {
        // A Kafka group: its member's session (heartbeats on their own task) is the lease.
        if (_kafka is { } kafka) return kafka.MayHandOut;
        var lease = _membership!.Lease;
        if (!lease.NeedsConfirmation(out var gaps))
            return await _membership.VerifySessionAsync(LeaseAge, cancellationToken).ConfigureAwait(false) && lease.IsFresh;
        // Prefetched records are dropped after a gap only: a lease that merely went stale (an idle caller) keeps the
        // session it had, and the session's claims with it, once the check below confirms that session.
        if (lease.HasUnconfirmedGap) DropPrefetchedLocked();
        if (!await _membership.VerifySessionAsync(TimeSpan.Zero, cancellationToken).ConfigureAwait(false))
        {
            if (_log.IsEnabled(LogLevel.Debug)) Groups.GroupLog.LeaseConfirmation(_log, Name, false, lease.Describe());
            return false;
        }
        lease.Confirmed(gaps);
        var fresh = lease.IsFresh;
        if (_log.IsEnabled(LogLevel.Debug)) Groups.GroupLog.LeaseConfirmation(_log, Name, fresh, lease.Describe());
        return fresh;
    }

    /// <summary>The check at the moment of hand-out: no gap since <paramref name="gapsBefore"/>, and the claims known alive.</summary>
    private bool MayHandOutLocked(int gapsBefore) => !_paused && (_kafka is { } kafka ? kafka.MayHandOut : _membership!.Lease.MayHandOut(gapsBefore));

    /// <summary>
    /// Autocommit only while the claims are known alive: a member thawed after its session expired must not write its
    /// old progress over the commits of the member that took its partitions. Skipped progress is committed by a later
    /// call once the claims are confirmed, or dropped with the partitions when they turn out lost.
    /// </summary>
    private bool MayCommitLocked() => Options.KielCompatible || MayHandOutLocked(_kafka is null ? _membership!.Lease.Gaps : 0);

    /// <summary>
    /// Before an explicit commit: with the claims not known alive (a gap, a stale or replaced session), confirm them
    /// with ZooKeeper first. False when they cannot be confirmed: the partitions may be another member's by now, and
    /// this member's older progress must not overwrite that member's commits; the commit is skipped (what it would
    /// have committed is re-read by whoever owns the partitions).
    /// </summary>
    private async Task<bool> MayCommitNowLockedAsync(CancellationToken cancellationToken)
    {
        if (Options.KielCompatible || MayHandOutLocked(_kafka is null ? _membership!.Lease.Gaps : 0)) return true;
        if (_kafka is null && await _membership!.VerifySessionAsync(TimeSpan.Zero, cancellationToken).ConfigureAwait(false) && _membership.Lease.IsFresh) return true;
        Groups.GroupLog.CommitSkipped(_log, Options.Group, Name);
        return false;
    }

    /// <summary>
    /// The commit that hands <paramref name="partitions"/> over (a revocation, the wind-down). In a ZooKeeper group it
    /// is forced (see <see cref="CommitPartitionsLockedAsync"/>) and made only while the claims are known alive
    /// (<see cref="MayCommitNowLockedAsync"/>): a member thawed after its session expired must not write its old progress
    /// over the commits of the member that took its partitions. A Kafka group's coordinator refuses the commit of a
    /// generation that is gone by itself.
    /// </summary>
    private async Task CommitHandOverLockedAsync(IEnumerable<TopicPartition> partitions, CancellationToken cancellationToken)
    {
        var approval = CommitApproval;
        if (_kafka is null && !await MayCommitNowLockedAsync(cancellationToken).ConfigureAwait(false)) return;
        await CommitPartitionsLockedAsync(partitions, null, approval, force: _kafka is null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every reader goes back to this member's own position: buffered records are dropped and fetched again.</summary>
    private void DropPrefetchedLocked()
    {
        if (_reader is not { } reader) return;
        // Chunks parked for another topic's next call were prefetched too.
        foreach (var tp in _pausedForParking.ToList()) ResumeParked(reader.Engine, tp);
        DropParked(reader.Engine, null);
        foreach (var (tp, position) in _progress)
        {
            if (!_owned.Contains(tp) || !_synced.Contains(tp)) continue;
            try { reader.Engine.Seek(tp, position); }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException or ArgumentOutOfRangeException) { }
        }
    }
}
