using Kiel.Cluster;
using Kiel.Groups;

namespace Kiel;

public partial class GroupedConsumer<TValue>
{
    private readonly SemaphoreSlim _refreshNow = new(0, 1);
    private long _lastWantedRefresh;
    private Task? _windDown;
    private readonly object _windDownGate = new();

    /// <summary>
    /// Leaves the group, bounded by <see cref="GroupedConsumerOptions.WindDownTimeout"/>: stops fetching, commits pending
    /// progress when autocommit is on (kiel did not, L14), leaves the party, and closes the ZooKeeper session.
    /// Calling it again waits for the first call.
    /// </summary>
    /// <exception cref="OffsetCommitException">The final commit could not be made; the member left all the same, and
    /// the progress since the last commit will be read again by the next owner.</exception>
    public Task WindDownAsync(CancellationToken cancellationToken = default)
    {
        lock (_windDownGate) _windDown ??= WindDownCoreAsync();
        return _windDown.WaitAsync(cancellationToken);
    }

    private async Task WindDownCoreAsync()
    {
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? commitFailure = null;
        var previous = Interlocked.Exchange(ref _state, 3);
        using var bound = new CancellationTokenSource(Options.WindDownTimeout, Options.TimeProvider);
        _lifetime.Cancel();
        try
        {
            if (previous == 2)
            {
                var gated = false;
                try
                {
                    await _gate.WaitAsync(bound.Token).ConfigureAwait(false);
                    gated = true;
                    // 1. Stop fetching: what was fetched but not handed out is dropped and will be read by the next owner.
                    await StopReadersAsync().ConfigureAwait(false);
                    // 2. Commit what was handed out.
                    if (Options.Autocommit) await CommitHandOverLockedAsync(_owned, bound.Token).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    GroupLog.WindDownFailed(_log, e, Name);
                    // The member still leaves; the caller learns that its last progress is not committed.
                    if (e is OffsetCommitException) commitFailure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
                }
                finally
                {
                    if (gated) _gate.Release();
                }
                // 3. Leave the party; claims go with it. (A Kafka group: give the partitions up and send LeaveGroup.)
                if (_kafka is not null)
                {
                    try { await _kafka.LeaveAsync(bound.Token).ConfigureAwait(false); }
                    catch (Exception e) { GroupLog.WindDownFailed(_log, e, Name); }
                }
                if (_membership is not null)
                {
                    try { await _membership.LeaveAsync(commit: false, bound.Token).ConfigureAwait(false); }
                    catch (Exception e) { GroupLog.WindDownFailed(_log, e, Name); }
                }
            }
        }
        finally
        {
            // 4. Close the ZooKeeper session, then the broker connections.
            await CloseResourcesAsync().ConfigureAwait(false);
            Volatile.Write(ref _state, 4);
        }
        commitFailure?.Throw();
    }

    private async Task StopReadersAsync()
    {
        if (_reader is not { } reader) return;
        _reader = null;
        try
        {
            DropParked(reader.Engine, null);
            await reader.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) { GroupLog.WindDownFailed(_log, e, Name); }
    }

    private async Task CloseResourcesAsync()
    {
        _lifetime.Cancel();
        if (_metadataLoop is not null) await _metadataLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_membership is not null) await _membership.DisposeAsync().ConfigureAwait(false);
        if (_kafka is not null) await _kafka.DisposeAsync().ConfigureAwait(false);
        await CloseZooKeeperOffsetsAsync().ConfigureAwait(false);
        if (_store is not null)
        {
            try { await _store.DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) { GroupLog.WindDownFailed(_log, e, Name); }
        }
        if (_reader is not null && await _gate.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false))
        {
            try { await StopReadersAsync().ConfigureAwait(false); }
            finally { _gate.Release(); }
        }
        if (_cluster is not null) await _cluster.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Winds down (see <see cref="WindDownAsync"/>), bounded in time.</summary>
    public async ValueTask DisposeAsync()
    {
        try { await WindDownAsync(CancellationToken.None).ConfigureAwait(false); }
        catch (Exception e) { GroupLog.WindDownFailed(_log, e, Name); }
        GC.SuppressFinalize(this);
    }

    // A topic with no partitions of ours may be one the shared set lacks (created after every member connected,
    // kiel's L12): look at the metadata soon, at most every few seconds.
    private void NoteTopicWanted(string topic)
    {
        var now = Options.TimeProvider.GetTimestamp();
        var last = Interlocked.Read(ref _lastWantedRefresh);
        if ((last != 0 && Options.TimeProvider.GetElapsedTime(last, now) < TimeSpan.FromSeconds(5))
            || Interlocked.CompareExchange(ref _lastWantedRefresh, now, last) != last) return;
        if (_refreshNow.CurrentCount == 0)
        {
            try { _refreshNow.Release(); }
            catch (SemaphoreFullException) { }
        }
    }

    private async Task MetadataLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // Until a topic is wanted or the refresh interval passes on the options' clock.
                using (var interval = new CancellationTokenSource(Options.MetadataMaxAge, Options.TimeProvider))
                using (var wake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, interval.Token))
                {
                    try { await _refreshNow.WaitAsync(wake.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { }
                }
                var metadata = await _cluster!.RefreshMetadataAsync(null, cancellationToken).ConfigureAwait(false);
                if (_kafka is { } kafka)
                {
                    ResubscribeKafka(kafka, metadata);
                    continue;
                }
                await AddNewPartitionsAsync(metadata, cancellationToken).ConfigureAwait(false);
                await RemoveDeletedPartitionsAsync(metadata, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                GroupLog.RebalanceFailed(_log, e, Name);
            }
        }
    }

    // Partitions the last refresh found deleted; removed only when the next refresh agrees, so one odd answer removes nothing.
    private HashSet<string> _deletedOnce = [];

    /// <summary>
    /// Removes from the shared set the partitions whose topic the metadata no longer has (absent, or UNKNOWN_TOPIC_OR_PARTITION)
    /// or whose topic has fewer partitions now, when two refreshes in a row say so (L12). Every member's watch then
    /// rebalances without them: their owners stop fetching them and drop their claims.
    /// </summary>
    internal async Task RemoveDeletedPartitionsAsync(MetadataSnapshot metadata, CancellationToken cancellationToken)
    {
        var deleted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in await _store!.GetPartitionsAsync(cancellationToken).ConfigureAwait(false))
        {
            TopicPartition tp;
            try { tp = TopicPartition.Parse(entry); }
            catch (FormatException) { continue; }
            if (!metadata.TryGetTopic(tp.Topic, out var topic))
                deleted.Add(entry);
            else if (topic.ErrorCode == (short)ErrorCode.UnknownTopicOrPartition)
                deleted.Add(entry);
            else if (topic.ErrorCode == 0 && topic.Partitions.Count > 0 && !topic.Partitions.Any(p => p.Partition == tp.Partition))
                deleted.Add(entry);
        }
        var confirmed = deleted.Where(_deletedOnce.Contains).ToList();
        _deletedOnce = deleted;
        if (confirmed.Count == 0) return;
        GroupLog.PartitionsDeleted(_log, Options.Group, confirmed.Count, string.Join(", ", confirmed.Order(StringComparer.Ordinal)));
        await _membership!.RemovePartitionsAsync(confirmed, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds partitions that the metadata knows and the shared set lacks (a topic gained partitions, or is new).</summary>
    internal async Task AddNewPartitionsAsync(MetadataSnapshot metadata, CancellationToken cancellationToken)
    {
        var known = (await _store!.GetPartitionsAsync(cancellationToken).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
        var missing = AllKnownPartitions(metadata).Where(p => !known.Contains(p)).ToList();
        if (missing.Count > 0) await _membership!.AddPartitionsAsync(missing, cancellationToken).ConfigureAwait(false);
    }
}
