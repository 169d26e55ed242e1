using System.Buffers;
using Kiel.Protocol.Compression;

namespace Kiel.Consuming;

/// <summary>Inflates a compressed batch payload into a pooled array that the caller keeps and reuses.</summary>
internal static class RecordDecompressor
{
    /// <summary>Bound on one inflated batch, so that a hostile ratio cannot exhaust memory.</summary>
    public const int MaxInflatedBytes = 256 * 1024 * 1024;

    /// <summary>Inflates <paramref name="source"/> compressed with Kafka codec <paramref name="codec"/> into <paramref name="buffer"/>
    /// (rented from <see cref="ArrayPool{T}.Shared"/>, grown as needed) and returns the inflated length.</summary>
    public static int Decompress(int codec, ReadOnlySpan<byte> source, ref byte[]? buffer, byte magic = 2)
    {
        var writer = new PooledArrayWriter(buffer ?? ArrayPool<byte>.Shared.Rent(Math.Max(4096, source.Length * 4)));
        try
        {
            return CompressionCodec.Decompress((CompressionType)codec, source, writer, MaxInflatedBytes, magic);
        }
        finally
        {
            buffer = writer.Buffer;
        }
    }

    /// <summary>A buffer writer over one pooled array that it swaps for a larger one when full.</summary>
    private sealed class PooledArrayWriter(byte[] buffer) : IBufferWriter<byte>
    {
        public byte[] Buffer { get; private set; } = buffer;

        public int Written { get; private set; }

        public void Advance(int count) => Written += count;

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return Buffer.AsMemory(Written);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return Buffer.AsSpan(Written);
        }

        private void Ensure(int sizeHint)
        {
            var need = Written + Math.Max(1, sizeHint);
            if (need <= Buffer.Length) return;
            if (need > MaxInflatedBytes)
                throw new Kiel.KafkaProtocolException("FetchResponse", -1, "Records", $"a compressed batch inflates past {MaxInflatedBytes} bytes");
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(MaxInflatedBytes, Math.Max(need, Buffer.Length * 2)));
            Buffer.AsSpan(0, Written).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(Buffer);
            Buffer = bigger;
        }
    }
}
