using System.Buffers.Binary;

namespace Kiel.Consuming;

/// <summary>
/// Walks the framing of a fetched record set (batches of magic 2, messages or wrappers of magic 0 and 1)
/// without decoding records, to learn the next fetch offset as soon as a response arrives.
/// </summary>
internal static class LogScan
{
    /// <summary>Offset (8) + size (4) + leader epoch or CRC (4) + magic (1).</summary>
    public const int EntryPrefix = 17;

    /// <summary>
    /// Returns how many complete entries <paramref name="data"/> holds and sets <paramref name="nextOffset"/> to
    /// the offset after the last complete one (unchanged when there is none). A trailing partial entry is ignored,
    /// as brokers cut responses at the byte limit.
    /// </summary>
    public static int Scan(ReadOnlySpan<byte> data, ref long nextOffset)
    {
        var count = 0;
        while (data.Length >= EntryPrefix)
        {
            var baseOffset = BinaryPrimitives.ReadInt64BigEndian(data);
            var size = BinaryPrimitives.ReadInt32BigEndian(data[8..]);
            if (size < 5 || size > data.Length - 12) break;
            var magic = data[16];
            long last;
            if (magic >= 2)
            {
                if (size < 49) throw RecordSpanReader.Malformed("batch length");
                last = baseOffset + BinaryPrimitives.ReadInt32BigEndian(data[23..]);
            }
            else
            {
                // A legacy compressed wrapper carries the offset of its last inner message.
                last = baseOffset;
            }
            if (last + 1 > nextOffset) nextOffset = last + 1;
            count++;
            data = data[(12 + size)..];
        }
        return count;
    }
}
