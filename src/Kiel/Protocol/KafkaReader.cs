using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Kiel.Protocol;

/// <summary>
/// Reads Kafka protocol primitives (big-endian) from a contiguous buffer. Every read checks that its bytes
/// are present before it allocates anything, and every failure is a <see cref="KafkaProtocolException"/>
/// naming <see cref="MessageName"/>, <see cref="Version"/> and <see cref="Field"/>.
/// </summary>
/// <remarks>
/// Built over <see cref="ReadOnlyMemory{T}"/>, <c>bytes</c> and <c>records</c> fields are handed out as slices of the
/// input without a copy. Built over a plain span, they are copied.
/// </remarks>
internal ref struct KafkaReader
{
    private readonly ReadOnlySpan<byte> _span;
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly bool _hasMemory;
    private int _position;

    /// <summary>Reads from memory; byte fields become zero-copy slices of it.</summary>
    public KafkaReader(ReadOnlyMemory<byte> memory, string? messageName = null, short version = -1)
    {
        _memory = memory;
        _span = memory.Span;
        _hasMemory = true;
        _position = 0;
        MessageName = messageName;
        Version = version;
        Field = null;
    }

    /// <summary>Reads from a span; byte fields are copied.</summary>
    public KafkaReader(ReadOnlySpan<byte> span, string? messageName = null, short version = -1)
    {
        _memory = default;
        _span = span;
        _hasMemory = false;
        _position = 0;
        MessageName = messageName;
        Version = version;
        Field = null;
    }

    /// <summary>Reads from a sequence: a single segment is read in place, several are joined once.</summary>
    public static KafkaReader Create(in ReadOnlySequence<byte> sequence, string? messageName = null, short version = -1)
        => sequence.IsSingleSegment
            ? new KafkaReader(sequence.First, messageName, version)
            : new KafkaReader(new ReadOnlyMemory<byte>(sequence.ToArray()), messageName, version);

    /// <summary>The message being decoded, for error messages.</summary>
    public string? MessageName { get; set; }

    /// <summary>The version being decoded, for error messages; -1 where it does not apply.</summary>
    public short Version { get; set; }

    /// <summary>The field being decoded, for error messages. Generated code sets it before each field.</summary>
    public string? Field { get; set; }

    /// <summary>Bytes consumed so far.</summary>
    public readonly int Position => _position;

    /// <summary>Bytes not yet consumed.</summary>
    public readonly int Remaining => _span.Length - _position;

    /// <summary>True when every byte has been consumed.</summary>
    public readonly bool End => _position >= _span.Length;

    /// <summary>The bytes not yet consumed.</summary>
    public readonly ReadOnlySpan<byte> RemainingSpan => _span[_position..];

    /// <summary>Throws a <see cref="KafkaProtocolException"/> that names the current message, version and field.</summary>
    [DoesNotReturn]
    public readonly void Fail(string problem) => throw new KafkaProtocolException(MessageName, Version, Field, problem);

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private readonly void Truncated(int needed) =>
        Fail($"needed {needed} more byte(s) at offset {_position} but only {Remaining} remain (truncated input)");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<byte> Take(int count)
    {
        if ((uint)count > (uint)(_span.Length - _position)) Truncated(count);
        var s = _span.Slice(_position, count);
        _position += count;
        return s;
    }

    /// <summary>Skips <paramref name="count"/> bytes.</summary>
    public void Skip(int count) => Take(count);

    /// <summary>Reads <paramref name="count"/> raw bytes without copying.</summary>
    public ReadOnlySpan<byte> ReadSpan(int count) => Take(count);

    /// <summary>Reads an int8.</summary>
    public sbyte ReadInt8() => (sbyte)Take(1)[0];

    /// <summary>Reads a boolean (any non-zero byte is true).</summary>
    public bool ReadBool() => Take(1)[0] != 0;

    /// <summary>Reads an int16.</summary>
    public short ReadInt16() => BinaryPrimitives.ReadInt16BigEndian(Take(2));

    /// <summary>Reads a uint16.</summary>
    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    /// <summary>Reads an int32.</summary>
    public int ReadInt32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

    /// <summary>Reads a uint32.</summary>
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    /// <summary>Reads an int64.</summary>
    public long ReadInt64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    /// <summary>Reads a big-endian IEEE-754 float64.</summary>
    public double ReadFloat64() => BinaryPrimitives.ReadDoubleBigEndian(Take(8));

    /// <summary>Reads a UUID in RFC 4122 (big-endian) byte order.</summary>
    public Guid ReadUuid() => new(Take(16), bigEndian: true);

    /// <summary>Reads an unsigned varint (at most 5 bytes).</summary>
    public uint ReadUnsignedVarInt()
    {
        var n = VarInt.TryReadUnsigned(_span[_position..], out uint value);
        if (n == 0) Truncated(1);
        if (n < 0) Fail($"unsigned varint at offset {_position} is longer than 5 bytes or overflows 32 bits");
        _position += n;
        return value;
    }

    /// <summary>Reads a zig-zag signed varint (at most 5 bytes).</summary>
    public int ReadVarInt() => VarInt.UnZigZag(ReadUnsignedVarInt());

    /// <summary>Reads a zig-zag signed varlong (at most 10 bytes).</summary>
    public long ReadVarLong()
    {
        var n = VarInt.TryReadUnsigned(_span[_position..], out ulong value);
        if (n == 0) Truncated(1);
        if (n < 0) Fail($"varlong at offset {_position} is longer than 10 bytes or overflows 64 bits");
        _position += n;
        return VarInt.UnZigZag(value);
    }

    /// <summary>
    /// Reads a length prefix: int16 (strings), int32 (bytes and arrays) or, when <paramref name="compact"/>,
    /// an unsigned varint of length + 1. Returns -1 for null. Rejects other negative lengths.
    /// </summary>
    private int ReadLength(bool compact, bool int16)
    {
        int length;
        if (compact)
        {
            var raw = ReadUnsignedVarInt();
            if (raw > int.MaxValue) Fail($"compact length {raw} - 1 exceeds the largest supported length");
            length = (int)raw - 1;
        }
        else
        {
            length = int16 ? ReadInt16() : ReadInt32();
            if (length < -1) Fail($"negative length {length} (only -1, meaning null, is allowed)");
        }
        return length;
    }

    private string? ReadStringCore(bool compact, bool nullable)
    {
        var length = ReadLength(compact, int16: true);
        if (length < 0)
        {
            if (!nullable) Fail("null string where the field is not nullable");
            return null;
        }
        if (length > 0x7FFF) Fail($"string length {length} exceeds 32767 bytes");
        if (length > Remaining) Truncated(length);
        return Encoding.UTF8.GetString(Take(length));
    }

    /// <summary>
    /// Reads a non-nullable string's UTF-8 bytes without making a string (int16 or, when <paramref name="compact"/>,
    /// compact length): for names the caller matches against ones it already holds.
    /// </summary>
    public ReadOnlySpan<byte> ReadStringBytes(bool compact)
    {
        var length = ReadLength(compact, int16: true);
        if (length < 0) Fail("null string where the field is not nullable");
        if (length > 0x7FFF) Fail($"string length {length} exceeds 32767 bytes");
        if (length > Remaining) Truncated(length);
        return Take(length);
    }

    /// <summary>Reads a non-nullable string with an int16 length.</summary>
    public string ReadString() => ReadStringCore(false, false)!;

    /// <summary>Reads a nullable string with an int16 length.</summary>
    public string? ReadNullableString() => ReadStringCore(false, true);

    /// <summary>Reads a non-nullable compact string.</summary>
    public string ReadCompactString() => ReadStringCore(true, false)!;

    /// <summary>Reads a nullable compact string.</summary>
    public string? ReadCompactNullableString() => ReadStringCore(true, true);

    /// <summary>Reads a string in the form given by <paramref name="compact"/>.</summary>
    public string ReadString(bool compact) => ReadStringCore(compact, false)!;

    /// <summary>Reads a nullable string in the form given by <paramref name="compact"/>.</summary>
    public string? ReadNullableString(bool compact) => ReadStringCore(compact, true);

    private ReadOnlyMemory<byte>? ReadBytesCore(bool compact, bool nullable)
    {
        var length = ReadLength(compact, int16: false);
        if (length < 0)
        {
            if (!nullable) Fail("null bytes where the field is not nullable");
            return null;
        }
        if (length > Remaining) Truncated(length);
        var start = _position;
        var span = Take(length);
        return _hasMemory ? _memory.Slice(start, length) : span.ToArray();
    }

    /// <summary>Reads bytes with an int32 (or compact) length; a zero-copy slice when reading from memory.</summary>
    public ReadOnlyMemory<byte> ReadBytes(bool compact = false) => ReadBytesCore(compact, false)!.Value;

    /// <summary>Reads nullable bytes with an int32 (or compact) length; a zero-copy slice when reading from memory.</summary>
    public ReadOnlyMemory<byte>? ReadNullableBytes(bool compact = false) => ReadBytesCore(compact, true);

    /// <summary>
    /// Reads an array count: int32 or, when <paramref name="compact"/>, an unsigned varint of count + 1.
    /// Returns -1 for null. A count that the remaining bytes cannot hold at <paramref name="minElementSize"/>
    /// bytes per element is rejected before anything is allocated.
    /// </summary>
    public int ReadArrayLength(bool compact, int minElementSize = 1)
    {
        var count = ReadLength(compact, int16: false);
        if (count > 0 && (long)count * Math.Max(1, minElementSize) > Remaining)
            Fail($"array count {count} cannot fit in the {Remaining} remaining byte(s)");
        return count;
    }

    /// <summary>
    /// Reads a tagged-field section header, returning the number of fields. Use <see cref="ReadUnsignedVarInt"/>
    /// for each tag and size, then <see cref="ReadTaggedFieldValue"/> or <see cref="Skip"/>.
    /// </summary>
    public int ReadTaggedFieldCount()
    {
        var count = ReadUnsignedVarInt();
        if (count > (uint)Remaining) Fail($"tagged field count {count} cannot fit in the {Remaining} remaining byte(s)");
        return (int)count;
    }

    /// <summary>
    /// Consumes the next <paramref name="length"/> bytes and returns a reader over exactly them (zero-copy), carrying
    /// the same message, version and field names. Used for tagged values, which must not read past their size.
    /// </summary>
    public KafkaReader ReadSlice(int length)
    {
        if (length < 0) Fail($"negative length {length}");
        var start = _position;
        Take(length);
        var slice = _hasMemory
            ? new KafkaReader(_memory.Slice(start, length), MessageName, Version)
            : new KafkaReader(_span.Slice(start, length), MessageName, Version);
        slice.Field = Field;
        return slice;
    }

    /// <summary>Reads the raw value of a tagged field of <paramref name="size"/> bytes, as a slice or a copy.</summary>
    public ReadOnlyMemory<byte> ReadTaggedFieldValue(int size)
    {
        if (size < 0) Fail($"negative tagged field size {size}");
        var start = _position;
        var span = Take(size);
        return _hasMemory ? _memory.Slice(start, size) : span.ToArray();
    }
}
