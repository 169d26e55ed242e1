using Kiel.Cluster;
using Kiel.Protocol;
using Microsoft.Extensions.Logging;

namespace Kiel.Consuming;

internal sealed partial class FetchEngine
{
    private BrokerFetchSource SourceLocked(int brokerId)
    {
        if (!_sources.TryGetValue(brokerId, out var source))
        {
            source = new BrokerFetchSource(this, brokerId, _stop.Token);
            _sources[brokerId] = source;
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
            foreach (var state in _partitions.Values)
            {
                if (state.LeaderId != source.BrokerId || state.Paused || state.Resetting || state.InFlight) continue;
                state.InFlight = true;
                sent[state.TopicPartition] = new(state, state.Version, state.FetchPosition);
            }
            if (sent.Count == 0) return false;
            source.FillRequest(request, sent);
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

    /// <summary>Cuts a response into chunks and acts on partition errors. False asks the source to back off.</summary>
    internal bool HandleFetchResponse(BrokerFetchSource source, Dictionary<TopicPartition, BrokerFetchSource.SentPartition> sent, FetchResponseView response)
    {
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
                            TakeRecordsLocked(state, entry, in partition, lease, response.Version);
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

    private void TakeRecordsLocked(PartitionState state, BrokerFetchSource.SentPartition entry, in FetchPartitionResponse partition, FetchLease lease, short version)
    {
        var records = partition.Records;
        if (records.IsEmpty) return;
        var tp = state.TopicPartition;
        var scan = Kiel.Protocol.Records.RecordSetScanner.Scan(records.Span, entry.Offset, _options.CheckCrcs, tp.Topic, tp.Partition);
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
                Enqueue(new FetchedChunk(state, state.Version, lease, records[..scan.Bytes], entry.Offset, next, partition.AbortedTransactions,
                    _options.IsolationLevel == IsolationLevel.ReadCommitted, _options.CheckCrcs, _options.MaxDecompressedBatchBytes));
            }
            state.Resetting = true;
            Enqueue(new FetchedChunk(state, state.Version, error));
            return;
        }
        if (complete == 0)
        {
            // Only part of one record came back: it is larger than the partition limit (old Fetch versions cut it).
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
        Enqueue(new FetchedChunk(state, state.Version, lease, records[..scan.Bytes], entry.Offset, next, partition.AbortedTransactions,
            _options.IsolationLevel == IsolationLevel.ReadCommitted, _options.CheckCrcs, _options.MaxDecompressedBatchBytes));
    }
}
