namespace Kiel.Groups;

internal sealed partial class GroupMembership
{
    private int _claimIds;
    private int _pendingClaims;
    private readonly Dictionary<TopicPartition, int> _claimIdOf = [];

    /// <summary>How many partitions are allocated to this member but not yet claimed.</summary>
    public int PendingClaims => Volatile.Read(ref _pendingClaims);

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var reader = _signals.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var change = false;
                var claimed = new List<(TopicPartition, int)>();
                var sessions = new List<GroupSessionState>();
                while (reader.TryRead(out var s))
                {
                    switch (s.Kind)
                    {
                        case SignalKind.Claimed: claimed.Add((s.Partition, s.Id)); break;
                        case SignalKind.Session: sessions.Add(s.State); break;
                        default: change = true; break;
                    }
                }
                try
                {
                    foreach (var state in sessions) change |= await OnSessionAsync(state, cancellationToken).ConfigureAwait(false);
                    if (change) await RebalanceAsync(cancellationToken).ConfigureAwait(false);
                    if (claimed.Count > 0) await TakeClaimedAsync(claimed, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    GroupLog.RebalanceFailed(_log, e, _member);
                    // Claims that arrived with a failed round are found again: the next claim of a node we hold succeeds at once.
                    _ = RetryLaterAsync(cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { }
    }

    private async Task RetryLaterAsync(CancellationToken cancellationToken)
    {
        try { await Task.Delay(TimeSpan.FromMilliseconds(500), _time, cancellationToken).ConfigureAwait(false); }
        catch (OperationCanceledException) { return; }
        _signals.Writer.TryWrite(Signal.Change);
    }

    private async Task<bool> OnSessionAsync(GroupSessionState state, CancellationToken cancellationToken)
    {
        GroupLog.Session(_log, _member, state);
        switch (state)
        {
            case GroupSessionState.Expired:
                // ZooKeeper has already dropped our member node and claims; others may be reading our partitions now,
                // so stop at once and commit nothing (their commits are the ones that count).
                _expired = true;
                _rejoin = true;
                // The expiry removed every claim node of the old session.
                _unreleased.Clear();
                CancelClaims(_claimIdOf.Keys.ToArray());
                if (_owned.Count > 0)
                {
                    var lost = _owned.ToArray();
                    await _owner.RevokeAsync(lost, commit: false, cancellationToken).ConfigureAwait(false);
                    _owned.Clear();
                    Publish();
                    await RaiseAsync(lost, [], cancellationToken).ConfigureAwait(false);
                }
                return false;
            case GroupSessionState.Connected:
            case GroupSessionState.Reconnected:
                return true;
            default:
                return false;
        }
    }

    private async Task RebalanceAsync(CancellationToken cancellationToken)
    {
        if (_rejoin)
        {
            // A new session after an expiry: register again, which kiel never did (L10).
            await JoinUnderLeaseAsync(cancellationToken).ConfigureAwait(false);
            _rejoin = false;
            _expired = false;
            GroupLog.Joined(_log, _member, _group);
        }
        if (_expired) return;

        var members = await _store.GetMembersAsync(cancellationToken).ConfigureAwait(false);
        if (!members.Contains(_member, StringComparer.Ordinal))
        {
            // Our node is gone while the session lives (deleted by hand, or a stale read): join again; the watch
            // brings us back here. Never allocate without ourselves in the list (kiel's L11).
            GroupLog.Rejoining(_log, _member, _group);
            await _store.JoinAsync(_member, cancellationToken).ConfigureAwait(false);
            _signals.Writer.TryWrite(Signal.Change);
            return;
        }
        var partitions = await _store.GetPartitionsAsync(cancellationToken).ConfigureAwait(false);
        var sortedMembers = SortedDistinct(members);
        var sortedPartitions = SortedDistinct(partitions);
        var mapping = _sticky
            ? await StickyAsync(sortedMembers, sortedPartitions, cancellationToken).ConfigureAwait(false)
            : _allocator(sortedMembers, sortedPartitions);
        var desired = new HashSet<TopicPartition>();
        var dealt = new Dictionary<TopicPartition, int>();
        if (mapping.TryGetValue(_member, out var mine))
            foreach (var (topic, ids) in mine)
                foreach (var id in ids)
                {
                    var tp = new TopicPartition(topic, id);
                    desired.Add(tp);
                    dealt.TryAdd(tp, dealt.Count);
                }
        _dealt = dealt;
        if (!desired.SetEquals(_desired) || !_firstAllocation.Task.IsCompleted)
            GroupLog.Rebalanced(_log, _group, sortedMembers.Length, sortedPartitions.Length, _member, Describe(desired));
        _desired = desired;

        // The unpause waits for a full read of the group after a reconnect, so no record flows on a stale allocation.
        if (_paused)
        {
            _paused = false;
            _owner.SetPaused(false);
        }

        CancelClaims(_claimIdOf.Keys.Where(tp => !desired.Contains(tp)).ToArray());
        var revoked = _owned.Where(tp => !desired.Contains(tp)).ToArray();
        if (revoked.Length > 0)
        {
            GroupLog.Revoking(_log, _member, Describe(revoked));
            try { await _owner.RevokeAsync(revoked, commit: true, cancellationToken).ConfigureAwait(false); }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // Keeping the claim would stall the partition for good; releasing it costs at most duplicates. That holds
                // for a cancellation that is not ours too (a timeout inside the commit): the owner has stopped reading them.
                GroupLog.RevokeCommitFailed(_log, e, _member);
            }
            _owned.ExceptWith(revoked);
            if (_claims) _unreleased.UnionWith(revoked);
            Publish();
            await RaiseAsync(revoked, [], cancellationToken).ConfigureAwait(false);
        }
        if (_unreleased.Count > 0) await ReleaseGivenUpAsync(desired, cancellationToken).ConfigureAwait(false);

        var fresh = desired.Where(tp => !_owned.Contains(tp) && !_claimIdOf.ContainsKey(tp)).Order().ToArray();
        if (fresh.Length > 0)
        {
            if (_claims)
            {
                foreach (var tp in fresh) StartClaim(tp);
            }
            else
            {
                await _owner.AssignAsync(fresh, cancellationToken).ConfigureAwait(false);
                _owned.UnionWith(fresh);
                Publish();
                await RaiseAsync([], fresh, cancellationToken).ConfigureAwait(false);
            }
        }
        _firstAllocation.TrySetResult();
    }

    // Claims of partitions given up and not released yet: a release that met a connection loss fails the round, and the
    // next round (the retry) must release them still, or the partitions stay claimed by a live session that reads none.
    private readonly HashSet<TopicPartition> _unreleased = [];

    private async Task ReleaseGivenUpAsync(HashSet<TopicPartition> desired, CancellationToken cancellationToken)
    {
        foreach (var tp in _unreleased.Order().ToArray())
        {
            // Wanted again: our own claim node counts as claimed by the next claim attempt.
            if (!desired.Contains(tp) && !_owned.Contains(tp) && !_claimIdOf.ContainsKey(tp))
                await _store.ReleaseAsync(tp.ToString(), cancellationToken).ConfigureAwait(false);
            _unreleased.Remove(tp);
        }
    }

    private void StartClaim(TopicPartition tp)
    {
        var id = ++_claimIds;
        _claimIdOf[tp] = id;
        var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        _claimTokens[tp] = cts;
        Interlocked.Increment(ref _pendingClaims);
        // The token is read here: the claim may be cancelled and its source disposed before the pool runs it.
        var token = cts.Token;
        _ = Task.Run(() => ClaimAsync(tp, id, token), CancellationToken.None);
    }

    private readonly Dictionary<TopicPartition, CancellationTokenSource> _claimTokens = [];

    private void CancelClaims(IEnumerable<TopicPartition> partitions)
    {
        foreach (var tp in partitions)
        {
            _claimIdOf.Remove(tp);
            if (_claimTokens.Remove(tp, out var cts))
            {
                cts.Cancel();
                cts.Dispose();
                Interlocked.Decrement(ref _pendingClaims);
            }
        }
    }

    private async Task ClaimAsync(TopicPartition tp, int id, CancellationToken cancellationToken)
    {
        var name = tp.ToString();
        var waiting = false;
        var backoff = TimeSpan.FromMilliseconds(100);
        // True while the last create may have reached the server unseen (its answer was lost with the connection).
        var unsure = false;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    // Not cancellable on purpose: a create that reached the server must be seen, or the node would be orphaned.
                    unsure = true;
                    if (await _store.TryClaimAsync(name, _member, CancellationToken.None).ConfigureAwait(false))
                    {
                        unsure = false;
                        _signals.Writer.TryWrite(new Signal(SignalKind.Claimed, tp, default, id));
                        return;
                    }
                    unsure = false;
                    if (!waiting)
                    {
                        GroupLog.WaitingForClaim(_log, _member, name);
                        waiting = true;
                    }
                    await _store.WaitForReleaseAsync(name, _claimPoll, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    GroupLog.ClaimFailed(_log, e, _member, name);
                    try { await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false); }
                    catch (OperationCanceledException) { return; }
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
                }
            }
        }
        finally
        {
            // Given up (the partition went elsewhere) after a create whose answer was lost: the node may be ours, held by
            // this live session where nobody reads the partition and its next owner waits for it for good. The loop
            // treats it as a claim that is no longer wanted, and releases the node if it is ours.
            if (unsure) _signals.Writer.TryWrite(new Signal(SignalKind.Claimed, tp, default, id));
        }
    }

    private async Task TakeClaimedAsync(List<(TopicPartition Tp, int Id)> claimed, CancellationToken cancellationToken)
    {
        var take = new List<TopicPartition>();
        foreach (var (tp, id) in claimed)
        {
            if (_claimIdOf.TryGetValue(tp, out var current))
            {
                // An older attempt that a newer one replaced: the newer one reports for both.
                if (current != id) continue;
                CancelClaims([tp]);
                if (!_expired && _desired.Contains(tp) && !_owned.Contains(tp)) take.Add(tp);
                else if (!_owned.Contains(tp)) _unreleased.Add(tp);
            }
            else if (!_owned.Contains(tp) && !_desired.Contains(tp))
            {
                _unreleased.Add(tp);
            }
        }
        if (take.Count > 0)
        {
            take.Sort();
            GroupLog.Claimed(_log, _member, Describe(take));
            await _owner.AssignAsync(take, cancellationToken).ConfigureAwait(false);
            _owned.UnionWith(take);
            Publish();
            await RaiseAsync([], take, cancellationToken).ConfigureAwait(false);
        }
        // Claims not wanted any more go through the list a failed round's retry releases too: a release that meets a
        // connection loss is made by the next round, not forgotten with the node left held.
        if (_unreleased.Count > 0) await ReleaseGivenUpAsync(_desired, cancellationToken).ConfigureAwait(false);
    }

    // The allocator's order of this member's partitions (kiel's allocation listed them as dealt), by rank.
    private Dictionary<TopicPartition, int> _dealt = [];

    private void Publish() => _allocation = ToDealtMap(_owned, _dealt);

    /// <summary>
    /// Topic → partition ids of <paramref name="partitions"/> in the order the allocator dealt them (kiel's
    /// <c>allocation</c>); a partition the allocator no longer deals (still held while revoked) comes last, by number.
    /// </summary>
    internal static IReadOnlyDictionary<string, IReadOnlyList<int>> ToDealtMap(IEnumerable<TopicPartition> partitions, IReadOnlyDictionary<TopicPartition, int> dealt)
        => partitions.GroupBy(tp => tp.Topic, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<int>)g
                .OrderBy(tp => dealt.TryGetValue(tp, out var rank) ? rank : int.MaxValue).ThenBy(tp => tp.Partition)
                .Select(tp => tp.Partition).ToArray(), StringComparer.Ordinal);

    private async Task RaiseAsync(IReadOnlyCollection<TopicPartition> revoked, IReadOnlyCollection<TopicPartition> assigned, CancellationToken cancellationToken)
    {
        try
        {
            await _owner.OnAllocationChangedAsync(new AllocationChangedEventArgs(ToMap(revoked), ToMap(assigned), _allocation, cancellationToken)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            GroupLog.HandlerFailed(_log, e, _member);
        }
    }

    internal static IReadOnlyDictionary<string, IReadOnlyList<int>> ToMap(IEnumerable<TopicPartition> partitions)
        => partitions.GroupBy(tp => tp.Topic, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<int>)g.Select(tp => tp.Partition).Order().ToArray(), StringComparer.Ordinal);

    private static string Describe(IEnumerable<TopicPartition> partitions)
    {
        var list = partitions.Order().ToList();
        return list.Count == 0 ? "nothing" : string.Join(", ", list);
    }

    private static string[] SortedDistinct(IEnumerable<string> items)
    {
        var a = items.Distinct(StringComparer.Ordinal).ToArray();
        Array.Sort(a, StringComparer.Ordinal);
        return a;
    }
}
