using System.Buffers.Binary;
using System.Text;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Consuming;

/// <summary>Record sets built with the records layer's builders, placed at a chosen base offset.</summary>
internal static class TestBatches
{
    public static byte[] V2(long baseOffset, int count, CompressionType compression = CompressionType.None, string prefix = "v",
        long producerId = -1, bool transactional = false, long timestamp = 1_700_000_000_000, int valueSize = 0)
    {
        using var builder = new RecordBatchBuilder(compression, maxBatchBytes: 64 * 1024 * 1024);
        if (producerId >= 0) builder.SetProducerState(producerId, 0, 0, transactional);
        for (var i = 0; i < count; i++)
        {
            var value = valueSize > 0 ? new byte[valueSize] : Encoding.UTF8.GetBytes($"{prefix}{baseOffset + i}");
            builder.Append(timestamp + i, Encoding.UTF8.GetBytes($"k{baseOffset + i}"), value,
                [new Kiel.Protocol.Records.RecordHeader("h", Encoding.UTF8.GetBytes($"x{baseOffset + i}"))]);
        }
        return Place(builder.Seal(), baseOffset);
    }

    public static byte[] Marker(long baseOffset, long producerId, ControlRecordType type)
    {
        using var builder = new RecordBatchBuilder();
        builder.SetProducerState(producerId, 0, -1, transactional: true);
        builder.AppendEndTransactionMarker(type, 0, 1_700_000_000_000);
        return Place(builder.Seal(), baseOffset);
    }

    public static byte[] Legacy(byte magic, long baseOffset, int count, CompressionType compression = CompressionType.None)
    {
        using var builder = new LegacyMessageSetBuilder(magic, compression) { BaseOffset = baseOffset };
        for (var i = 0; i < count; i++)
            builder.Append(1_600_000_000_000 + i, Encoding.UTF8.GetBytes($"k{baseOffset + i}"), Encoding.UTF8.GetBytes($"v{baseOffset + i}"));
        return builder.Seal().ToArray();
    }

    private static byte[] Place(ReadOnlyMemory<byte> batch, long baseOffset)
    {
        var bytes = batch.ToArray();
        BinaryPrimitives.WriteInt64BigEndian(bytes, baseOffset);
        return bytes;
    }

    public static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}
