using Kiel.Cluster;
using Kiel.Consuming;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace Kiel.Groups.Kafka;

/// <summary>
/// A <see cref="KielConsumer{TKey, TValue}"/>'s side of a Kafka group: it carries out what the member decides
/// (assigned partitions start at their committed offsets or by the reset policy; revoked ones are committed, then
/// dropped; lost ones are dropped without a commit), runs the application's rebalance handlers, commits offsets
/// (auto-commit in the background, manual commits) and tracks the application's progress for MaxPollInterval.
/// </summary>
/// <remarks>
/// What is committed is what the application moved past: a record counts once the application asked for the next
/// one (or disposed the batch it came in), so a crash never commits a record still being processed (at least once).
/// </remarks>
internal sealed class GroupConsumerCoordinator : IGroupMemberListener, IAsyncDisposable
{
    private readonly KafkaCluster _cluster;
    private readonly FetchEngine _engine;
    private readonly KielConsumerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _groupId;
    private readonly Dictionary<TopicPartition, long> _lastCommitted = [];
    // What this member may commit: the partitions it owns now (guarded by _lastCommitted). A partition leaves the set,
    // under the commit lock, when it is revoked (after its final commit) or lost, so a commit that was computed or
    // queued earlier never reaches the broker for a partition that has a new owner.
    private readonly HashSet<TopicPartition> _owned = [];
    // Positions of partitions being revoked, taken when they stopped being handed out, for a CommitAsync() made by the
    // application's revoked handler (guarded by _lastCommitted).
    private readonly Dictionary<TopicPartition, long> _revoking = [];
    // Revoked partitions whose final auto-commit the coordinator refused (the librdkafka mock refuses every OffsetCommit
    // while the group is joining; a real broker during CompletingRebalance), with the position and the generation they
    // were given up at (guarded by _lastCommitted). When the very next generation gives one back to this member, nobody
    // else can have owned it in between, so it resumes there instead of re-reading from the stale committed offset.
    private readonly Dictionary<TopicPartition, (long Offset, int Generation)> _refusedFinal = [];
    private readonly SemaphoreSlim _commitLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _failed = new();
    private Task _autoCommit = Task.CompletedTask;
    private volatile Exception? _error;
    private volatile bool _waiting;
    private int _closed;

    /// <summary>Records and batches handed out; the member reads it to tell a stall from slow but steady progress.</summary>
    internal long HandOuts;

    public GroupConsumerCoordinator(KafkaCluster cluster, FetchEngine engine, KielConsumerOptions options, Func<IGroupMemberListener, IGroupMember>? memberFactory = null)
    {
        _cluster = cluster;
        _engine = engine;
        _options = options;
        _groupId = options.GroupId ?? throw new ArgumentException("A group consumer needs KielConsumerOptions.GroupId.", nameof(options));
        _time = options.TimeProvider ?? TimeProvider.System;
        _logger = options.LoggerFactory?.CreateLogger("Kiel.Consuming.KielConsumer") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        Member = memberFactory is not null ? memberFactory(this) : CreateMember();
    }

    private IGroupMember CreateMember() => _options.GroupProtocol switch
    {
        GroupProtocol.Classic => new ClassicGroupMember(_cluster, _options, this, _logger),
        GroupProtocol.Consumer => new ConsumerGroupMember(new ClusterHeartbeatChannel(_cluster, _groupId), ConsumerGroupMemberSettings.From(_options), this, _logger),
        _ => throw new NotSupportedException($"GroupProtocol {_options.GroupProtocol} is not Classic or Consumer."),
    };

    public IGroupMember Member { get; }

    /// <summary>The application's handlers (see <see cref="KielConsumer{TKey, TValue}"/>'s PartitionsAssignedHandler and the others).</summary>
    public Func<IReadOnlyList<TopicPartition>, CancellationToken, ValueTask>? Assigned { get; set; }
    public Func<IReadOnlyList<TopicPartition>, CancellationToken, ValueTask>? Revoked { get; set; }
    public Func<IReadOnlyList<TopicPartition>, CancellationToken, ValueTask>? Lost { get; set; }

    public (long HandOuts, bool Waiting) Progress => (Volatile.Read(ref HandOuts), _waiting);

    public void Subscribe(IReadOnlyList<string> topics)
    {
        Member.Subscribe(topics);
        if (_options.EnableAutoCommit && _autoCommit.IsCompleted) _autoCommit = Task.Run(AutoCommitLoopAsync);
    }

    // ---- hand-out ----

    /// <summary>Called when the application asks for records: a final group error surfaces here, and a member that left after a stall rejoins.</summary>
    public void BeforeTake()
    {
        if (_error is { } error) throw error;
        if (Member.Failure is { } failure) throw new KielException($"The consumer left group '{_groupId}' for good: {failure.Message}", failure);
        _waiting = true;
        Member.NotifyPolling();
    }

    /// <summary>
    /// Waits, holding the chunk, while the member may not hand out records (its session lapsed or it was fenced and has
    /// not rejoined). Returns false when the chunk went stale meanwhile (its partition was lost or revoked).
    /// </summary>
    public async ValueTask<bool> MayHandOutAsync(FetchedChunk chunk, CancellationToken cancellationToken)
    {
        var pause = TimeSpan.FromMilliseconds(Math.Clamp(_options.HeartbeatInterval.TotalMilliseconds / 4, 5, 100));
        while (!Member.MayHandOut)
        {
            if (!chunk.IsCurrent) return false;
            if (Member.Failure is not null) return false;
            await Task.Delay(pause, _time, cancellationToken).ConfigureAwait(false);
        }
        _waiting = false;
        return chunk.IsCurrent;
    }

    public void AfterTake() => _waiting = false;

    /// <summary>Cancelled when the group fails for good, so that a reader waiting for records hears of it.</summary>
    public CancellationToken FailureToken => _failed.Token;

    public void OnFailed(Exception error) => _failed.Cancel();

    // ---- the member's requests ----

    public async ValueTask OnAssignedAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken)
    {
        try
        {
            var committed = await FetchCommittedAsync(partitions, cancellationToken).ConfigureAwait(false);
            var missing = partitions.Where(tp => committed[tp] < 0).ToList();
            Dictionary<TopicPartition, long> reset = [];
            if (missing.Count > 0)
            {
                if (_options.AutoOffsetReset == OffsetResetPolicy.Error)
                    throw new KielException($"Group '{_groupId}' has no committed offset for {ClassicGroupMember.Describe(missing)} and AutoOffsetReset is Error; commit offsets for them or choose Earliest or Latest.");
                var start = _options.AutoOffsetReset == OffsetResetPolicy.Earliest ? StartPosition.Beginning : StartPosition.End;
                reset = await _engine.ResolveManyAsync(missing, start, cancellationToken).ConfigureAwait(false);
            }
            var generation = Member.Metadata.GenerationId;
            lock (_lastCommitted)
            {
                foreach (var tp in partitions)
                {
                    var (offset, source) = committed[tp] >= 0 ? (committed[tp], "committed") : (reset[tp], $"no committed offset, reset policy {_options.AutoOffsetReset}");
                    if (_refusedFinal.TryGetValue(tp, out var final) && final.Generation >= 0 && generation == final.Generation + 1 && final.Offset > committed[tp])
                    {
                        KafkaGroupLog.ResumedAfterRefusedCommit(_logger, _groupId, tp, final.Offset, final.Generation, committed[tp]);
                        (offset, source) = (final.Offset, $"this member's position when it gave the partition up in generation {final.Generation}; its final commit was refused");
                    }
                    KafkaGroupLog.StartPosition(_logger, _groupId, tp, offset, source);
                    if (committed[tp] >= 0) _lastCommitted[tp] = committed[tp];
                    else _lastCommitted.Remove(tp);
                    _engine.Assign(tp, offset);
                    _owned.Add(tp);
                }
                // Only the generation right after a refusal may resume from it; what was not given back is someone else's now.
                _refusedFinal.Clear();
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _error = e as KielException ?? new KielException($"Group '{_groupId}': could not start the assigned partitions {ClassicGroupMember.Describe(partitions)}: {e.Message}", e);
            _failed.Cancel();
            throw;
        }
        if (Assigned is { } handler) await handler(partitions, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask OnRevokedAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken)
    {
        // Stop handing the partitions out before the application hears of the revocation: it must not get records of a
        // partition it was told it gave up (it would process them after its final commit, and a later commit of them
        // would move the group's offset back under the partition's new owner).
        var positions = _engine.CommittablePositions(partitions);
        foreach (var tp in partitions) _engine.Unassign(tp);
        lock (_lastCommitted)
            foreach (var (tp, offset) in positions) _revoking[tp] = offset;
        try
        {
            if (Revoked is { } handler) await handler(partitions, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // The final commit, then the partitions leave the committable set, both under the commit lock: a commit
            // queued behind this one no longer sees them.
            await _commitLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                if (_options.EnableAutoCommit)
                {
                    var generation = Member.Metadata.GenerationId;
                    var pending = Pending(positions, always: false);
                    try
                    {
                        await SendCommitAsync(pending, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        KafkaGroupLog.CommitFailed(_logger, e, _groupId);
                        // Remembered for the classic protocol only, whose generations count rebalances one by one.
                        if (_options.GroupProtocol == GroupProtocol.Classic)
                            lock (_lastCommitted)
                                foreach (var (tp, offset) in pending) _refusedFinal[tp] = (offset, generation);
                    }
                }
            }
            finally
            {
                lock (_lastCommitted)
                    foreach (var tp in partitions)
                    {
                        _owned.Remove(tp);
                        _revoking.Remove(tp);
                        _lastCommitted.Remove(tp);
                    }
                _commitLock.Release();
            }
        }
    }

    public async ValueTask OnLostAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken)
    {
        foreach (var tp in partitions) _engine.Unassign(tp);
        lock (_lastCommitted)
        {
            // Lost: another member may own them already, so no position of this member's is trusted any more.
            _refusedFinal.Clear();
            foreach (var tp in partitions)
            {
                _owned.Remove(tp);
                _revoking.Remove(tp);
                _lastCommitted.Remove(tp);
            }
        }
        // As Confluent.Kafka: without a lost handler, the revoked handler hears of lost partitions.
        if ((Lost ?? Revoked) is { } handler) await handler(partitions, cancellationToken).ConfigureAwait(false);
    }

    // ---- commits ----

    /// <summary>Commits what the application moved past, for every partition this member owns (in a revoked handler,
    /// the partitions being revoked too, at the positions they stopped at).</summary>
    public Task CommitAsync(CancellationToken cancellationToken)
    {
        var positions = _engine.CommittablePositions(Member.Owned);
        lock (_lastCommitted)
            foreach (var (tp, offset) in _revoking) positions[tp] = offset;
        return CommitCoreAsync(positions, cancellationToken);
    }

    /// <summary>Commits the given offsets (the next offset to read, per partition); partitions this member does not own
    /// (any more) are left out and logged.</summary>
    public Task CommitAsync(IReadOnlyDictionary<TopicPartition, long> offsets, CancellationToken cancellationToken) =>
        CommitCoreAsync(offsets, cancellationToken, always: true);

    private async Task CommitCoreAsync(IReadOnlyDictionary<TopicPartition, long> offsets, CancellationToken cancellationToken, bool always = false)
    {
        if (offsets.Count == 0) return;
        await _commitLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Ownership is checked here, under the commit lock, not when the offsets were taken: a revocation that
            // completed meanwhile took its partitions out of the committable set.
            await SendCommitAsync(Pending(offsets, always), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _commitLock.Release();
        }
    }

    /// <summary>The offsets to send: owned partitions only, and (unless <paramref name="always"/>) only those that moved
    /// past what this member committed last. Call under the commit lock.</summary>
    private Dictionary<TopicPartition, long> Pending(IReadOnlyDictionary<TopicPartition, long> offsets, bool always)
    {
        Dictionary<TopicPartition, long> pending = [];
        List<TopicPartition>? notOwned = null;
        lock (_lastCommitted)
            foreach (var (tp, offset) in offsets)
            {
                if (!_owned.Contains(tp))
                    (notOwned ??= []).Add(tp);
                // What the application committed itself (CommitAsync(offsets)) is not moved back by the automatic commits.
                else if (always || !_lastCommitted.TryGetValue(tp, out var done) || offset > done)
                    pending[tp] = offset;
            }
        if (notOwned is not null) KafkaGroupLog.CommitNotOwned(_logger, _groupId, ClassicGroupMember.Describe(notOwned));
        return pending;
    }

    /// <summary>One OffsetCommit of <paramref name="pending"/> with the member's current generation. Call under the commit lock.</summary>
    private async Task SendCommitAsync(Dictionary<TopicPartition, long> pending, CancellationToken cancellationToken)
    {
        if (pending.Count == 0) return;
        var me = Member.Metadata;
        await _cluster.ExecuteOnCoordinatorAsync(CoordinatorType.Group, _groupId, async (connection, ct) =>
        {
            var version = connection.Versions.Choose(ApiKey.OffsetCommit, 0, 8);
            var request = OffsetCommits.Create(_groupId, pending, "", me);
            var response = await connection.SendAsync(request, version, ct).ConfigureAwait(false);
            foreach (var topic in response.Topics)
                foreach (var p in topic.Partitions)
                {
                    var tp = new TopicPartition(topic.Name, p.PartitionIndex);
                    if (p.ErrorCode == (short)ErrorCode.RebalanceInProgress) Member.OnCommitSawRebalance(me.GenerationId);
                    if (p.ErrorCode != 0)
                        _cluster.ThrowIfError(p.ErrorCode, $"OffsetCommit of {tp} for group '{_groupId}' (generation {me.GenerationId})");
                }
            return true;
        }, cancellationToken).ConfigureAwait(false);
        lock (_lastCommitted)
            foreach (var (tp, offset) in pending) _lastCommitted[tp] = offset;
    }

    /// <summary>The group's committed offset for each partition, -1 where there is none.</summary>
    public async Task<Dictionary<TopicPartition, long>> FetchCommittedAsync(IReadOnlyCollection<TopicPartition> partitions, CancellationToken cancellationToken)
    {
        var result = partitions.ToDictionary(tp => tp, _ => -1L);
        if (partitions.Count == 0) return result;
        return await _cluster.ExecuteOnCoordinatorAsync(CoordinatorType.Group, _groupId, async (connection, ct) =>
        {
            // v7 has RequireStable (KIP-447): a partition with a pending transactional commit answers UNSTABLE_OFFSET_COMMIT, retried.
            var version = connection.Versions.Choose(ApiKey.OffsetFetch, 1, 7);
            var request = new OffsetFetchRequest
            {
                GroupId = _groupId,
                RequireStable = version >= 7,
                Topics = [.. partitions.GroupBy(tp => tp.Topic, StringComparer.Ordinal).Select(g => new OffsetFetchRequest.OffsetFetchRequestTopic
                {
                    Name = g.Key,
                    PartitionIndexes = [.. g.Select(tp => tp.Partition).Order()],
                })],
            };
            var response = await connection.SendAsync(request, version, ct).ConfigureAwait(false);
            _cluster.ThrowIfError(response.ErrorCode, $"OffsetFetch for group '{_groupId}'");
            foreach (var topic in response.Topics)
                foreach (var p in topic.Partitions)
                {
                    var tp = new TopicPartition(topic.Name, p.PartitionIndex);
                    if (!result.ContainsKey(tp)) continue;
                    _cluster.ThrowIfError(p.ErrorCode, $"OffsetFetch of {tp} for group '{_groupId}'");
                    result[tp] = p.CommittedOffset;
                }
            return result;
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task AutoCommitLoopAsync()
    {
        var stop = _stop.Token;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.AutoCommitInterval, _time, stop).ConfigureAwait(false);
                if (Member.MayHandOut) await CommitAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                KafkaGroupLog.CommitFailed(_logger, e, _groupId);
            }
        }
    }

    /// <summary>Leaves the group: stops auto-commit, revokes (the final commit) and sends LeaveGroup within <paramref name="cancellationToken"/>.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _autoCommit.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        try
        {
            await Member.LeaveAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or KielException or IOException)
        {
            KafkaGroupLog.CommitFailed(_logger, e, _groupId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using (var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            await CloseAsync(bound.Token).ConfigureAwait(false);
        await Member.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
        _failed.Dispose();
    }
}
