using System.IO.Hashing;

namespace Kiel.BenchBroker;

/// <summary>
/// The payloads both sides of a benchmark agree on, and the checksum over them. A record's checksum is the XxHash3 of
/// its value; a run's checksum is the sum (mod 2^64) over its records, so it does not depend on the order in which
/// partitions were read but does depend on every payload byte. Values are drawn from a 32-letter printable alphabet so that
/// lz4 and zstd have something to compress (about half), as real payloads do.
/// </summary>
public static class Payloads
{
    /// <summary>The checksum of one value.</summary>
    public static ulong Hash(ReadOnlySpan<byte> value) => XxHash3.HashToUInt64(value);

    /// <summary>The value with index <paramref name="index"/> of size <paramref name="size"/>, the same in every process.</summary>
    public static byte[] Value(int size, int index)
    {
        // 32 printable letters ('A' to '`'), no line breaks, so that line-based tools (kcat -P/-C) carry them unchanged.
        var value = new byte[size];
        var random = new Random(unchecked(size * 7919 + index * 104729 + 17));
        for (var i = 0; i < value.Length; i++) value[i] = (byte)('A' + random.Next(32));
        // The first letters spell the index (base 32), so that two values never share a checksum by accident.
        for (int i = 0, rest = index; i < Math.Min(size, 4); i++, rest >>= 5) value[i] = (byte)('A' + (rest & 31));
        return value;
    }

    /// <summary><paramref name="count"/> distinct values of <paramref name="size"/> bytes.</summary>
    public static byte[][] Values(int size, int count) => [.. Enumerable.Range(0, count).Select(i => Value(size, i))];

    /// <summary>Records per pre-encoded fetch batch for values of <paramref name="size"/> bytes (about 64 KiB of values).</summary>
    public static int RecordsPerBatch(int size) => Math.Clamp(65536 / Math.Max(1, size), 1, 4096);

    /// <summary>
    /// The checksum the bench broker's fetches give for the first <paramref name="count"/> records of a partition of a
    /// topic with values of <paramref name="size"/> bytes: the record at offset o carries value o mod RecordsPerBatch.
    /// </summary>
    public static ulong FetchChecksum(int size, long count)
    {
        var perBatch = RecordsPerBatch(size);
        var hashes = Values(size, perBatch).Select(v => Hash(v)).ToArray();
        ulong whole = 0;
        foreach (var h in hashes) whole += h;
        var sum = unchecked(whole * (ulong)(count / perBatch));
        for (var i = 0; i < count % perBatch; i++) sum += hashes[i];
        return sum;
    }

    /// <summary>The checksum of producing <paramref name="count"/> records, record i carrying value i mod <paramref name="distinct"/>.</summary>
    public static ulong ProduceChecksum(int size, int distinct, long count)
    {
        var hashes = Values(size, distinct).Select(v => Hash(v)).ToArray();
        ulong whole = 0;
        foreach (var h in hashes) whole += h;
        var sum = unchecked(whole * (ulong)(count / distinct));
        for (var i = 0; i < count % distinct; i++) sum += hashes[i];
        return sum;
    }
}
