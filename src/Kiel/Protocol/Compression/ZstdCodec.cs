using System.Buffers;
using ZstdSharp;
using ZstdSharp.Unsafe;
using Methods = ZstdSharp.Unsafe.Methods;

namespace Kiel.Protocol.Compression;

/// <summary>Zstandard through ZstdSharp, with one compressor and one decompressor context cached per thread.</summary>
internal static class ZstdCodec
{
    internal const int DefaultLevel = 3;
    private const int OneShotFloor = 256 * 1024;

    // Contexts hold megabytes of native state; creating one per batch would dominate small batches.
    [ThreadStatic] private static Compressor? t_compressor;
    [ThreadStatic] private static int t_compressorLevel;
    [ThreadStatic] private static Decompressor? t_decompressor;

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int? level)
    {
        var lvl = level ?? DefaultLevel;
        var compressor = t_compressor;
        if (compressor is null || t_compressorLevel != lvl)
        {
            compressor?.Dispose();
            compressor = t_compressor = new Compressor(lvl);
            t_compressorLevel = lvl;
        }
        var bound = Compressor.GetCompressBound(source.Length);
        var span = destination.GetSpan(bound);
        destination.Advance(compressor.Wrap(source, span));
    }

    public static unsafe int Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int maxOutput)
    {
        try
        {
            ulong declared;
            fixed (byte* p = source) declared = Methods.ZSTD_getFrameContentSize(p, (nuint)source.Length);
            // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest ulongs; streaming writers (the Java client) leave
            // the size out, and then only a bounded streaming decode is safe.
            if (declared < ulong.MaxValue - 1 && declared > (ulong)maxOutput)
                DecompressionLimit.Exceeded(CompressionType.Zstd, (long)Math.Min(declared, long.MaxValue), maxOutput, claimed: true);
            // Trust the declared size for a one-shot decode only while it is modest next to the input; a tiny frame
            // claiming megabytes is streamed instead, so memory grows with what it really produces.
            if (declared <= (ulong)Math.Max(OneShotFloor, source.Length * 64L))
            {
                var size = (int)declared;
                var decompressor = t_decompressor ??= new Decompressor();
                var span = destination.GetSpan(Math.Max(size, 1))[..size];
                if (decompressor.TryUnwrap(source, span, out var written) && written == size)
                {
                    destination.Advance(written);
                    return written;
                }
                // Several frames, or a frame that lied about its size: fall through to the bounded stream.
            }
            fixed (byte* p = source)
            {
                using var input = new UnmanagedMemoryStream(p, source.Length);
                using var stream = new DecompressionStream(input, leaveOpen: true);
                stream.SetParameter(ZSTD_dParameter.ZSTD_d_windowLogMax, WindowLogMax(maxOutput));
                return StreamCopy.CopyBounded(stream, destination, maxOutput, CompressionType.Zstd);
            }
        }
        catch (Exception ex) when (DecompressionLimit.IsDecoderFailure(ex))
        {
            DecompressionLimit.Corrupt(CompressionType.Zstd, null, "the zstd frame is corrupt: " + ex.Message, ex);
            return 0;
        }
    }

    // A frame's window is allocated up front; cap it near the output limit (but never below what ordinary streaming
    // encoders use) so a hostile header cannot make us reserve 2 GiB.
    private static int WindowLogMax(int maxOutput)
    {
        var log = 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)Math.Max(1, maxOutput - 1));
        return Math.Clamp(log, 23, 27);
    }
}
