using System.Buffers;
using System.IO.Compression;

namespace Kiel.Protocol.Compression;

/// <summary>gzip (RFC 1952) through <see cref="GZipStream"/>.</summary>
internal static class GzipCodec
{
    // GZipStream writes nothing at all for empty input; peers expect a complete (empty) gzip member.
    private static ReadOnlySpan<byte> EmptyMember => [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int? level)
    {
        if (source.IsEmpty)
        {
            EmptyMember.CopyTo(destination.GetSpan(EmptyMember.Length));
            destination.Advance(EmptyMember.Length);
            return;
        }
        var sink = new BufferWriterStream(destination);
        using var gzip = new GZipStream(sink, new ZLibCompressionOptions { CompressionLevel = level ?? -1 }, leaveOpen: true);
        gzip.Write(source);
    }

    public static unsafe int Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int maxOutput)
    {
        fixed (byte* p = source)
        {
            using var input = new UnmanagedMemoryStream(p, source.Length);
            try
            {
                using var gzip = new GZipStream(input, CompressionMode.Decompress);
                return StreamCopy.CopyBounded(gzip, destination, maxOutput, CompressionType.Gzip);
            }
            catch (Exception ex) when (DecompressionLimit.IsDecoderFailure(ex))
            {
                DecompressionLimit.Corrupt(CompressionType.Gzip, null, "the gzip stream is corrupt: " + ex.Message, ex);
                return 0;
            }
        }
    }
}

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
