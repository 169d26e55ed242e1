namespace Kiel.Groups;

internal sealed partial class GroupMembership
{
    private HandOutLease? _lease;

    /// <summary>Whether this member may hand out records now: claims known alive, no gap in its own progress.</summary>
    public HandOutLease Lease => _lease ??= new HandOutLease(_store as ISessionLease, _time);

    private long SessionIdNow => (_store as ISessionLease)?.SessionId ?? 0;

    /// <summary>Joins under the current session and ties the hand-out lease to that session.</summary>
    private async Task JoinUnderLeaseAsync(CancellationToken cancellationToken)
    {
        var before = SessionIdNow;
        await _store.JoinAsync(_member, cancellationToken).ConfigureAwait(false);
        Lease.Joined(before);
    }

    /// <summary>Ticks the lease's progress watch until the membership stops: a late tick is a gap in the member's progress.</summary>
    private async Task WatchProgressAsync(CancellationToken cancellationToken)
    {
        var lease = Lease;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(lease.TickPeriod, _time, cancellationToken).ConfigureAwait(false);
                lease.Tick();
            }
        }
        catch (OperationCanceledException) { }
    }
}
