namespace Kiel.BenchBroker;

/// <summary>
/// What a topic of the bench broker looks like, read from its name: dot-separated tokens <c>p&lt;N&gt;</c> (partitions,
/// default 1), <c>s&lt;N&gt;</c> (value size of the fetched records, default 100) and one of <c>none</c>, <c>gzip</c>,
/// <c>snappy</c>, <c>lz4</c>, <c>zstd</c> (compression of the fetched batches, default none); other tokens are ignored,
/// e.g. <c>bench.p12.s1024.lz4.3f9a</c>.
/// </summary>
public sealed record TopicSpec(int Partitions, int ValueSize, CompressionType Compression)
{
    public static TopicSpec Parse(string name)
    {
        int partitions = 1, size = 100;
        var compression = CompressionType.None;
        foreach (var token in name.Split('.'))
        {
            if (token.Length > 1 && token[0] == 'p' && int.TryParse(token.AsSpan(1), out var p) && p is > 0 and <= 100_000) partitions = p;
            else if (token.Length > 1 && token[0] == 's' && int.TryParse(token.AsSpan(1), out var s) && s is >= 0 and <= 1_000_000) size = s;
            else if (token == "gzip") compression = CompressionType.Gzip;
            else if (token == "snappy") compression = CompressionType.Snappy;
            else if (token == "lz4") compression = CompressionType.Lz4;
            else if (token == "zstd") compression = CompressionType.Zstd;
        }
        return new TopicSpec(partitions, size, compression);
    }
}
