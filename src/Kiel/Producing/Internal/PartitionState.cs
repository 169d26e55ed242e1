namespace Kiel.Producing.Internal;

/// <summary>
/// One partition's accumulator: the batch that is filling, the sealed batches waiting in order, the batches in
/// flight and the idempotence sequence. Without a producer id one batch at a time is in flight per partition, so a
/// retry can never reorder records. With one (idempotence, transactional or not), up to five are: the broker refuses
/// a batch whose sequence does not follow the last one it wrote, and a retried batch is sent alone, only once every
/// batch sent before it has come back. Lock on the instance.
/// </summary>
internal sealed class PartitionState(string topic, int partition)
{
    public string Topic { get; } = topic;
    public int Partition { get; } = partition;

    /// <summary>The batch that is filling, or null.</summary>
    public ProducerBatch? Open;

    /// <summary>Sealed batches in send order (see <see cref="ProducerBatch.SendsAfter"/>); a retried batch goes back in its place.</summary>
    public readonly List<ProducerBatch> Ready = [];

    /// <summary>How many batches were sealed: the next one's <see cref="ProducerBatch.Ordinal"/>.</summary>
    public long SealedBatches;

    /// <summary>The size of the last batch sealed (bytes of its records): the next batch starts at that capacity.</summary>
    public int LastBatchBytes;

    /// <summary>The batches in flight, oldest first.</summary>
    public readonly List<ProducerBatch> InFlight = [];

    /// <summary>No send before this time (ms), after a retriable failure.</summary>
    public long RetryNotBeforeMs;

    /// <summary>
    /// The sequence after the last record the broker acknowledged under the current producer epoch, as the sender has
    /// handled it. It lags behind a batch reported delivered where its answer was read until the sender handles that
    /// answer's outcome; <c>ProducerEngine.FollowsUnacknowledged</c> accounts for the lag.
    /// </summary>
    public int NextSequence;

    /// <summary>
    /// The sequence the next batch stamped under the current producer epoch takes: <see cref="NextSequence"/> plus the
    /// records of the batches stamped since, which are in flight or waiting for a retry.
    /// </summary>
    public int SendSequence;

    /// <summary>Set when the partition's sequence state under this identity came into doubt: it sends again only under another.</summary>
    public ProducerIdentity? AwaitsIdentityOtherThan;

    /// <summary>True when the engine holds anything for this partition.</summary>
    public bool IsIdle => Open is null && Ready.Count == 0 && InFlight.Count == 0;

    /// <summary>Puts a batch back among the waiting ones in its send order (a retry, or the halves of a split batch).</summary>
    public void RequeueLocked(ProducerBatch batch)
    {
        var at = 0;
        while (at < Ready.Count && !Ready[at].SendsAfter(batch)) at++;
        Ready.Insert(at, batch);
    }

    /// <summary>Adds <paramref name="count"/> records to a sequence, wrapping from int.MaxValue to 0 as Kafka does.</summary>
    public static int AddSequence(int sequence, int count)
    {
        var next = (long)sequence + count;
        return (int)(next > int.MaxValue ? next - int.MaxValue - 1 : next);
    }
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
