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
