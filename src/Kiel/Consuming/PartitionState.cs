namespace Kiel.Consuming;

/// <summary>
/// The engine's view of one assigned partition. Mutated under the engine's lock, except
/// <see cref="ConsumedPosition"/>, which the single reader of the partition's chunks advances.
/// <see cref="Version"/> changes on every seek, reset and unassign, so fetched data for an older version is dropped.
/// </summary>
internal sealed class PartitionState(TopicPartition topicPartition, long position, int maxBytes)
{
    public TopicPartition TopicPartition { get; } = topicPartition;

    /// <summary>The next offset to fetch.</summary>
    public long FetchPosition { get; set; } = position;

    /// <summary>The next offset to hand to the application.</summary>
    public long ConsumedPosition = position;

    /// <summary>The next offset after what the application moved past (asked for the next record or disposed the
    /// batch): what a group consumer commits. Written by the reader, read by commits.</summary>
    public long Committable = position;

    public int Version { get; set; }

    /// <summary>Which of its leader's fetch lanes fetches this partition (see <see cref="BrokerFetchSource"/>): the
    /// partitions of a topic alternate between them, from a lane that depends on the topic's name.</summary>
    public int Lane { get; } = LaneOf(topicPartition);

    internal static int LaneOf(TopicPartition topicPartition)
    {
        // FNV-1a of the name: the same lanes in every process (string.GetHashCode differs from run to run).
        var hash = 2166136261u;
        foreach (var c in topicPartition.Topic) hash = (hash ^ c) * 16777619u;
        return (int)((hash + (uint)topicPartition.Partition) % BrokerFetchSource.Lanes);
    }

    public bool Assigned { get; set; } = true;

    public bool Paused { get; set; }

    /// <summary>The leader to fetch from, or -1 while a metadata refresh is due.</summary>
    public int LeaderId { get; set; } = -1;

    public int LeaderEpoch { get; set; } = -1;

    /// <summary>Set while an offset reset (OFFSET_OUT_OF_RANGE) is being resolved; not fetched meanwhile.</summary>
    public bool Resetting { get; set; }

    /// <summary>Per-partition fetch size; doubled when an old Fetch version returns only part of a too-large record.</summary>
    public int MaxBytes { get; set; } = maxBytes;

    /// <summary>Set once an answer left this partition's records behind under its share of the answer budget (see
    /// <see cref="BrokerFetchSource"/>): from then on it is asked for its full <see cref="MaxBytes"/>.</summary>
    public bool FullShare { get; set; }

    /// <summary>True while a fetch for this partition is in flight, so that no two sources fetch it at once during a leader move.</summary>
    public bool InFlight { get; set; }

    /// <summary>The source whose last answer moved <see cref="FetchPosition"/> on for records whose checksums it is
    /// still checking; only that source fetches the partition until it hands them out, so that they stay in order.</summary>
    public BrokerFetchSource? DeferredBy { get; set; }

    public long HighWatermark { get; set; } = -1;

    public long LogStartOffset { get; set; } = -1;

    public long LastStableOffset { get; set; } = -1;

    /// <summary>Everything handed out so far counts as processed (the application asked for more).</summary>
    public void MarkProcessed(int version)
    {
        if (Version == version) Volatile.Write(ref Committable, Volatile.Read(ref ConsumedPosition));
    }

    public void Reposition(long offset)
    {
        FetchPosition = offset;
        Volatile.Write(ref ConsumedPosition, offset);
        Volatile.Write(ref Committable, offset);
        Version++;
    }
}
