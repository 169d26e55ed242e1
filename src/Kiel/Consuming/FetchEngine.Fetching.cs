using Kiel.Cluster;
using Kiel.Protocol;
using Kiel.Protocol.Records;
using Microsoft.Extensions.Logging;

namespace Kiel.Consuming;

internal sealed partial class FetchEngine
{
    private BrokerFetchSource SourceLocked(int brokerId, int lane)
    {
        if (!_sources.TryGetValue((brokerId, lane), out var source))
        {
            source = new BrokerFetchSource(this, brokerId, lane, _stop.Token);
            _sources[(brokerId, lane)] = source;
        }
        return source;
    }

    /// <summary>Chooses what <paramref name="source"/> fetches next; false when it has nothing to fetch.</summary>
    internal bool BuildFetch(BrokerFetchSource source, FetchRequestView request, Dictionary<TopicPartition, BrokerFetchSource.SentPartition> sent)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            sent.Clear();
            if (BufferFull) return false;
            // Kiel's split shares a leader's bytes among all its fetchable partitions, whichever lane fetches them.
            var leaderPartitions = 0;
            foreach (var state in _partitions.Values)
            {
                if (state.LeaderId != source.BrokerId || state.Paused || state.Resetting) continue;
                leaderPartitions++;
                if (state.Lane != source.Lane || state.InFlight) continue;
                if (state.DeferredBy is { } owner && owner != source) continue;
                state.InFlight = true;
                sent[state.TopicPartition] = new(state, state.Version, state.FetchPosition);
                FaultForTests?.Invoke(FaultPoint.Build);
            }
            if (sent.Count == 0) return false;
            source.FillRequest(request, sent, leaderPartitions);
            return true;
        }
    }

    private static void ClearInFlight(Dictionary<TopicPartition, BrokerFetchSource.SentPartition> sent)
    {
        foreach (var entry in sent.Values) entry.State.InFlight = false;
    }

    /// <summary>A Fetch failed as a whole (connection lost, timeout): the broker's partitions look for their leader again.</summary>
    internal void FetchFailed(BrokerFetchSource source, Dictionary<TopicPartition, BrokerFetchSource.SentPartition> sent, Exception? exception)
    {
        if (exception is not null) ConsumerLog.FetchFailed(_logger, source.BrokerId, exception);
        lock (_gate)
        {
            ClearInFlight(sent);
            if (exception is null) return;
            foreach (var entry in sent.Values)
                if (entry.State.Assigned && entry.State.LeaderId == source.BrokerId)
                    LoseLeaderLocked(entry.State);
        }
    }

    /// <summary>
    /// Records of one partition answer whose framing was walked (so the fetch position has moved past them and the
    /// next Fetch can go out) but whose checksums are still to be checked by <see cref="CompleteDeferred"/>. Their
    /// bytes already count against the prefetch bound, and they hold a share of the answer's buffer.
    /// </summary>
    internal readonly record struct DeferredChunk(PartitionState State, int Version, FetchLease Lease, ReadOnlyMemory<byte> Data,
        long FetchOffset, long NextOffset, IReadOnlyList<AbortedTransaction>? Aborted);

    /// <summary>
    /// Cuts a response into chunks and acts on partition errors. False asks the source to back off. With
    /// <paramref name="deferred"/> and <see cref="KielConsumerOptions.CheckCrcs"/> on, the records are only walked
    /// here; their checksums are checked, and the chunks handed out, by <see cref="CompleteDeferred"/>.
    /// </summary>
    internal bool HandleFetchResponse(BrokerFetchSource source, Dictionary<TopicPartition, BrokerFetchSource.SentPartition> sent, FetchResponseView response,
        List<DeferredChunk>? deferred = null)
    {
        if (!_options.CheckCrcs) deferred = null;
        var lease = new FetchLease(response);
        var healthy = true;
        try
        {
            lock (_gate)
            {
                ClearInFlight(sent);
                if (!source.OnResponseSession(source.Request, response))
                {
                    ConsumerLog.SessionReset(_logger, source.BrokerId, response.ErrorCode);
                    if (ErrorClassification.IsFetchSessionLost((ErrorCode)response.ErrorCode)) return true;
                    // Any other top-level error: the partitions say more (some brokers repeat it per partition).
                    ConsumerLog.FetchTopLevelError(_logger, source.BrokerId, response.ErrorCode);
                    healthy = false;
                }
                foreach (var partition in response.Partitions)
                {
                    if (!sent.TryGetValue(partition.TopicPartition, out var entry)) continue;
                    var state = entry.State;
                    if (!state.Assigned || state.Version != entry.Version || state.FetchPosition != entry.Offset || state.LeaderId != source.BrokerId)
                        continue;
                    if (partition.HighWatermark >= 0) state.HighWatermark = partition.HighWatermark;
                    if (partition.LogStartOffset >= 0) state.LogStartOffset = partition.LogStartOffset;
                    if (partition.LastStableOffset >= 0) state.LastStableOffset = partition.LastStableOffset;
                    switch (ErrorClassification.ForFetch((ErrorCode)partition.ErrorCode))
                    {
                        case FetchErrorAction.Deliver:
                            TakeRecordsLocked(source, state, entry, in partition, lease, deferred);
                            break;
                        case FetchErrorAction.ResetOffset:
                            state.Resetting = true;
                            _ = ResetOffsetAsync(state, state.Version, entry.Offset);
                            break;
                        case FetchErrorAction.Stop:
                            state.Resetting = true; // stays stopped until the application seeks
                            Enqueue(new FetchedChunk(state, state.Version,
                                new KielException($"Not authorized to read {state.TopicPartition} (TOPIC_AUTHORIZATION_FAILED).")));
                            break;
                        case FetchErrorAction.BackOff:
                            healthy = false;
                            break;
                        default:
                            ConsumerLog.PartitionError(_logger, state.TopicPartition, partition.ErrorCode, source.BrokerId, state.FetchPosition);
                            LoseLeaderLocked(state);
                            break;
                    }
                }
            }
            return healthy;
        }
        finally
        {
            lease.Release();
        }
    }

    private void TakeRecordsLocked(BrokerFetchSource source, PartitionState state, BrokerFetchSource.SentPartition entry, in FetchPartitionResponse partition,
        FetchLease lease, List<DeferredChunk>? deferred)
    {
        var records = partition.Records;
        if (records.IsEmpty)
        {
            // The broker holds records from here on but sent none: the first batch may be larger than the partition's
            // share of the answer budget, which a broker returns whole only as the first of an answer.
            var end = _options.IsolationLevel == IsolationLevel.ReadCommitted && partition.LastStableOffset >= 0
                ? partition.LastStableOffset : partition.HighWatermark;
            if (end > entry.Offset) state.FullShare = true;
            return;
        }
        var tp = state.TopicPartition;
        var scan = RecordSetScanner.Scan(records.Span, entry.Offset, _options.CheckCrcs && deferred is null, tp.Topic, tp.Partition);
        if (scan.Error is not null && deferred is not null)
        {
            // Damaged framing: check the batches before it now, so that a bad checksum among them is the one reported.
            deferred = null;
            scan = RecordSetScanner.Scan(records.Span, entry.Offset, _options.CheckCrcs, tp.Topic, tp.Partition);
        }
        var next = scan.NextOffset;
        var complete = scan.Entries;
        if (scan.Error is { } error)
        {
            // A corrupt batch (bad CRC or framing): hand out the good batches before it, then the error, and stop the
            // partition there (it stays stopped until the application seeks) rather than refetching it forever.
            if (complete > 0 && next > entry.Offset)
            {
                state.FetchPosition = next;
                lease.AddReference();
                Enqueue(NewChunk(state, lease, records[..scan.Bytes], entry.Offset, next, partition.AbortedTransactions));
            }
            state.Resetting = true;
            Enqueue(new FetchedChunk(state, state.Version, error));
            return;
        }
        if (complete == 0)
        {
            // Only part of one record came back: it is larger than the partition limit (old Fetch versions cut it).
            // Asked for less than its full size, the partition is asked for that first; then the size grows.
            if (!state.FullShare)
            {
                state.FullShare = true;
                return;
            }
            var raised = (int)Math.Min(int.MaxValue / 2, (long)state.MaxBytes * 2);
            if (raised > state.MaxBytes)
            {
                state.MaxBytes = raised;
                ConsumerLog.FetchSizeRaised(_logger, state.TopicPartition, entry.Offset, raised);
            }
            return;
        }
        if (next <= entry.Offset) return;
        state.FetchPosition = next;
        lease.AddReference();
        if (deferred is not null)
        {
            Interlocked.Add(ref _bufferedBytes, scan.Bytes);
            state.DeferredBy = source;
            deferred.Add(new DeferredChunk(state, state.Version, lease, records[..scan.Bytes], entry.Offset, next, partition.AbortedTransactions));
            return;
        }
        Enqueue(NewChunk(state, lease, records[..scan.Bytes], entry.Offset, next, partition.AbortedTransactions));
    }

    private FetchedChunk NewChunk(PartitionState state, FetchLease lease, ReadOnlyMemory<byte> data, long fetchOffset, long nextOffset,
        IReadOnlyList<AbortedTransaction>? aborted) =>
        (_chunkPool.TryRent(out var chunk) ? chunk : new FetchedChunk()).Open(state, state.Version, lease, data, fetchOffset, nextOffset, aborted,
            _options.IsolationLevel == IsolationLevel.ReadCommitted, _options.CheckCrcs, _options.MaxDecompressedBatchBytes);

    /// <summary>
    /// Checks the checksums of the records <see cref="HandleFetchResponse"/> deferred, outside the engine's lock and
    /// while the source's next Fetch is on the wire, then hands them out in the order they came. A corrupt batch ends
    /// its partition's chunk as without deferral: the good batches before it, then the error, and the partition stops
    /// at the bad batch (its fetch position moves back there, so whatever the next Fetch brings for it is dropped).
    /// Empties <paramref name="deferred"/>; never throws.
    /// </summary>
    internal void CompleteDeferred(BrokerFetchSource source, List<DeferredChunk> deferred)
    {
        var done = 0;
        try
        {
            for (; done < deferred.Count; done++)
            {
                var item = deferred[done];
                var tp = item.State.TopicPartition;
                FaultForTests?.Invoke(FaultPoint.HandOut);
                var scan = RecordSetScanner.Scan(item.Data.Span, item.FetchOffset, verifyCrc: true, tp.Topic, tp.Partition);
                lock (_gate) HandOutDeferredLocked(source, item, scan);
                // After the hand-out, so that the bound is not seen freed for bytes that are still buffered.
                ReleaseBytes(item.Data.Length);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Thrown out of here it would end the source's loop, with a Fetch possibly on the wire whose partitions
            // would then stay in flight for good.
            ConsumerLog.FetchLoopFault(_logger, source.BrokerId, "checking and handing out fetched records", ex);
        }
        finally
        {
            // Only an unexpected fault leaves items here: they are dropped, and their partitions fetched again.
            DropDeferred(source, deferred, done);
        }
    }

    /// <summary>Drops the deferred chunks from <paramref name="from"/> on (their partitions go back to where those
    /// chunks started, to be fetched again) and empties <paramref name="deferred"/>.</summary>
    internal void DropDeferred(BrokerFetchSource source, List<DeferredChunk> deferred, int from = 0)
    {
        for (var i = from; i < deferred.Count; i++)
        {
            var item = deferred[i];
            lock (_gate)
            {
                if (item.State.DeferredBy == source) item.State.DeferredBy = null;
                if (item.State.Version == item.Version && item.State.FetchPosition == item.NextOffset) item.State.FetchPosition = item.FetchOffset;
                WakeLocked(item.State);
            }
            item.Lease.Release();
            ReleaseBytes(item.Data.Length);
        }
        deferred.Clear();
    }

    /// <summary>Where <see cref="FaultForTests"/> is called.</summary>
    internal enum FaultPoint { Build, HandOut }

    /// <summary>For tests: called at each <see cref="FaultPoint"/>; what it throws stands for a fault the code there does not expect.</summary>
    internal Action<FaultPoint>? FaultForTests { get; set; }

    private void HandOutDeferredLocked(BrokerFetchSource source, DeferredChunk item, RecordSetScanner.Result scan)
    {
        var state = item.State;
        if (state.DeferredBy == source) state.DeferredBy = null;
        if (_disposed || !state.Assigned || state.Version != item.Version)
        {
            item.Lease.Release();
            return;
        }
        if (scan.Error is null)
        {
            Enqueue(NewChunk(state, item.Lease, item.Data, item.FetchOffset, item.NextOffset, item.Aborted));
            return;
        }
        if (scan.Entries > 0 && scan.NextOffset > item.FetchOffset)
            Enqueue(NewChunk(state, item.Lease, item.Data[..scan.Bytes], item.FetchOffset, scan.NextOffset, item.Aborted));
        else
            item.Lease.Release();
        state.FetchPosition = scan.NextOffset;
        state.Resetting = true;
        Enqueue(new FetchedChunk(state, state.Version, scan.Error));
    }
}
