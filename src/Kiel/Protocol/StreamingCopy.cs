using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kiel.Protocol;

/// <summary>
/// Copies bytes with non-temporal ("streaming") stores: the destination's cache lines are written to memory without
/// being read into the caches first, and the bytes copied do not push anything out of them. For a producer whose
/// buffer holds many megabytes: a value copied into a batch then waits behind all of them, leaves the caches before it
/// is sent whatever the copy does, and an ordinary copy would pay for reading the destination and for evicting bytes
/// that are read again soon (docs/performance.md, thirty-fourth round). Where the processor has no AVX, and for short
/// spans, it is an ordinary copy.
/// </summary>
internal static unsafe class StreamingCopy
{
    /// <summary>
    /// Fewer bytes than this are copied the ordinary way: the unaligned ends would be most of the copy (and the ordinary
    /// copy up to the destination's first 32-byte boundary, at most 31 bytes, always fits in the span).
    /// </summary>
    public const int MinBytes = 1024;

    /// <summary>True where streaming stores are used (x86 with AVX).</summary>
    public static bool IsSupported => Avx.IsSupported;

    /// <summary>Copies <paramref name="source"/> to the start of <paramref name="destination"/>, which must be at least as long.</summary>
    public static void Copy(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"The destination holds {destination.Length} bytes, fewer than the {source.Length} copied.", nameof(destination));
        if (!Avx.IsSupported || source.Length < MinBytes)
        {
            source.CopyTo(destination);
            return;
        }
        var n = source.Length;
        fixed (byte* s = source)
        fixed (byte* d = destination)
        {
            // An ordinary copy up to the first 32-byte boundary of the destination, aligned streaming stores of 128
            // bytes a turn, an ordinary copy of what is left; the fence orders the streaming stores before any later store.
            var head = (int)((32 - ((nuint)d & 31)) & 31);
            Buffer.MemoryCopy(s, d, head, head);
            var i = head;
            for (; i <= n - 128; i += 128)
            {
                var a = Avx.LoadVector256(s + i);
                var b = Avx.LoadVector256(s + i + 32);
                var c = Avx.LoadVector256(s + i + 64);
                var e = Avx.LoadVector256(s + i + 96);
                Avx.StoreAlignedNonTemporal(d + i, a);
                Avx.StoreAlignedNonTemporal(d + i + 32, b);
                Avx.StoreAlignedNonTemporal(d + i + 64, c);
                Avx.StoreAlignedNonTemporal(d + i + 96, e);
            }
            Buffer.MemoryCopy(s + i, d + i, n - i, n - i);
            Sse.StoreFence();
        }
    }
}
