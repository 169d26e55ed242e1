using Kiel.Producing.Internal;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Records;


/// <summary>A record copied out of a reader, for comparisons.</summary>
public sealed record ReadRecord(long Offset, long Timestamp, TimestampType TimestampType, byte[]? Key, byte[]? Value, (string Key, byte[]? Value)[] Headers)
{
    public bool Equals(ReadRecord? other) => other is not null && Offset == other.Offset && Timestamp == other.Timestamp
        && TimestampType == other.TimestampType && Same(Key, other.Key) && Same(Value, other.Value)
        && Headers.Length == other.Headers.Length
        && Headers.Zip(other.Headers).All(p => p.First.Key == p.Second.Key && Same(p.First.Value, p.Second.Value));

    public override int GetHashCode() => HashCode.Combine(Offset, Timestamp);

    private static bool Same(byte[]? a, byte[]? b) => a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);

    public override string ToString() =>
        $"@{Offset} t={Timestamp}/{TimestampType} k={Hex(Key)} v={Hex(Value)} h=[{string.Join(",", Headers.Select(h => h.Key + "=" + Hex(h.Value)))}]";

    private static string Hex(byte[]? b) => b is null ? "null" : b.Length > 16 ? $"{Convert.ToHexString(b[..16])}..({b.Length})" : Convert.ToHexString(b);
}

/// <summary>A record to write.</summary>
public sealed record TestRecord(long Timestamp, byte[]? Key, byte[]? Value, (string Key, byte[]? Value)[] Headers);

internal static class RecordTestKit
{
    /// <summary>
    /// The records appended as the producer appends them (its wire form, before the batch is finished), values copied
    /// with streaming stores when <paramref name="streamValues"/> is set.
    /// </summary>
    public static RecordArena AppendToArena(IReadOnlyList<TestRecord> records, bool streamValues = false)
    {
        var arena = new RecordArena(64);
        for (var i = 0; i < records.Count; i++)
        {
            var r = records[i];
            Headers? headers = null;
            foreach (var (key, value) in r.Headers) (headers ??= new Headers()).Add(key, value);
            BatchEncoder.AppendRecord(arena, i, r.Timestamp, r.Key, r.Key is null, r.Value, r.Value is null, headers, streamValues);
        }
        return arena;
    }

    public static readonly CompressionType[] AllCodecs =
        [CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

    public static List<ReadRecord> ReadAll(ReadOnlySpan<byte> set, long minOffset = long.MinValue, RecordReaderOptions? options = null)
    {
        var list = new List<ReadRecord>();
        using var reader = new RecordSetReader(set, minOffset, options);
        while (reader.MoveNext()) list.Add(Copy(reader.Current));
        return list;
    }

    public static ReadRecord Copy(Kiel.Protocol.Records.Record r)
    {
        var headers = new List<(string, byte[]?)>();
        foreach (var h in r.Headers) headers.Add((h.KeyString, h.ValueToArray()));
        return new ReadRecord(r.Offset, r.Timestamp, r.TimestampType, r.KeyToArray(), r.ValueToArray(), [.. headers]);
    }

    public static byte[] BuildBatch(IReadOnlyList<TestRecord> records, CompressionType compression = CompressionType.None, int? level = null)
    {
        using var builder = new RecordBatchBuilder(compression, level, maxBatchBytes: int.MaxValue);
        foreach (var r in records)
        {
            var headers = r.Headers.Select(h => new RecordHeader(h.Key, h.Value)).ToArray();
            builder.Append(r.Timestamp, r.Key, r.Value, headers, r.Key is null, r.Value is null);
        }
        return builder.Seal().ToArray();
    }

    public static byte[] BuildLegacy(byte magic, IReadOnlyList<TestRecord> records, CompressionType compression = CompressionType.None, long baseOffset = 0)
    {
        using var builder = new LegacyMessageSetBuilder(magic, compression) { BaseOffset = baseOffset };
        foreach (var r in records) builder.Append(r.Timestamp, r.Key, r.Value, r.Key is null, r.Value is null);
        return builder.Seal().ToArray();
    }

    /// <summary>Random records from a seed: null and empty keys and values, headers with null values, unicode keys.</summary>
    public static List<TestRecord> RandomRecords(int seed, int maxCount = 20, bool headers = true, int maxValue = 300)
    {
        var random = new Random(seed);
        var count = random.Next(1, maxCount + 1);
        var baseTs = 1_600_000_000_000L + random.Next();
        var list = new List<TestRecord>();
        for (var i = 0; i < count; i++)
        {
            var ts = baseTs + random.Next(-5000, 5000);
            var hs = !headers ? [] : Enumerable.Range(0, random.Next(0, 4))
                .Select(j => (Key: j % 2 == 0 ? "h" + random.Next(100) : "ключ-" + j, Value: Bytes(random, 20)))
                .ToArray();
            list.Add(new TestRecord(ts, Bytes(random, 40), Bytes(random, maxValue), hs));
        }
        return list;
    }

    private static byte[]? Bytes(Random random, int max)
    {
        var roll = random.Next(10);
        if (roll == 0) return null;
        if (roll == 1) return [];
        var b = new byte[random.Next(1, max + 1)];
        // Half compressible text, half noise, so the codecs see both.
        if (random.Next(2) == 0) random.NextBytes(b);
        else for (var i = 0; i < b.Length; i++) b[i] = (byte)('a' + random.Next(4));
        return b;
    }

    public static List<ReadRecord> Expected(IReadOnlyList<TestRecord> records, long baseOffset, byte magic)
        => records.Select((r, i) => new ReadRecord(baseOffset + i,
            magic == 0 ? -1 : r.Timestamp,
            magic == 0 ? TimestampType.NotAvailable : TimestampType.CreateTime,
            r.Key, r.Value, magic == 2 ? r.Headers : [])).ToList();

    public static byte[] Hex(string hex) => Convert.FromHexString(string.Concat(hex.Where(Uri.IsHexDigit)));
}
