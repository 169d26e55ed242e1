using Kiel.Cluster;
using Kiel.Groups;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel;

public partial class GroupedConsumer<TValue>
{
    private readonly string? _commitMetadata;

    /// <summary>
    /// Reads the group's committed offsets for this member's partitions of <paramref name="topic"/> with OffsetFetch
    /// and continues each partition there; a partition with nothing committed starts by the reset policy.
    /// COORDINATOR_LOAD_IN_PROGRESS is retried with backoff; NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and lost
    /// connections find the coordinator again; any other error throws (kiel retried forever, L1).
    /// </summary>
    /// <exception cref="NoOffsetsException">A non-retriable error, or a retriable one past the retry bound; it names the group, topic, partition and code.</exception>
    public async Task DetermineOffsetsAsync(string topic, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ThrowIfNotConnected();
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsClosing) return;
            var mine = _owned.Where(tp => tp.Topic == topic).ToList();
            // Kiel sent an empty OffsetFetch here and crashed on the empty answer (L8).
            if (mine.Count == 0) return;
            await SyncLockedAsync(GetReader().Engine, mine, null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Commits the next offset to read for every partition consumed since the last commit, as a simple commit
    /// (generation -1, empty member id) at the OffsetCommit version negotiated with the coordinator.
    /// OFFSET_METADATA_TOO_LARGE is retried once with empty metadata; retriable errors find the coordinator again and
    /// retry with backoff within a bound; anything else throws (kiel only logged it). When this member's claims are not
    /// known alive (after a pause or freeze, or with its ZooKeeper session out of touch) and cannot be confirmed,
    /// nothing is committed: the partitions may be another member's by now.
    /// </summary>
    /// <param name="metadata">Stored with each offset; null means <see cref="GroupedConsumerOptions.CommitMetadata"/> or kiel's <c>committed by &lt;Name&gt;</c>.</param>
    /// <param name="cancellationToken">Cancels the commit.</param>
    /// <exception cref="OffsetCommitException">The commit failed.</exception>
    public async Task CommitOffsetsAsync(string? metadata = null, CancellationToken cancellationToken = default)
    {
        ThrowIfNotConnected();
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var approval = CommitApproval;
            if (await MayCommitNowLockedAsync(cancellationToken).ConfigureAwait(false))
                await CommitPartitionsLockedAsync(_owned, metadata, approval, force: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>For tests: runs after a commit's waits and just before its last check and send, where a member frozen
    /// between approving a commit and sending it stands still.</summary>
    internal Func<CancellationToken, Task>? BeforeCommitSendForTests { get; set; }

    /// <summary>
    /// A commit whose lease went stale while it waited (its retries, a slow coordinator; no consume call confirms the
    /// lease meanwhile, they wait for the gate), with no gap in the member's progress since its approval: confirmed
    /// with ZooKeeper, then checked again. A gap (a freeze) is never confirmed away.
    /// </summary>
    private async Task<bool> ReconfirmForCommitAsync(int? approval, CancellationToken cancellationToken)
    {
        if (approval is not { } gaps || _paused || !_membership!.Lease.NoGapSince(gaps)) return false;
        return await _membership.VerifySessionAsync(TimeSpan.Zero, cancellationToken).ConfigureAwait(false) && CommitStillAllowed(approval);
    }

    private string DefaultMetadata => _commitMetadata ?? $"committed by {Name}";

    /// <summary>
    /// What a commit approved now is checked against just before it is sent (see <see cref="CommitStillAllowed"/>): the
    /// lease's gap count in a ZooKeeper group; null (nothing to check) in a Kafka group, whose coordinator refuses a
    /// commit of a generation that is gone, and in kiel-compatible mode.
    /// </summary>
    private int? CommitApproval => _kafka is null && !Options.KielCompatible && _membership is { } membership ? membership.Lease.Gaps : null;

    /// <summary>
    /// The check just before an OffsetCommit is sent, after every wait of the commit (the coordinator lookup, a retry's
    /// backoff): no gap in this member's progress since the commit was approved and the claims still known alive. A
    /// member frozen (or starved) between the approval and the send would otherwise write its old progress over the
    /// commits of the member that took its partitions meanwhile, and a later owner would read those records again.
    /// </summary>
    private bool CommitStillAllowed(int? approval) =>
        approval is not { } gaps || (!_paused && _membership!.Lease.NoGapSince(gaps) && _membership.Lease.IsFresh);

    /// <summary>
    /// The autocommit at the start of a consume call. With <see cref="GroupedConsumerOptions.ThrowOnTransientErrors"/>
    /// on it is a full commit (with its retries) whose failure escapes. Off (kiel's contract) it is bounded, so that the
    /// call returns within its wait time during an outage: one attempt (one coordinator lookup, one OffsetCommit) within
    /// <see cref="KielClientOptions.RequestTimeout"/>. Transient trouble is logged and counted; what was not committed
    /// stays pending (<c>_progress</c> ahead of <c>_committed</c>) and the next call commits it. Nothing is dropped.
    /// </summary>
    private async Task AutocommitInCallLockedAsync(int? approval, CancellationToken cancellationToken)
    {
        if (Options.ThrowOnTransientErrors)
        {
            await CommitPartitionsLockedAsync(_owned, null, approval, force: false, cancellationToken).ConfigureAwait(false);
            return;
        }
        using var limit = new CancellationTokenSource(Options.RequestTimeout, Options.TimeProvider);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            await CommitPartitionsLockedAsync(_owned, null, approval, force: false, deadline.Token, maxAttempts: 1).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTransient(e, cancellationToken))
        {
            NoteTransientError("(autocommit)", e);
        }
    }

    /// <summary>
    /// Commits this member's progress in <paramref name="partitions"/>: the ones that moved since their last commit, or
    /// with <paramref name="force"/> every one with a position. A member hands partitions over with a forced commit:
    /// a commit written late by a member that was frozen past its session (sent after its thaw) may have replaced this
    /// member's newer one, and the next owner starts where the group's commit says. (A ZooKeeper group only: a Kafka
    /// group's coordinator refuses the late commit of a generation that is gone.)
    /// </summary>
    private async Task CommitPartitionsLockedAsync(IEnumerable<TopicPartition> partitions, string? metadata, int? approval, bool force, CancellationToken cancellationToken, int maxAttempts = 0)
    {
        var pending = new Dictionary<TopicPartition, long>();
        foreach (var tp in partitions)
            if (_synced.Contains(tp) && _progress.TryGetValue(tp, out var next) && (force || !_committed.TryGetValue(tp, out var done) || done != next))
                pending[tp] = next;
        if (pending.Count == 0) return;
        var committed = Options.WritesZooKeeperOffsets ? new Dictionary<TopicPartition, long>(pending) : null;
        if (!await CommitCoreAsync(pending, metadata ?? DefaultMetadata, maxAttempts > 0 ? maxAttempts : Options.MaxRetries + 1, approval, cancellationToken).ConfigureAwait(false))
            return;
        if (committed is not null) await WriteZooKeeperOffsetsAsync(committed, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends the commit, retrying within <paramref name="maxAttempts"/>; false when it was not sent because
    /// <see cref="CommitStillAllowed"/> said no before an attempt (nothing of it is recorded as committed).</summary>
    private async Task<bool> CommitCoreAsync(Dictionary<TopicPartition, long> pending, string metadata, int maxAttempts, int? approval, CancellationToken cancellationToken)
    {
        var cluster = _cluster!;
        var blanked = false;
        var backoff = Options.RetryBackoff;
        for (var attempt = 1; ; attempt++)
        {
            short failure = 0;
            var failed = pending.Keys.First();
            Exception? lost = null;
            try
            {
                // One lookup per attempt: this loop is the retry loop (budgets do not multiply).
                var connection = await cluster.GetCoordinatorConnectionOnceAsync(CoordinatorType.Group, Options.Group, cancellationToken).ConfigureAwait(false);
                var version = connection.Versions.Choose(Protocol.ApiKey.OffsetCommit);
                // In a Kafka group the commit carries the member id and generation, so the coordinator refuses it
                // once the generation is gone; kiel's ZooKeeper groups commit for the group as a whole.
                var request = OffsetCommits.Create(Options.Group, pending, metadata, _kafka?.Member.Metadata);
                if (BeforeCommitSendForTests is { } pause) await pause(cancellationToken).ConfigureAwait(false);
                // The last moment before the bytes go out: every wait of this commit is behind us.
                if (!CommitStillAllowed(approval) && !await ReconfirmForCommitAsync(approval, cancellationToken).ConfigureAwait(false))
                {
                    GroupLog.CommitSkipped(_log, Options.Group, Name);
                    return false;
                }
                var response = await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
                foreach (var topic in response.Topics)
                    foreach (var p in topic.Partitions)
                    {
                        var tp = new TopicPartition(topic.Name, p.PartitionIndex);
                        if (!pending.TryGetValue(tp, out var offset)) continue;
                        if (p.ErrorCode == 0)
                        {
                            _committed[tp] = offset;
                            pending.Remove(tp);
                        }
                        else if (failure == 0 || !IsRetriableCode(p.ErrorCode))
                        {
                            failure = p.ErrorCode;
                            failed = tp;
                        }
                    }
                // Partitions missing from the answer (failure stays 0) are simply tried again.
                if (pending.Count == 0) return true;
            }
            catch (Exception e) when (KafkaCluster.IsRetriable(e) && !cancellationToken.IsCancellationRequested)
            {
                lost = e;
                failure = (short?)ErrorClassification.GetErrorCode(e) ?? 0;
            }

            if (failure == (short)ErrorCode.OffsetMetadataTooLarge && lost is null)
            {
                if (blanked) throw new OffsetCommitException(Options.Group, failed.Topic, failed.Partition, failure, retriesExhausted: false);
                GroupLog.MetadataTooLarge(_log, Options.Group);
                metadata = "";
                blanked = true;
                attempt--;
                continue;
            }
            if (failure != 0 && !IsRetriableCode(failure))
                throw new OffsetCommitException(Options.Group, failed.Topic, failed.Partition, failure, retriesExhausted: false, lost);
            // Logged and the coordinator forgotten on the last attempt too, so the next commit looks it up afresh.
            AfterRetriableFailure("OffsetCommit", failure, lost, attempt);
            if (attempt >= maxAttempts)
                throw new OffsetCommitException(Options.Group, failed.Topic, failed.Partition, failure, retriesExhausted: true, lost);
            await Task.Delay(backoff, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
            backoff = Next(backoff);
        }
    }

    /// <summary>The committed offset per partition, -1 where the group has none.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="partitions">This member's partitions of it.</param>
    /// <param name="cancellationToken">Cancels, or bounds, the reads.</param>
    /// <param name="maxAttempts">0: the full retry sequence (<see cref="GroupedConsumerOptions.MaxRetries"/> retries).</param>
    private async Task<Dictionary<TopicPartition, long>> FetchCommittedAsync(string topic, List<TopicPartition> partitions, CancellationToken cancellationToken, int maxAttempts = 0)
    {
        if (maxAttempts <= 0) maxAttempts = Options.MaxRetries + 1;
        var cluster = _cluster!;
        var pending = partitions.ToHashSet();
        var result = new Dictionary<TopicPartition, long>();
        var backoff = Options.RetryBackoff;
        for (var attempt = 1; ; attempt++)
        {
            short failure = 0;
            var failed = pending.First();
            Exception? lost = null;
            try
            {
                var connection = await cluster.GetCoordinatorConnectionOnceAsync(CoordinatorType.Group, Options.Group, cancellationToken).ConfigureAwait(false);
                var version = connection.Versions.Choose(Protocol.ApiKey.OffsetFetch, 0, 7);
                var request = new OffsetFetchRequest
                {
                    GroupId = Options.Group,
                    Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = topic, PartitionIndexes = pending.Select(tp => tp.Partition).Order().ToList() }],
                };
                var response = await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
                if (response.ErrorCode != 0)
                {
                    failure = response.ErrorCode;
                }
                else
                {
                    foreach (var t in response.Topics)
                        foreach (var p in t.Partitions)
                        {
                            var tp = new TopicPartition(t.Name, p.PartitionIndex);
                            if (!pending.Contains(tp)) continue;
                            if (p.ErrorCode == 0 || (version == 0 && p.ErrorCode == (short)ErrorCode.UnknownTopicOrPartition))
                            {
                                // v0 reads ZooKeeper-stored offsets, where "nothing committed" is UNKNOWN_TOPIC_OR_PARTITION
                                // (kiel retried that forever, L1); from v1 it is offset -1 with no error.
                                result[tp] = p.ErrorCode == 0 ? p.CommittedOffset : -1;
                                pending.Remove(tp);
                            }
                            else if (failure == 0 || !IsRetriableCode(p.ErrorCode))
                            {
                                failure = p.ErrorCode;
                                failed = tp;
                            }
                        }
                    // A partition the answer leaves out has nothing committed.
                    if (failure == 0)
                    {
                        foreach (var tp in pending) result[tp] = -1;
                        pending.Clear();
                    }
                }
                if (pending.Count == 0) return result;
            }
            catch (Exception e) when (KafkaCluster.IsRetriable(e) && !cancellationToken.IsCancellationRequested)
            {
                lost = e;
                failure = (short?)ErrorClassification.GetErrorCode(e) ?? 0;
            }

            if (failure != 0 && !IsRetriableCode(failure))
                throw new NoOffsetsException(Options.Group, failed.Topic, failed.Partition, failure);
            AfterRetriableFailure("OffsetFetch", failure, lost, attempt);
            if (attempt >= maxAttempts)
                throw new NoOffsetsException(Options.Group, failed.Topic, failed.Partition, failure,
                    $"still failing after {attempt} attempt(s)" + (lost is null ? "" : $" ({lost.Message})"), lost);
            await Task.Delay(backoff, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
            backoff = Next(backoff);
        }
    }

    private void AfterRetriableFailure(string api, short failure, Exception? lost, int attempt)
    {
        GroupLog.RetriableError(_log, Options.Group, api, failure, attempt);
        // Any retriable failure may mean the coordinator moved, is not there yet, or its connection broke: look it up
        // again (kiel never did, L7). COORDINATOR_LOAD_IN_PROGRESS is the coordinator itself asking for patience.
        if (ErrorClassification.RediscoverCoordinatorAfter((ErrorCode)failure))
            _cluster!.ForgetCoordinator(CoordinatorType.Group, Options.Group, lost?.Message ?? ((ErrorCode)failure).Name());
        if (lost is not null) _cluster!.ReportError(lost);
    }

    private static bool IsRetriableCode(short code) => ErrorClassification.IsRetriableGroupOffsets((ErrorCode)code);

    private static TimeSpan Next(TimeSpan backoff) => TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));

    /// <summary>
    /// Finds the group's coordinator afresh: each known broker is asked with FindCoordinator in turn until one answers.
    /// A retriable error refreshes metadata, backs off and goes on; any other error throws (kiel left the coordinator
    /// unset, L7). Later requests run this again on NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or a lost connection.
    /// </summary>
    /// <exception cref="KafkaException">A broker answered with a non-retriable error.</exception>
    /// <exception cref="NoBrokersException">No broker answered within the retry bound.</exception>
    public async Task DetermineCoordinatorAsync(CancellationToken cancellationToken = default)
    {
        var cluster = _cluster ?? throw new InvalidOperationException("Call ConnectAsync first.");
        cluster.ForgetCoordinator(CoordinatorType.Group, Options.Group, "coordinator determined afresh");
        BrokerEndpoint coordinator = await cluster.FindCoordinatorAsync(CoordinatorType.Group, Options.Group, cancellationToken).ConfigureAwait(false);
        GroupLog.Coordinator(_log, Options.Group, coordinator.NodeId);
    }
}
