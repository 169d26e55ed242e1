using System.Buffers.Binary;

namespace Kiel.Protocol.Records;

/// <summary>
/// Walks the framing of a fetched record set without decoding records: how many complete batches it holds, where
/// they end, the offset after the last one, and (when asked) whether each one's checksum matches. The consumer runs it
/// as soon as a Fetch response arrives, to move its fetch position on and to refuse a corrupt batch before any of its
/// records is handed out.
/// </summary>
internal static class RecordSetScanner
{
    /// <summary>What a scan found.</summary>
    /// <param name="Entries">The complete batches (or legacy entries) before the end, the truncated tail or the first damaged one.</param>
    /// <param name="Bytes">The bytes those entries take from the start of the set.</param>
    /// <param name="NextOffset">The offset after the last of them (unchanged from the start value when there is none).</param>
    /// <param name="Error">The damage that stopped the scan (a <see cref="CorruptRecordException"/> or <see cref="KafkaProtocolException"/>), or null.</param>
    internal readonly record struct Result(int Entries, int Bytes, long NextOffset, KielException? Error);

    /// <summary>
    /// Scans <paramref name="set"/>. A trailing partial entry is not an error (brokers cut sets at the byte limit);
    /// damaged framing or, with <paramref name="verifyCrc"/>, a checksum mismatch ends the scan with an error that
    /// names <paramref name="topic"/> and <paramref name="partition"/>.
    /// </summary>
    public static Result Scan(ReadOnlySpan<byte> set, long nextOffset, bool verifyCrc, string? topic = null, int partition = -1)
    {
        var entries = 0;
        var pos = 0;
        try
        {
            while (set.Length - pos >= RecordBatchHeader.LogOverhead)
            {
                var rest = set[pos..];
                var length = BinaryPrimitives.ReadInt32BigEndian(rest[RecordBatchHeader.BatchLengthOffset..]);
                if (length < RecordBatchHeader.LegacyMinMessageSize)
                    RecordSetCursor.Fail("RecordBatch", -1, "BatchLength", $"length {length} at offset {pos} is smaller than any batch or message ({RecordBatchHeader.LegacyMinMessageSize} bytes)");
                if (length > rest.Length - RecordBatchHeader.LogOverhead) break;
                var entry = rest[..(RecordBatchHeader.LogOverhead + length)];
                RecordSetCursor.CheckEntry(entry, verifyCrc, topic, partition);
                var baseOffset = BinaryPrimitives.ReadInt64BigEndian(entry);
                // A legacy entry's offset is its own, or for a compressed wrapper that of its last inner message.
                var last = entry[RecordBatchHeader.MagicOffset] == 2
                    ? baseOffset + BinaryPrimitives.ReadInt32BigEndian(entry[RecordBatchHeader.LastOffsetDeltaOffset..])
                    : baseOffset;
                if (last + 1 > nextOffset) nextOffset = last + 1;
                entries++;
                pos += entry.Length;
            }
        }
        catch (KielException ex) when (ex is CorruptRecordException or KafkaProtocolException)
        {
            return new Result(entries, pos, nextOffset, ex);
        }
        return new Result(entries, pos, nextOffset, null);
    }
}
