namespace Kiel.Consuming;

internal sealed partial class FetchEngine
{
    /// <summary>Finds leaders for partitions that have none (new, or after a leadership error or a failed broker).</summary>
    private async Task MetadataLoopAsync()
    {
        var stop = _stop.Token;
        var backoff = _options.RetryBackoff;
        var topics = new HashSet<string>();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await _metadataSignal.WaitAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            while (!stop.IsCancellationRequested)
            {
                topics.Clear();
                lock (_gate)
                    foreach (var state in _partitions.Values)
                        if (state.LeaderId < 0) topics.Add(state.TopicPartition.Topic);
                if (topics.Count == 0)
                {
                    backoff = _options.RetryBackoff;
                    break;
                }
                var missing = false;
                foreach (var topic in topics)
                {
                    IReadOnlyList<PartitionLeader>? leaders;
                    try
                    {
                        leaders = await _backend.GetPartitionsAsync(topic, refresh: true, stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception ex)
                    {
                        ConsumerLog.MetadataFailed(_logger, topic, ex);
                        missing = true;
                        continue;
                    }
                    missing |= !ApplyLeaders(topic, leaders);
                }
                if (!missing) continue;
                try
                {
                    await Task.Delay(backoff, _time, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                backoff = TimeSpan.FromMilliseconds(Math.Min(1000, Math.Max(1, backoff.TotalMilliseconds * 2)));
            }
        }
    }

    /// <summary>Gives leaderless partitions of <paramref name="topic"/> their leader; false when some still have none.</summary>
    private bool ApplyLeaders(string topic, IReadOnlyList<PartitionLeader>? leaders)
    {
        var complete = true;
        lock (_gate)
        {
            if (_disposed) return true;
            foreach (var state in _partitions.Values)
            {
                if (state.LeaderId >= 0 || state.TopicPartition.Topic != topic) continue;
                PartitionLeader? found = null;
                if (leaders is not null)
                    foreach (var leader in leaders)
                        if (leader.Partition == state.TopicPartition.Partition)
                        {
                            found = leader;
                            break;
                        }
                if (found is not { LeaderId: >= 0 } l)
                {
                    complete = false;
                    continue;
                }
                state.LeaderId = l.LeaderId;
                state.LeaderEpoch = l.LeaderEpoch;
                ConsumerLog.LeaderChanged(_logger, state.TopicPartition, l.LeaderId, l.LeaderEpoch);
                SourceLocked(l.LeaderId, state.Lane).Wake();
            }
        }
        return complete;
    }

    /// <summary>The partitions of <paramref name="topic"/>, waiting up to <see cref="KielConsumerOptions.TopicMetadataTimeout"/>
    /// for a topic that is not in the metadata yet (kiel silently read nothing forever: L32).</summary>
    /// <exception cref="UnknownTopicException">The topic did not appear in time.</exception>
    public async ValueTask<IReadOnlyList<PartitionLeader>> GetTopicPartitionsAsync(string topic, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var backoff = TimeSpan.FromMilliseconds(Math.Max(10, _options.RetryBackoff.TotalMilliseconds));
        var refresh = false;
        Exception? last = null;
        while (true)
        {
            IReadOnlyList<PartitionLeader>? partitions = null;
            try
            {
                partitions = await _backend.GetPartitionsAsync(topic, refresh, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                last = ex;
                ConsumerLog.MetadataFailed(_logger, topic, ex);
            }
            if (partitions is { Count: > 0 }) return partitions;
            var elapsed = _time.GetElapsedTime(started);
            if (elapsed >= _options.TopicMetadataTimeout) throw new UnknownTopicException(topic, elapsed, last);
            var wait = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds, (_options.TopicMetadataTimeout - elapsed).TotalMilliseconds + 1));
            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromMilliseconds(Math.Min(1000, backoff.TotalMilliseconds * 2));
            refresh = true;
        }
    }
}
