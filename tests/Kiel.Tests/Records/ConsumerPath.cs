using Kiel.Consuming;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Records;

/// <summary>
/// Reads a record set exactly as the consumer does with a fetched partition: <see cref="RecordSetScanner"/> on arrival
/// (framing, CRCs, next offset), then a <see cref="FetchedChunk"/> over the complete batches, touching every field.
/// </summary>
internal static class ConsumerPath
{
    /// <summary>The scan's error is thrown, as the fetch engine hands it to the application.</summary>
    public static List<(long Offset, byte[]? Key, byte[]? Value, long Timestamp, int Headers)> Read(ReadOnlySpan<byte> set, long fetchOffset = 0,
        bool checkCrcs = true, int maxDecompressedBytes = 1 << 20, IReadOnlyList<AbortedTransaction>? aborted = null,
        bool readCommitted = false)
    {
        var scan = RecordSetScanner.Scan(set, fetchOffset, checkCrcs, "t", 0);
        if (scan.Error is { } error) throw error;
        var state = new PartitionState(new TopicPartition("t", 0), fetchOffset, 1 << 20);
        var result = new List<(long, byte[]?, byte[]?, long, int)>();
        using var chunk = new FetchedChunk(state, state.Version, null, set[..scan.Bytes].ToArray(), fetchOffset, scan.NextOffset,
            aborted, readCommitted, checkCrcs, maxDecompressedBytes);
        while (chunk.TryReadNext(out var r))
        {
            var n = 0;
            foreach (var h in r.Headers) n += h.Key.Length + h.Value.Length;
            GC.KeepAlive(n);
            result.Add((r.Offset, r.KeyIsNull ? null : r.Key.ToArray(), r.ValueIsNull ? null : r.Value.ToArray(), r.TimestampMs, r.HeaderCount));
        }
        return result;
    }
}
