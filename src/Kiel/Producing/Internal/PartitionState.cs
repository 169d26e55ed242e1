namespace Kiel.Producing.Internal;

/// <summary>
/// One partition's accumulator: the batch that is filling, the sealed batches waiting in order, and the
/// idempotence sequence. At most one batch is in flight per partition, so retries can never reorder records.
/// Lock on the instance.
/// </summary>
internal sealed class PartitionState(string topic, int partition)
{
    public string Topic { get; } = topic;
    public int Partition { get; } = partition;

    /// <summary>The batch that is filling, or null.</summary>
    public ProducerBatch? Open;

    /// <summary>Sealed batches in send order; a retried batch goes back to the front.</summary>
    public readonly List<ProducerBatch> Ready = [];

    /// <summary>The size of the last batch sealed (bytes of its records): the next batch starts at that capacity.</summary>
    public int LastBatchBytes;

    /// <summary>The batch in flight, or null.</summary>
    public ProducerBatch? InFlight;

    /// <summary>No send before this time (ms), after a retriable failure.</summary>
    public long RetryNotBeforeMs;

    /// <summary>The sequence of the next record to send under the current producer epoch.</summary>
    public int NextSequence;

    /// <summary>Set when the partition's sequence state under this identity came into doubt: it sends again only under another.</summary>
    public ProducerIdentity? AwaitsIdentityOtherThan;

    /// <summary>True when the engine holds anything for this partition.</summary>
    public bool IsIdle => Open is null && Ready.Count == 0 && InFlight is null;
}

/// <summary>A topic's layout and its partitions' accumulators.</summary>
internal sealed class TopicState(string topic)
{
    public string Topic { get; } = topic;
    public volatile TopicLayout? Layout;
    public volatile PartitionState[] Partitions = [];
    public volatile bool NeedsRefresh;
    /// <summary>Records that wait, in produce order, for the first layout. Guarded by the instance lock.</summary>
    public readonly List<PendingRecord> Pending = [];
    public volatile bool HasPending;
    public bool LookupRunning;
    public volatile bool Refreshing;
    public long LastRefreshMs;
    /// <summary>Takes a new layout: grows the partitions when the topic grew; publishes it unless told not to yet.</summary>
    public void Apply(TopicLayout layout, bool publish)
    {
        if (layout.ErrorCode == 0)
        {
            var current = Partitions;
            if (current.Length < layout.PartitionCount)
            {
                var grown = new PartitionState[layout.PartitionCount];
                current.CopyTo(grown, 0);
                for (var i = current.Length; i < grown.Length; i++) grown[i] = new PartitionState(Topic, i);
                Partitions = grown;
            }
        }
        if (publish) Layout = layout;
    }
}
