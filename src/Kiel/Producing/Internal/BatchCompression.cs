using System.Buffers;
using Kiel.Protocol.Compression;

namespace Kiel.Producing.Internal;

/// <summary>Compresses a batch's records with the protocol layer's codecs.</summary>
internal static class BatchCompression
{
    public static void Compress(CompressionType type, int? level, ReadOnlySpan<byte> source, IBufferWriter<byte> destination, byte magic)
    {
        switch (type)
        {
            case CompressionType.None:
                destination.Write(source);
                break;
            default:
                CompressionCodec.Compress(type, source, destination, level, magic);
                break;
        }
    }
}
