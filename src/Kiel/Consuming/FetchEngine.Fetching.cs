using Microsoft.Extensions.Logging;

namespace Kiel.Consuming;

internal sealed partial class FetchEngine
{
    // Broker error codes the engine acts on (Kafka protocol ErrorCode numbers).
    internal const short None = 0, OffsetOutOfRange = 1, CorruptMessage = 2, UnknownTopicOrPartition = 3, LeaderNotAvailable = 5,
        NotLeaderOrFollower = 6, RequestTimedOut = 7, ReplicaNotAvailable = 9, TopicAuthorizationFailed = 29, KafkaStorageError = 56,
        FetchSessionIdNotFound = 70, InvalidFetchSessionEpoch = 71, FencedLeaderEpoch = 74, UnknownLeaderEpoch = 75,
        OffsetNotAvailable = 78, UnknownTopicId = 100, InconsistentTopicId = 103;

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
                    if (response.ErrorCode is FetchSessionIdNotFound or InvalidFetchSessionEpoch) return true;
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
                    switch (partition.ErrorCode)
                    {
                        case None:
                            TakeRecordsLocked(state, entry, partition, lease, response.Version);
                            break;
                        case OffsetOutOfRange:
                            state.Resetting = true;
                            _ = ResetOffsetAsync(state, state.Version, entry.Offset);
                            break;
                        case TopicAuthorizationFailed:
                            state.Resetting = true; // stays stopped until the application seeks
                            Enqueue(new FetchedChunk(state, state.Version,
                                new KielException($"Not authorized to read {state.TopicPartition} (TOPIC_AUTHORIZATION_FAILED).")));
                            break;
                        case CorruptMessage or RequestTimedOut or UnknownLeaderEpoch:
                            // The leader is right but cannot answer now: try again after the backoff.
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

    private void TakeRecordsLocked(PartitionState state, BrokerFetchSource.SentPartition entry, FetchPartitionResponse partition, FetchLease lease, short version)
    {
        var records = partition.Records;
        if (records.IsEmpty) return;
        var next = entry.Offset;
        int complete;
        try
        {
            complete = LogScan.Scan(records.Span, ref next);
        }
        catch (Kiel.KafkaProtocolException ex)
        {
            // Corrupt framing: stop this partition and tell the application, rather than refetching it forever.
            state.Resetting = true;
            Enqueue(new FetchedChunk(state, state.Version, ex));
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
        Enqueue(new FetchedChunk(state, state.Version, lease, records, entry.Offset, next, partition.AbortedTransactions,
            _options.IsolationLevel == IsolationLevel.ReadCommitted));
    }
}
