using System.Collections.Concurrent;
using System.Numerics;

namespace Kiel.Producing.Internal;

/// <summary>
/// The byte arrays behind batches, pooled by power-of-two size up to a byte budget. When callers outrun the
/// cluster, a full <see cref="KielProducerOptions.BufferMemory"/> of batches waits at once; the shared ArrayPool
/// keeps only a few arrays per size per core and would drop most of them on return and allocate anew. Like the
/// Java client's BufferPool, this one keeps what it has handed out, up to its budget.
/// </summary>
internal static class BatchBufferPool
{
    private const long MaxPooledBytes = 256L * 1024 * 1024;
    private static readonly ConcurrentBag<byte[]>[] s_buckets = Enumerable.Range(0, 31).Select(_ => new ConcurrentBag<byte[]>()).ToArray();
    private static long s_pooledBytes;
    private static long s_misses, s_missBytes, s_dropped;

    /// <summary>Arrays allocated because the pool had none, their bytes, and arrays dropped over the budget (diagnostics).</summary>
    public static (long Misses, long MissBytes, long Dropped) Stats => (s_misses, s_missBytes, s_dropped);

    public static byte[] Rent(int minimumLength)
    {
        var size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(256, minimumLength));
        var bucket = BitOperations.Log2((uint)size);
        if (s_buckets[bucket].TryTake(out var array))
        {
            Interlocked.Add(ref s_pooledBytes, -array.Length);
            return array;
        }
        Interlocked.Increment(ref s_misses);
        Interlocked.Add(ref s_missBytes, size);
        return GC.AllocateUninitializedArray<byte>(size);
    }

    public static void Return(byte[] array)
    {
        if (array.Length == 0 || !BitOperations.IsPow2(array.Length)) return;
        if (Interlocked.Add(ref s_pooledBytes, array.Length) > MaxPooledBytes)
        {
            Interlocked.Add(ref s_pooledBytes, -array.Length);
            Interlocked.Increment(ref s_dropped);
            return;
        }
        s_buckets[BitOperations.Log2((uint)array.Length)].Add(array);
    }
}
