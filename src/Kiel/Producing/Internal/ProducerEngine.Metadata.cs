namespace Kiel.Producing.Internal;

internal sealed partial class ProducerEngine
{
    /// <summary>Starts the first metadata lookup of a topic. Called under the topic's lock.</summary>
    private void StartLayoutLookup(TopicState topic)
    {
        if (topic.LookupRunning) return;
        topic.LookupRunning = true;
        _ = Task.Run(() => LookupAsync(topic));
    }

    private async Task LookupAsync(TopicState topic)
    {
        var deadline = NowMs + (long)_options.MaxBlock.TotalMilliseconds;
        var refresh = false;
        var attempt = 0;
        TopicLayout? layout = null;
        ProduceException? error = null;
        while (true)
        {
            try
            {
                var l = await _transport.GetTopicAsync(topic.Topic, refresh, _stop.Token).ConfigureAwait(false);
                if (l.ErrorCode == 0 && l.PartitionCount > 0) { layout = l; break; }
                error = new ProduceException(
                    l.ErrorCode == (short)Kiel.ErrorCode.UnknownTopicOrPartition
                        ? $"Topic '{topic.Topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION) and the producer does not create topics; create it first."
                        : $"Metadata for topic '{topic.Topic}' gave {Kiel.Protocol.ErrorCodes.Info(l.ErrorCode).Name}.",
                    l.ErrorCode, retriable: Kiel.Cluster.ErrorClassification.IsRetriable((Kiel.ErrorCode)l.ErrorCode) && l.ErrorCode != (short)Kiel.ErrorCode.UnknownTopicOrPartition);
                // A fresh answer that the topic is unknown is final: fail now rather than wait for MaxBlock.
                if (l.ErrorCode == (short)Kiel.ErrorCode.UnknownTopicOrPartition && refresh) break;
            }
            catch (Exception ex) when (!_stop.IsCancellationRequested && !_failAll)
            {
                error = new ProduceException($"Metadata for topic '{topic.Topic}' could not be read: {ex.Message}", retriable: true, innerException: ex);
                ProducerLog.MetadataFailed(_log, topic.Topic, ex.Message);
            }
            catch (Exception)
            {
                // Closed: whatever the lookup ended with (a cancellation, or a cluster already disposed under it).
                error = ClosedBeforeMetadata(topic.Topic);
                break;
            }
            if (NowMs >= deadline || _failAll) break;
            refresh = true;
            var backoff = Math.Min(1000, (int)_options.RetryBackoff.TotalMilliseconds << Math.Min(attempt++, 4));
            try { await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(10, backoff)), _time, _stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }

        lock (topic)
        {
            if (layout is not null)
            {
                topic.Apply(layout, publish: false);
                // Drain in produce order before publishing the layout, so that later records queue behind these.
                foreach (var r in topic.Pending)
                    AppendKnown(topic, layout, r.Key, r.Key is null, r.Value, r.Value is null, r.Headers, r.Partition, r.Timestamp, r.Completion, r.Size);
                topic.Layout = layout;
                topic.LastRefreshMs = NowMs;
            }
            else
            {
                error ??= new ProduceException($"Metadata for topic '{topic.Topic}' did not arrive within MaxBlock ({_options.MaxBlock}).", retriable: true);
                foreach (var r in topic.Pending)
                    FailRecord(topic.Topic, r.Partition ?? -1, r.Timestamp, r.Completion, r.Size, error);
            }
            topic.Pending.Clear();
            topic.HasPending = false;
            topic.LookupRunning = false;
        }
        _wake.Set();
    }

    private ProduceException ClosedBeforeMetadata(string topic) => new(
        $"The producer was closed (disposed) before the metadata of topic '{topic}' arrived within the close timeout ({_options.CloseTimeout}); the record was not sent.");

    /// <summary>
    /// At close, once the flush has given up: fails at once every record still waiting for its topic's metadata, rather
    /// than leaving it to a lookup that may run until MaxBlock (a cluster whose metadata cannot be read).
    /// </summary>
    private void FailRecordsWaitingForMetadata()
    {
        foreach (var topic in Topics)
            lock (topic)
            {
                if (!topic.HasPending) continue;
                var error = ClosedBeforeMetadata(topic.Topic);
                foreach (var r in topic.Pending)
                    FailRecord(topic.Topic, r.Partition ?? -1, r.Timestamp, r.Completion, r.Size, error);
                topic.Pending.Clear();
                topic.HasPending = false;
            }
    }

    /// <summary>Refreshes a known topic's layout after a leader error. Called by the sender loop.</summary>
    private void StartRefresh(TopicState topic, long now)
    {
        if (topic.Refreshing || now - topic.LastRefreshMs < (long)_options.RetryBackoff.TotalMilliseconds) return;
        topic.Refreshing = true;
        topic.NeedsRefresh = false;
        topic.LastRefreshMs = now;
        _ = Task.Run(async () =>
        {
            try
            {
                var layout = await _transport.GetTopicAsync(topic.Topic, true, _stop.Token).ConfigureAwait(false);
                if (layout.ErrorCode == 0 && layout.PartitionCount > 0)
                    lock (topic) topic.Apply(layout, publish: true);
                else topic.NeedsRefresh = true;
            }
            catch (Exception ex)
            {
                topic.NeedsRefresh = true;
                if (!_stop.IsCancellationRequested) ProducerLog.MetadataFailed(_log, topic.Topic, ex.Message);
            }
            finally
            {
                topic.Refreshing = false;
                _wake.Set();
            }
        });
    }

    /// <summary>The topic's partition count, from the cached layout or a lookup; throws when the topic is unknown.</summary>
    public async ValueTask<int> GetPartitionCountAsync(string topic, CancellationToken cancellationToken)
    {
        if (GetTopic(topic).Layout is { } known) return known.PartitionCount;
        var layout = await _transport.GetTopicAsync(topic, false, cancellationToken).ConfigureAwait(false);
        if (layout.ErrorCode == (short)Kiel.ErrorCode.UnknownTopicOrPartition)
            layout = await _transport.GetTopicAsync(topic, true, cancellationToken).ConfigureAwait(false);
        if (layout.ErrorCode != 0 || layout.PartitionCount == 0)
            throw new ProduceException($"Topic '{topic}' cannot be produced to: {Kiel.Protocol.ErrorCodes.Info(layout.ErrorCode).Name}.", layout.ErrorCode);
        return layout.PartitionCount;
    }
}
