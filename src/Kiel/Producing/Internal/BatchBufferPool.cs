using System.Collections.Concurrent;
using System.Numerics;

namespace Kiel.Producing.Internal;

/// <summary>
/// The byte arrays behind batches, pooled by power-of-two size up to a byte budget. When callers outrun the
/// cluster, a full <see cref="KielProducerOptions.BufferMemory"/> of batches waits at once; the shared ArrayPool
/// keeps only a few arrays per size per core and would drop most of them on return and allocate anew. Like the
/// Java client's BufferPool, this one keeps what it has handed out, up to its budget — but not at its peak forever:
/// every <see cref="TrimInterval"/> it drops, per size, as many arrays as stayed unused through the whole interval
/// (see <see cref="TrimmingArrayPool"/>). A pool left alone is empty after two intervals, and its timer, armed only
/// while the pool holds something, then stops.
/// </summary>
internal static class BatchBufferPool
{
    private const long MaxPooledBytes = 256L * 1024 * 1024;

    /// <summary>How often unused arrays are dropped.</summary>
    public static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(10);

    private static readonly TrimmingArrayPool s_pool = new(MaxPooledBytes);
    private static ITimer? s_trimTimer;
    private static int s_trimArmed;

    /// <summary>Arrays allocated because the pool had none, their bytes, and arrays dropped over the budget (diagnostics).</summary>
    public static (long Misses, long MissBytes, long Dropped) Stats => s_pool.Stats;

    /// <summary>Bytes held in the pool now (diagnostics).</summary>
    public static long PooledBytes => s_pool.PooledBytes;

    /// <summary>Misses while the pool held under a quarter of its budget (diagnostics).</summary>
    public static long MissesUnderAQuarter => s_pool.MissesUnderAQuarter;

    /// <summary>Arrays of exactly <paramref name="size"/> bytes (a power of two) pooled now (diagnostics).</summary>
    public static int PooledCount(int size) => s_pool.PooledCount(size);

    public static byte[] Rent(int minimumLength) => s_pool.Rent(minimumLength);

    /// <summary>
    /// Drops every pooled array (two trims: the first starts an interval, the second drops what stayed unused through
    /// it). For tests whose assertions depend on what the process-wide pool holds: other tests leave arrays in it.
    /// </summary>
    internal static void DropPooledArrays()
    {
        s_pool.Trim();
        s_pool.Trim();
    }

    /// <summary>
    /// An array of <paramref name="preferredLength"/> bytes or, when the pool has none at hand, the largest it has of
    /// at least <paramref name="minimumLength"/>: a new batch expected to grow like the last one starts in a smaller
    /// array the pool already holds (and grows if it must) rather than in a new one.
    /// </summary>
    public static byte[] Rent(int preferredLength, int minimumLength) => s_pool.Rent(preferredLength, minimumLength);

    public static void Return(byte[] array)
    {
        if (s_pool.Return(array) && Volatile.Read(ref s_trimArmed) == 0) ArmTrim();
    }

    private static void ArmTrim()
    {
        if (Interlocked.Exchange(ref s_trimArmed, 1) != 0) return;
        var timer = Volatile.Read(ref s_trimTimer);
        if (timer is null)
        {
            // Created without capturing the execution context of whichever producer returned an array first.
            using (ExecutionContext.SuppressFlow())
                timer = TimeProvider.System.CreateTimer(static _ => OnTrimTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            if (Interlocked.CompareExchange(ref s_trimTimer, timer, null) is { } other)
            {
                timer.Dispose();
                timer = other;
            }
        }
        timer.Change(TrimInterval, Timeout.InfiniteTimeSpan);
    }

    private static void OnTrimTimer()
    {
        s_pool.Trim();
        // Disarm; a Return that raced with this sees the flag clear and arms again, and one that came before is re-checked here.
        Volatile.Write(ref s_trimArmed, 0);
        if (s_pool.PooledBytes > 0) ArmTrim();
    }
}

/// <summary>
/// Arrays pooled by power-of-two size up to a byte budget, trimmed on demand: <see cref="Trim"/> drops, per size, as
/// many arrays as stayed in the pool through the whole time since the previous trim (the low-water mark of that size's
/// pooled count), so what a steady load cycles through is kept and what it never needed, or no longer needs, goes.
/// </summary>
/// <param name="maxPooledBytes">The most bytes the pool keeps; arrays returned beyond it are dropped.</param>
internal sealed class TrimmingArrayPool(long maxPooledBytes)
{
    private sealed class Bucket
    {
        public readonly ConcurrentBag<byte[]> Arrays = [];
        public int Count;
        // The fewest arrays pooled at any moment since the last trim: that many were never needed in the interval.
        public int LowWater;
    }

    private readonly Bucket[] _buckets = Enumerable.Range(0, 31).Select(_ => new Bucket()).ToArray();
    private long _pooledBytes;
    private long _misses, _missBytes, _dropped, _trimmed, _missesUnderAQuarter;

    /// <summary>Of <see cref="Stats"/>' misses, those that came while the pool held under a quarter of its budget (and so
    /// lent no larger array): the arrays in use then held most of the budget.</summary>
    public long MissesUnderAQuarter => Interlocked.Read(ref _missesUnderAQuarter);

    /// <summary>Arrays allocated because the pool had none, their bytes, and arrays dropped over the budget (returned ones not
    /// kept, and idle ones dropped to make room).</summary>
    public (long Misses, long MissBytes, long Dropped) Stats => (Interlocked.Read(ref _misses), Interlocked.Read(ref _missBytes), Interlocked.Read(ref _dropped));

    /// <summary>Bytes held in the pool now.</summary>
    public long PooledBytes => Interlocked.Read(ref _pooledBytes);

    /// <summary>Arrays dropped by trims so far.</summary>
    public long Trimmed => Interlocked.Read(ref _trimmed);

    /// <summary>Arrays of exactly <paramref name="size"/> bytes (a power of two) pooled now.</summary>
    public int PooledCount(int size) => Volatile.Read(ref _buckets[BitOperations.Log2((uint)size)].Count);

    /// <summary>How many sizes up a rent that finds none of its own size looks for a pooled array (64 times the size).</summary>
    public const int LargerSizesTaken = 6;

    /// <summary>
    /// An array of at least <paramref name="minimumLength"/> bytes (a power of two, 256 or more): pooled of that size,
    /// else new — or, while the pool holds a quarter of its budget or more, the smallest pooled one up to
    /// <see cref="LargerSizesTaken"/> sizes larger before a new one. A pool that far up holds the arrays a past burst
    /// grew to; a new array there tends to be dropped on return once the pool is full, so a load whose batch sizes
    /// shift would allocate steadily. Below that, a rent gets the size asked for, so that what is in use follows
    /// need and the trim can take the larger arrays away.
    /// </summary>
    public byte[] Rent(int minimumLength)
    {
        var size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(256, minimumLength));
        var sizeClass = BitOperations.Log2((uint)size);
        if (TryTake(sizeClass, out var array)) return array;
        var wellFilled = Interlocked.Read(ref _pooledBytes) >= maxPooledBytes / 4;
        if (wellFilled)
            for (var k = sizeClass + 1; k <= Math.Min(sizeClass + LargerSizesTaken, _buckets.Length - 1); k++)
                if (Volatile.Read(ref _buckets[k].Count) > 0 && TryTake(k, out array)) return array;
        if (!wellFilled) Interlocked.Increment(ref _missesUnderAQuarter);
        Interlocked.Increment(ref _misses);
        Interlocked.Add(ref _missBytes, size);
        return GC.AllocateUninitializedArray<byte>(size);
    }

    /// <summary>An array of at least <paramref name="preferredLength"/> bytes, or a pooled one of at least
    /// <paramref name="minimumLength"/> (the largest at hand) when none of the preferred size is pooled; failing both,
    /// as <see cref="Rent(int)"/> for the preferred size (a larger pooled array, else a new one).</summary>
    public byte[] Rent(int preferredLength, int minimumLength)
    {
        var preferred = BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)Math.Max(256, preferredLength)));
        var minimum = BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)Math.Max(256, Math.Min(minimumLength, preferredLength))));
        if (Volatile.Read(ref _buckets[preferred].Count) == 0)
            for (var k = preferred - 1; k >= minimum; k--)
                if (Volatile.Read(ref _buckets[k].Count) > 0 && TryTake(k, out var smaller)) return smaller;
        return Rent(1 << preferred);
    }

    private bool TryTake(int sizeClass, out byte[] array)
    {
        var bucket = _buckets[sizeClass];
        if (!bucket.Arrays.TryTake(out array!)) return false;
        Interlocked.Add(ref _pooledBytes, -array.Length);
        var count = Interlocked.Decrement(ref bucket.Count);
        // Lower the low-water mark (approximate under races, which only changes what the next trim keeps).
        if (count < Volatile.Read(ref bucket.LowWater)) Volatile.Write(ref bucket.LowWater, Math.Max(0, count));
        return true;
    }

    /// <summary>
    /// Takes an array back; false when it was not kept (not from this pool's sizes, or over the budget and nothing idle
    /// to make room). Over the budget, arrays of another size that stayed unused since the last trim (the ones the next
    /// trim would drop) make room for it: an array just in use is more likely wanted again than one that sat idle, so
    /// the pool's bytes follow the sizes in use now, not those of an earlier burst until the next trim.
    /// </summary>
    public bool Return(byte[] array)
    {
        if (array.Length == 0 || !BitOperations.IsPow2(array.Length)) return false;
        var sizeClass = BitOperations.Log2((uint)array.Length);
        if (Interlocked.Add(ref _pooledBytes, array.Length) > maxPooledBytes)
        {
            Interlocked.Add(ref _pooledBytes, -array.Length);
            var kept = EvictIdle(array.Length, sizeClass);
            if (kept && Interlocked.Add(ref _pooledBytes, array.Length) > maxPooledBytes)
            {
                // Another return took the room first.
                Interlocked.Add(ref _pooledBytes, -array.Length);
                kept = false;
            }
            if (!kept)
            {
                Interlocked.Increment(ref _dropped);
                return false;
            }
        }
        var bucket = _buckets[sizeClass];
        bucket.Arrays.Add(array);
        Interlocked.Increment(ref bucket.Count);
        return true;
    }

    /// <summary>
    /// Drops idle arrays (unused since the last trim) of the size whose idle bytes are most, other than
    /// <paramref name="keepClass"/>, until <paramref name="bytes"/> are freed; false when there were not enough.
    /// </summary>
    private bool EvictIdle(int bytes, int keepClass)
    {
        var best = -1;
        long bestIdle = 0;
        for (var k = 0; k < _buckets.Length; k++)
        {
            if (k == keepClass) continue;
            var idle = (long)Math.Min(Volatile.Read(ref _buckets[k].LowWater), Volatile.Read(ref _buckets[k].Count)) << k;
            if (idle > bestIdle) (best, bestIdle) = (k, idle);
        }
        if (best < 0 || bestIdle < bytes) return false;
        var victim = _buckets[best];
        long freed = 0;
        while (freed < bytes && Volatile.Read(ref victim.LowWater) > 0 && victim.Arrays.TryTake(out var idleArray))
        {
            Interlocked.Decrement(ref victim.Count);
            Volatile.Write(ref victim.LowWater, Math.Max(0, Volatile.Read(ref victim.LowWater) - 1));
            Interlocked.Add(ref _pooledBytes, -idleArray.Length);
            Interlocked.Increment(ref _dropped);
            freed += idleArray.Length;
        }
        return freed >= bytes;
    }

    /// <summary>Drops, per size, the arrays that stayed unused since the last trim, and starts the next interval.</summary>
    public void Trim()
    {
        foreach (var bucket in _buckets)
        {
            var drop = Math.Min(Volatile.Read(ref bucket.LowWater), Volatile.Read(ref bucket.Count));
            for (var i = 0; i < drop && bucket.Arrays.TryTake(out var array); i++)
            {
                Interlocked.Decrement(ref bucket.Count);
                Interlocked.Add(ref _pooledBytes, -array.Length);
                Interlocked.Increment(ref _trimmed);
            }
            Volatile.Write(ref bucket.LowWater, Volatile.Read(ref bucket.Count));
        }
    }
}
