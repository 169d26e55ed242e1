namespace Kiel.Consuming;

internal sealed partial class FetchEngine
{
    /// <summary>Earliest offset query value of ListOffsets.</summary>
    public const long EarliestTimestamp = -2;

    /// <summary>Latest offset query value of ListOffsets.</summary>
    public const long LatestTimestamp = -1;

    /// <summary>Turns a start position into an offset: ListOffsets for the log ends and for a time (in milliseconds).
    /// A time after the last record, or a broker without a time index, starts at the log end.</summary>
    public async ValueTask<long> ResolveAsync(TopicPartition topicPartition, StartPosition start, CancellationToken cancellationToken)
    {
        switch (start.Kind)
        {
            case StartPositionKind.Offset:
                return start.Offset;
            case StartPositionKind.Beginning:
                return await ListOneAsync(topicPartition, EarliestTimestamp, cancellationToken).ConfigureAwait(false);
            case StartPositionKind.End:
                return await ListOneAsync(topicPartition, LatestTimestamp, cancellationToken).ConfigureAwait(false);
            default:
                var ms = start.Timestamp(_time.GetUtcNow()).ToUnixTimeMilliseconds();
                var offset = await ListOneAsync(topicPartition, Math.Max(0, ms), cancellationToken).ConfigureAwait(false);
                if (offset >= 0) return offset;
                var end = await ListOneAsync(topicPartition, LatestTimestamp, cancellationToken).ConfigureAwait(false);
                ConsumerLog.TimestampNotFound(_logger, topicPartition, ms, end);
                return end;
        }
    }

    /// <summary>Resolves one start position for many partitions with one ListOffsets per leader (two for a time that
    /// some partitions have no record after).</summary>
    public async ValueTask<Dictionary<TopicPartition, long>> ResolveManyAsync(IReadOnlyList<TopicPartition> partitions, StartPosition start, CancellationToken cancellationToken)
    {
        var result = new Dictionary<TopicPartition, long>(partitions.Count);
        if (start.Kind == StartPositionKind.Offset)
        {
            foreach (var tp in partitions) result[tp] = start.Offset;
            return result;
        }
        var timestamp = start.Kind switch
        {
            StartPositionKind.Beginning => EarliestTimestamp,
            StartPositionKind.End => LatestTimestamp,
            _ => Math.Max(0, start.Timestamp(_time.GetUtcNow()).ToUnixTimeMilliseconds()),
        };
        var answers = await ListOffsetsAsync([.. partitions.Select(tp => new ListOffsetsQuery(tp, timestamp))], cancellationToken).ConfigureAwait(false);
        var missing = new List<ListOffsetsQuery>();
        foreach (var tp in partitions)
        {
            var offset = answers[tp].Offset;
            if (offset >= 0) result[tp] = offset;
            else missing.Add(new ListOffsetsQuery(tp, LatestTimestamp));
        }
        if (missing.Count > 0)
        {
            var ends = await ListOffsetsAsync(missing, cancellationToken).ConfigureAwait(false);
            foreach (var q in missing)
            {
                result[q.TopicPartition] = ends[q.TopicPartition].Offset;
                ConsumerLog.TimestampNotFound(_logger, q.TopicPartition, timestamp, ends[q.TopicPartition].Offset);
            }
        }
        return result;
    }

    private async ValueTask<long> ListOneAsync(TopicPartition topicPartition, long timestamp, CancellationToken cancellationToken)
    {
        var answers = await ListOffsetsAsync([new ListOffsetsQuery(topicPartition, timestamp)], cancellationToken).ConfigureAwait(false);
        return answers[topicPartition].Offset;
    }

    /// <summary>ListOffsets for many partitions, each sent to its leader; retriable errors are retried with fresh
    /// metadata until <see cref="KielClientOptions.RequestTimeout"/> has passed.</summary>
    public async ValueTask<Dictionary<TopicPartition, ListOffsetsAnswer>> ListOffsetsAsync(IReadOnlyList<ListOffsetsQuery> queries, CancellationToken cancellationToken)
    {
        var result = new Dictionary<TopicPartition, ListOffsetsAnswer>();
        var pending = new List<ListOffsetsQuery>(queries);
        var started = _time.GetTimestamp();
        var backoff = TimeSpan.FromMilliseconds(Math.Max(10, _options.RetryBackoff.TotalMilliseconds));
        var refresh = false;
        Exception? last = null;
        while (true)
        {
            var byLeader = new Dictionary<int, List<ListOffsetsQuery>>();
            var retry = new List<ListOffsetsQuery>();
            foreach (var group in pending.GroupBy(q => q.TopicPartition.Topic))
            {
                IReadOnlyList<PartitionLeader>? leaders = null;
                try
                {
                    leaders = await _backend.GetPartitionsAsync(group.Key, refresh, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    last = ex;
                }
                foreach (var query in group)
                {
                    var leader = leaders?.FirstOrDefault(l => l.Partition == query.TopicPartition.Partition);
                    if (leader is not { LeaderId: >= 0 } l)
                    {
                        retry.Add(query);
                        continue;
                    }
                    if (!byLeader.TryGetValue(l.LeaderId, out var list)) byLeader[l.LeaderId] = list = [];
                    list.Add(query with { CurrentLeaderEpoch = l.LeaderEpoch });
                }
            }
            foreach (var (broker, list) in byLeader)
            {
                IReadOnlyList<ListOffsetsAnswer> answers;
                try
                {
                    answers = await _backend.ListOffsetsAsync(broker, list, _options.IsolationLevel, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    last = ex;
                    retry.AddRange(list);
                    continue;
                }
                foreach (var query in list)
                {
                    var found = false;
                    foreach (var answer in answers)
                    {
                        if (answer.TopicPartition != query.TopicPartition) continue;
                        found = true;
                        if (answer.ErrorCode == (short)Kiel.ErrorCode.None) result[query.TopicPartition] = answer;
                        else if (Kiel.Cluster.ErrorClassification.IsRetriableListOffsets((Kiel.ErrorCode)answer.ErrorCode))
                        {
                            last = new KielException($"ListOffsets for {query.TopicPartition} failed with error {answer.ErrorCode}.");
                            retry.Add(query);
                        }
                        else throw new KielException($"ListOffsets for {query.TopicPartition} failed with error {answer.ErrorCode}.");
                        break;
                    }
                    if (!found) retry.Add(query);
                }
            }
            if (retry.Count == 0) return result;
            if (_time.GetElapsedTime(started) >= _options.RequestTimeout)
                throw new KielException($"ListOffsets for {string.Join(", ", retry.Select(q => q.TopicPartition))} did not succeed within {_options.RequestTimeout.TotalMilliseconds:0} ms.", last);
            await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromMilliseconds(Math.Min(1000, backoff.TotalMilliseconds * 2));
            pending = retry;
            refresh = true;
        }
    }

    /// <summary>The log start offset and high watermark of a partition.</summary>
    public async ValueTask<WatermarkOffsets> QueryWatermarksAsync(TopicPartition topicPartition, CancellationToken cancellationToken)
    {
        var low = await ListOneAsync(topicPartition, EarliestTimestamp, cancellationToken).ConfigureAwait(false);
        var high = await ListOneAsync(topicPartition, LatestTimestamp, cancellationToken).ConfigureAwait(false);
        return new WatermarkOffsets(low, high);
    }

    /// <summary>Applies the reset policy after OFFSET_OUT_OF_RANGE and logs it; retried until it succeeds or the partition moves on.</summary>
    private async Task ResetOffsetAsync(PartitionState state, int version, long badOffset)
    {
        var stop = _stop.Token;
        var policy = _options.AutoOffsetReset;
        if (policy == OffsetResetPolicy.Error)
        {
            ConsumerLog.OffsetOutOfRange(_logger, state.TopicPartition, badOffset);
            lock (_gate)
                if (state.Assigned && state.Version == version)
                    Enqueue(new FetchedChunk(state, version, new OffsetOutOfRangeException(state.TopicPartition, badOffset)));
            return;
        }
        var backoff = TimeSpan.FromMilliseconds(Math.Max(10, _options.RetryBackoff.TotalMilliseconds));
        while (!stop.IsCancellationRequested)
        {
            lock (_gate)
                if (!state.Assigned || state.Version != version) return;
            try
            {
                var offset = await ListOneAsync(state.TopicPartition, policy == OffsetResetPolicy.Earliest ? EarliestTimestamp : LatestTimestamp, stop).ConfigureAwait(false);
                lock (_gate)
                {
                    if (!state.Assigned || state.Version != version) return;
                    state.Reposition(offset);
                    state.Resetting = false;
                    WakeLocked(state);
                }
                ConsumerLog.OffsetReset(_logger, state.TopicPartition, badOffset, offset, policy);
                return;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                ConsumerLog.ResetFailed(_logger, state.TopicPartition, ex);
            }
            try
            {
                await Task.Delay(backoff, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromMilliseconds(Math.Min(1000, backoff.TotalMilliseconds * 2));
        }
    }
}
