namespace Kiel.Producing;

/// <summary>
/// Kafka's murmur2 hash exactly as the Java client computes it (<c>Utils.murmur2</c>), so that a key lands on the
/// same partition whichever client produced it.
/// </summary>
public static class Murmur2
{
    private const uint Seed = 0x9747b28c;
    private const uint M = 0x5bd1e995;
    private const int R = 24;

    /// <summary>The 32-bit hash of <paramref name="data"/>, as a signed value like Java's <c>int</c>.</summary>
    public static int Hash(ReadOnlySpan<byte> data)
    {
        var length = data.Length;
        var h = Seed ^ (uint)length;
        var blocks = length & ~3;
        for (var i = 0; i < blocks; i += 4)
        {
            var k = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data[i..]);
            k *= M;
            k ^= k >> R;
            k *= M;
            h *= M;
            h ^= k;
        }
        // Fall-through order matters: Java's switch falls from case 3 down to case 1.
        switch (length & 3)
        {
            case 3:
                h ^= (uint)data[blocks + 2] << 16;
                goto case 2;
            case 2:
                h ^= (uint)data[blocks + 1] << 8;
                goto case 1;
            case 1:
                h ^= data[blocks];
                h *= M;
                break;
        }
        h ^= h >> 13;
        h *= M;
        h ^= h >> 15;
        return (int)h;
    }

    /// <summary>The Java client's <c>toPositive</c>: clears the sign bit (not <c>Math.Abs</c>, which fails on int.MinValue).</summary>
    public static int ToPositive(int value) => value & 0x7fffffff;

    /// <summary>The partition the Java client's default partitioner picks for a non-null key.</summary>
    public static int Partition(ReadOnlySpan<byte> key, int partitionCount) => ToPositive(Hash(key)) % partitionCount;
}
