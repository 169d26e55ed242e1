using System.IO.Hashing;
using System.Runtime.CompilerServices;

namespace Kiel.Producing;

/// <summary>Ready-made partitioners.</summary>
public static class Partitioners
{
    /// <summary>
    /// The default, as in the Java client: murmur2 of the key for keyed records (the same key lands on the same
    /// partition as with a Java producer), sticky partitioning (KIP-480) for keyless ones.
    /// </summary>
    public static IPartitioner Default => new Murmur2StickyPartitioner();

    /// <summary>librdkafka's <c>consistent_random</c>: CRC32 of the key modulo the partition count; keyless records go to a random partition.
    /// Use it to land keys where Confluent.Kafka's default does.</summary>
    public static IPartitioner ConsistentRandom => new Crc32Partitioner(randomWhenNull: true);

    /// <summary>librdkafka's <c>consistent</c>: CRC32 of the key modulo the partition count; keyless records hash as empty (partition 0).</summary>
    public static IPartitioner Consistent => new Crc32Partitioner(randomWhenNull: false);

    /// <summary>librdkafka's <c>murmur2_random</c>: Java-compatible murmur2 for keys, a random partition for keyless records.</summary>
    public static IPartitioner Murmur2Random => new Murmur2RandomPartitioner();

    /// <summary>Every record, keyed or not, goes to the next partition in turn (per topic).</summary>
    public static IPartitioner RoundRobin => new RoundRobinPartitioner();

    /// <summary>Murmur2 for keyed records; keyless records go to the next partition in turn.</summary>
    public static IPartitioner Murmur2RoundRobin => new Murmur2RoundRobinPartitioner();

    /// <summary>Wraps a function. Its result is checked: a partition out of range fails the record with a clear error.</summary>
    public static IPartitioner FromFunc(PartitionerFunc func)
    {
        ArgumentNullException.ThrowIfNull(func);
        return new FuncPartitioner(func);
    }

    /// <summary>CRC32 (IEEE, as zlib) of <paramref name="key"/>, as librdkafka computes it for <c>consistent</c> partitioning.</summary>
    public static uint Crc32Of(ReadOnlySpan<byte> key) => Crc32.HashToUInt32(key);

    private sealed class Murmur2StickyPartitioner : IPartitioner
    {
        private readonly StickyPartitionCache _sticky = new();

        public int Partition(string topic, ReadOnlySpan<byte> key, bool keyIsNull, int partitionCount) =>
            keyIsNull ? _sticky.Get(topic, partitionCount) : Murmur2.Partition(key, partitionCount);

        public void OnBatchSealed(string topic, int partition, int partitionCount) => _sticky.OnBatchSealed(topic, partition, partitionCount);
    }

    private sealed class Murmur2RandomPartitioner : IPartitioner
    {
        public int Partition(string topic, ReadOnlySpan<byte> key, bool keyIsNull, int partitionCount) =>
            keyIsNull ? Random.Shared.Next(partitionCount) : Murmur2.Partition(key, partitionCount);
    }

    private sealed class Crc32Partitioner(bool randomWhenNull) : IPartitioner
    {
        public int Partition(string topic, ReadOnlySpan<byte> key, bool keyIsNull, int partitionCount) =>
            keyIsNull && randomWhenNull ? Random.Shared.Next(partitionCount) : (int)(Crc32.HashToUInt32(key) % (uint)partitionCount);
    }

    private sealed class RoundRobinPartitioner : IPartitioner
    {
        private readonly RoundRobinCounter _counter = new();

        public int Partition(string topic, ReadOnlySpan<byte> key, bool keyIsNull, int partitionCount) => _counter.Next(topic, partitionCount);
    }

    private sealed class Murmur2RoundRobinPartitioner : IPartitioner
    {
        private readonly RoundRobinCounter _counter = new();

        public int Partition(string topic, ReadOnlySpan<byte> key, bool keyIsNull, int partitionCount) =>
            keyIsNull ? _counter.Next(topic, partitionCount) : Murmur2.Partition(key, partitionCount);
    }

    private sealed class FuncPartitioner(PartitionerFunc func) : IPartitioner
    {
        public int Partition(string topic, ReadOnlySpan<byte> key, bool keyIsNull, int partitionCount) => func(topic, key, keyIsNull, partitionCount);
    }

    private sealed class RoundRobinCounter
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StrongBox<int>> _next = new(StringComparer.Ordinal);

        public int Next(string topic, int partitionCount)
        {
            var box = _next.GetOrAdd(topic, static _ => new StrongBox<int>(-1));
            var n = Interlocked.Increment(ref box.Value);
            return (int)((uint)n % (uint)partitionCount);
        }
    }
}
