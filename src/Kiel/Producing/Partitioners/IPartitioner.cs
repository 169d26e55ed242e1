namespace Kiel.Producing;

/// <summary>
/// Picks the partition of a record that names none. Implementations must be thread-safe: records are
/// partitioned on the caller's thread.
/// </summary>
public interface IPartitioner
{
    /// <summary>Returns a partition in <c>[0, partitionCount)</c>.</summary>
    /// <param name="topic">The topic.</param>
    /// <param name="key">The serialized key (empty when <paramref name="keyIsNull"/>).</param>
    /// <param name="keyIsNull">True when the record has no key.</param>
    /// <param name="partitionCount">How many partitions the topic has (at least 1).</param>
    int Partition(string topic, ReadOnlySpan<byte> key, bool keyIsNull, int partitionCount);

    /// <summary>
    /// Told when the batch that was filling for <paramref name="partition"/> is sealed (full, or handed to a
    /// sender). Sticky partitioners move keyless records to another partition here (KIP-480).
    /// </summary>
    void OnBatchSealed(string topic, int partition, int partitionCount) { }
}

/// <summary>A partitioner as a function of the serialized key (empty and <c>keyIsNull</c> for a keyless record) and the partition count.</summary>
public delegate int PartitionerFunc(string topic, ReadOnlySpan<byte> key, bool keyIsNull, int partitionCount);
