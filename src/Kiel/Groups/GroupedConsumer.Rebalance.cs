using Kiel.Groups;

namespace Kiel;

public partial class GroupedConsumer<TValue>
{
    async Task IPartitionOwner.RevokeAsync(IReadOnlyCollection<TopicPartition> revoked, bool commit, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Stop fetching and drop what was fetched but not handed out, so nothing of these partitions is returned
            // after their progress is committed.
            foreach (var tp in revoked)
                if (_reader is { } reader)
                {
                    DropParked(reader.Engine, tp);
                    try { reader.Engine.Unassign(tp); }
                    catch (ObjectDisposedException) { }
                }
            try
            {
                if (commit) await CommitHandOverLockedAsync(revoked.Where(_owned.Contains).ToList(), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                // The engine no longer fetches them, whatever the commit did (a failure, or a cancellation from a timeout
                // inside it): a partition left owned and synced here would never be assigned to the engine again when
                // it comes back to this member, and would be held and never read.
                foreach (var tp in revoked)
                {
                    _owned.Remove(tp);
                    _synced.Remove(tp);
                    _progress.Remove(tp);
                    _committed.Remove(tp);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    async Task IPartitionOwner.AssignAsync(IReadOnlyCollection<TopicPartition> assigned, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var tp in assigned)
            {
                _owned.Add(tp);
                // The claim is ours now, so the previous owner has committed: read the committed offset afresh.
                _synced.Remove(tp);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    void IPartitionOwner.SetPaused(bool paused) => _paused = paused;

    async Task IPartitionOwner.OnAllocationChangedAsync(AllocationChangedEventArgs args)
    {
        Kiel.Diagnostics.ClientMetrics.Rebalanced(Options.Group);
        var handlers = AllocationChanged;
        if (handlers is null) return;
        foreach (var handler in handlers.GetInvocationList().Cast<Func<AllocationChangedEventArgs, Task>>())
            await handler(args).ConfigureAwait(false);
    }
}
