using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Kiel.Protocol;

namespace Kiel.Consuming;

/// <summary>Checked big-endian and varint reads that advance a span; a short or bad input throws <see cref="KafkaProtocolException"/>.</summary>
internal static class RecordSpanReader
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ReadVarInt(scoped ref ReadOnlySpan<byte> span)
    {
        var n = VarInt.TryReadUnsigned(span, out uint raw);
        if (n <= 0) throw Malformed("varint");
        span = span[n..];
        return VarInt.UnZigZag(raw);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long ReadVarLong(scoped ref ReadOnlySpan<byte> span)
    {
        var n = VarInt.TryReadUnsigned(span, out ulong raw);
        if (n <= 0) throw Malformed("varlong");
        span = span[n..];
        return VarInt.UnZigZag(raw);
    }

    /// <summary>Reads a varint length and that many bytes; a negative length is null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ReadOnlySpan<byte> ReadVarBytes(scoped ref ReadOnlySpan<byte> span, out bool isNull)
    {
        var length = ReadVarInt(ref span);
        if (length < 0)
        {
            isNull = true;
            return default;
        }
        if (length > span.Length) throw Malformed("record field length");
        isNull = false;
        var result = span[..length];
        span = span[length..];
        return result;
    }

    /// <summary>Reads an int32 length and that many bytes (legacy message format); -1 is null.</summary>
    public static ReadOnlySpan<byte> ReadInt32Bytes(scoped ref ReadOnlySpan<byte> span, out bool isNull)
    {
        if (span.Length < 4) throw Malformed("bytes length");
        var length = BinaryPrimitives.ReadInt32BigEndian(span);
        span = span[4..];
        if (length < 0)
        {
            isNull = true;
            return default;
        }
        if (length > span.Length) throw Malformed("bytes length");
        isNull = false;
        var result = span[..length];
        span = span[length..];
        return result;
    }

    public static KafkaProtocolException Malformed(string field) =>
        new("FetchResponse", -1, "Records." + field, "the record data is truncated or malformed");
}
