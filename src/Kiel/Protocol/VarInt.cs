using System.Runtime.CompilerServices;

namespace Kiel.Protocol;

/// <summary>
/// Unsigned base-128 varints (flexible protocol lengths and tags) and zig-zag signed varints and varlongs
/// (record batch v2 internals). The same bytes as protobuf's <c>uint32</c>, <c>sint32</c> and <c>sint64</c>.
/// </summary>
internal static class VarInt
{
    /// <summary>The largest encoding of a 32-bit varint.</summary>
    public const int MaxLength32 = 5;

    /// <summary>The largest encoding of a 64-bit varlong.</summary>
    public const int MaxLength64 = 10;

    /// <summary>Zig-zag maps a signed 32-bit value to an unsigned one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ZigZag(int value) => (uint)((value << 1) ^ (value >> 31));

    /// <summary>Zig-zag maps a signed 64-bit value to an unsigned one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    /// <summary>Reverses <see cref="ZigZag(int)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int UnZigZag(uint value) => (int)(value >> 1) ^ -(int)(value & 1);

    /// <summary>Reverses <see cref="ZigZag(long)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    /// <summary>The encoded size of an unsigned 32-bit varint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SizeOfUnsigned(uint value) => (31 - System.Numerics.BitOperations.LeadingZeroCount(value | 1)) / 7 + 1;

    /// <summary>The encoded size of an unsigned 64-bit varint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SizeOfUnsigned(ulong value) => (63 - System.Numerics.BitOperations.LeadingZeroCount(value | 1)) / 7 + 1;

    /// <summary>The encoded size of a zig-zag signed varint.</summary>
    public static int SizeOfVarInt(int value) => SizeOfUnsigned(ZigZag(value));

    /// <summary>The encoded size of a zig-zag signed varlong.</summary>
    public static int SizeOfVarLong(long value) => SizeOfUnsigned(ZigZag(value));

    /// <summary>Writes an unsigned varint and returns the number of bytes written. The span must hold <see cref="MaxLength32"/> bytes or the exact size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteUnsigned(Span<byte> destination, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>Writes an unsigned 64-bit varint and returns the number of bytes written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteUnsigned(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>Writes a zig-zag signed varint.</summary>
    public static int WriteVarInt(Span<byte> destination, int value) => WriteUnsigned(destination, ZigZag(value));

    /// <summary>Writes a zig-zag signed varlong.</summary>
    public static int WriteVarLong(Span<byte> destination, long value) => WriteUnsigned(destination, ZigZag(value));

    /// <summary>
    /// Reads an unsigned 32-bit varint. Returns the number of bytes consumed, 0 when the input ends first,
    /// or -1 when the encoding is longer than 5 bytes or overflows 32 bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int TryReadUnsigned(ReadOnlySpan<byte> source, out uint value)
    {
        uint result = 0;
        for (var i = 0; i < MaxLength32; i++)
        {
            if (i >= source.Length)
            {
                value = 0;
                return 0;
            }
            uint b = source[i];
            if (i == 4 && b > 0x0F)
            {
                value = 0;
                return -1;
            }
            result |= (b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                value = result;
                return i + 1;
            }
        }
        value = 0;
        return -1;
    }

    /// <summary>
    /// Reads an unsigned 64-bit varint. Returns the number of bytes consumed, 0 when the input ends first,
    /// or -1 when the encoding is longer than 10 bytes or overflows 64 bits.
    /// </summary>
    public static int TryReadUnsigned(ReadOnlySpan<byte> source, out ulong value)
    {
        ulong result = 0;
        for (var i = 0; i < MaxLength64; i++)
        {
            if (i >= source.Length)
            {
                value = 0;
                return 0;
            }
            ulong b = source[i];
            if (i == 9 && b > 0x01)
            {
                value = 0;
                return -1;
            }
            result |= (b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                value = result;
                return i + 1;
            }
        }
        value = 0;
        return -1;
    }
}
