using System.Collections.Concurrent;

namespace Kiel.Producing.Internal;

/// <summary>
/// Which partitions wait for a new producer identity, and what to do when an epoch bump is refused. Only a partition
/// whose sequence state is in doubt (an out-of-order or unknown-producer answer, or a batch that expired after it was
/// sent) needs the new identity; every other partition goes on under the current one, so an identity problem never
/// holds up partitions on healthy brokers. A refused bump (INVALID_PRODUCER_ID_MAPPING, UNKNOWN_PRODUCER_ID, or any
/// other non-retriable answer) is followed by a request for a fresh producer id, as the Java client's idempotent
/// producer effectively gets from a real broker. All of it runs on the sender loop.
/// </summary>
internal sealed partial class ProducerEngine
{
    // The last bump was refused: ask for a fresh id (InitProducerId without the current id and epoch) next.
    private bool _freshIdWanted;
    private string? _lastIdentityError;

    /// <summary>The partition's sequence state under the current identity is in doubt: it sends again only under a new one.</summary>
    private void RequestNewIdentity(PartitionState p)
    {
        if (_identity.ProducerId < 0) return;
        lock (p) p.AwaitsIdentityOtherThan = _identity;
        // A transactional producer gets the new epoch when the transaction is aborted.
        _txn?.RequestBumpAfterAbort();
        _bumpWanted = true;
        _wake.Set(); // the loop asks for it on its next pass, which a sleeping loop would not start on its own
    }

    /// <summary>True while the partition waits for an identity other than the current one. Called under the partition's lock.</summary>
    private bool WaitsForIdentity(PartitionState p) => p.AwaitsIdentityOtherThan is { } stale && stale == _identity;

    /// <summary>The identity to bump, or null to ask for a fresh producer id.</summary>
    private ProducerIdentity? IdentityToBump() =>
        _bumpWanted && !_freshIdWanted && _identity.ProducerId >= 0 ? _identity : null;

    /// <summary>A failed InitProducerId: a refused bump is followed at once by a request for a fresh id.</summary>
    private bool OnIdentityLookupFailed(Exception? error, bool wasBump)
    {
        var cause = error?.GetBaseException();
        _lastIdentityError = cause?.Message ?? "cancelled";
        if (!wasBump || cause is not ProduceException pe) return false;
        var refused = Kiel.Cluster.ErrorClassification.RefusesEpochBump((Kiel.ErrorCode)pe.ErrorCode);
        if (!refused) return false;
        ProducerLog.EpochBumpRefused(_log, pe.ErrorName, _identity.ProducerId, _identity.Epoch);
        _freshIdWanted = true;
        return true;
    }

    /// <summary>A new identity arrived: the next bump asks for the new one again.</summary>
    private void OnIdentityAssigned()
    {
        _freshIdWanted = false;
        _lastIdentityError = null;
    }

    /// <summary>The end of an expiry reason for a batch whose partition waited for a new producer id, or null.</summary>
    private string? IdentityWaitReason(PartitionState p)
    {
        bool waits;
        lock (p) waits = WaitsForIdentity(p);
        if (!waits) return null;
        return $"; the partition waited for a new producer id after its sequence state came into doubt" +
            (_lastIdentityError is { } e ? $" (InitProducerId: {e})" : "");
    }

    private readonly ConcurrentQueue<(Action Action, TaskCompletionSource Done)> _loopActions = new();

    /// <summary>Runs <paramref name="action"/> on the sender loop, which owns the identity and the partitions' sequences.</summary>
    private Task RunOnLoopAsync(Action action)
    {
        if (_stop.IsCancellationRequested || _sender.IsCompleted) return Task.FromException(new ObjectDisposedException("KielProducer"));
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _loopActions.Enqueue((action, done));
        _wake.Set();
        return done.Task;
    }

    /// <summary>Runs <paramref name="action"/> on the sender thread (tests: an action that blocks holds the sender).</summary>
    internal Task RunOnSenderAsync(Action action) => RunOnLoopAsync(action);

    private void RunLoopActions()
    {
        while (_loopActions.TryDequeue(out var item))
        {
            try { item.Action(); item.Done.TrySetResult(); }
            catch (Exception ex) { item.Done.TrySetException(ex); }
        }
    }

    /// <summary>Takes the identity a transactional producer got from its coordinator: every partition's sequence starts at zero.</summary>
    public Task SetTransactionalIdentityAsync(ProducerIdentity identity) => RunOnLoopAsync(() =>
    {
        _identity = identity;
        _identityReady = true;
        _bumpWanted = false;
        OnIdentityAssigned();
        ProducerLog.ProducerIdAssigned(_log, identity.ProducerId, identity.Epoch);
        foreach (var topic in Topics)
            foreach (var p in topic.Partitions)
                lock (p)
                {
                    p.NextSequence = 0;
                    p.SendSequence = 0;
                    p.AwaitsIdentityOtherThan = null;
                }
    });
}
