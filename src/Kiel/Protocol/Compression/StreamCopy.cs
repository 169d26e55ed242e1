using System.Buffers;

namespace Kiel.Protocol.Compression;

/// <summary>Copies a decoding stream into a buffer writer and stops as soon as the output passes a limit.</summary>
internal static class StreamCopy
{
    private const int Chunk = 64 * 1024;

    public static int CopyBounded(Stream decoder, IBufferWriter<byte> destination, int maxOutput, CompressionType type)
    {
        var total = 0L;
        while (true)
        {
            // Ask for one byte more than the limit allows, so output that overruns it is seen without reading it all.
            var want = (int)Math.Min(Chunk, (long)maxOutput - total + 1);
            var span = destination.GetSpan(want)[..want];
            var n = decoder.Read(span);
            if (n == 0) return (int)total;
            total += n;
            if (total > maxOutput) DecompressionLimit.Exceeded(type, total, maxOutput, claimed: false);
            destination.Advance(n);
        }
    }
}
