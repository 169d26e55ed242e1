using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Kiel.Protocol;

/// <summary>
/// Writes Kafka protocol primitives (big-endian) into an <see cref="IBufferWriter{T}"/> or a fixed
/// <see cref="Span{T}"/>. Call <see cref="Flush"/> when done with a buffer writer so that it is advanced.
/// </summary>
internal ref struct KafkaWriter
{
    private readonly IBufferWriter<byte>? _output;
    private Span<byte> _span;
    private int _buffered;
    private long _flushed;

    /// <summary>Writes into a growing buffer writer.</summary>
    public KafkaWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _span = default;
        _buffered = 0;
        _flushed = 0;
    }

    /// <summary>Writes into a fixed span; writing past its end throws.</summary>
    public KafkaWriter(Span<byte> destination)
    {
        _output = null;
        _span = destination;
        _buffered = 0;
        _flushed = 0;
    }

    /// <summary>Total bytes written so far.</summary>
    public readonly long BytesWritten => _flushed + _buffered;

    /// <summary>Advances the underlying buffer writer past what has been written. A no-op over a span.</summary>
    public void Flush()
    {
        if (_output is not null && _buffered > 0)
        {
            _output.Advance(_buffered);
            _flushed += _buffered;
            _span = default;
            _buffered = 0;
        }
    }

    /// <summary>Returns a span of at least <paramref name="size"/> bytes to write into; call <see cref="Advance"/> after.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> GetSpan(int size)
    {
        if (_span.Length - _buffered < size) Grow(size);
        return _span[_buffered..];
    }

    /// <summary>Marks <paramref name="count"/> bytes of the last <see cref="GetSpan"/> as written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Advance(int count) => _buffered += count;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int size)
    {
        if (_output is null)
            throw new InvalidOperationException($"The destination span is too small: {size} more byte(s) needed after {_buffered}.");
        Flush();
        _span = _output.GetSpan(size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Reserve(int size)
    {
        if (_span.Length - _buffered < size) Grow(size);
        var s = _span.Slice(_buffered, size);
        _buffered += size;
        return s;
    }

    /// <summary>Writes raw bytes.</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        if (_output is null || bytes.Length <= 4096)
        {
            bytes.CopyTo(Reserve(bytes.Length));
            return;
        }
        // Large payloads (record sets) go through in chunks so the buffer writer never needs one huge block.
        while (!bytes.IsEmpty)
        {
            var dest = GetSpan(1);
            var n = Math.Min(dest.Length, bytes.Length);
            bytes[..n].CopyTo(dest);
            Advance(n);
            bytes = bytes[n..];
        }
    }

    /// <summary>Writes an int8.</summary>
    public void WriteInt8(sbyte value) => Reserve(1)[0] = (byte)value;

    /// <summary>Writes a boolean as 0 or 1.</summary>
    public void WriteBool(bool value) => Reserve(1)[0] = value ? (byte)1 : (byte)0;

    /// <summary>Writes an int16.</summary>
    public void WriteInt16(short value) => BinaryPrimitives.WriteInt16BigEndian(Reserve(2), value);

    /// <summary>Writes a uint16.</summary>
    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Reserve(2), value);

    /// <summary>Writes an int32.</summary>
    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32BigEndian(Reserve(4), value);

    /// <summary>Writes a uint32.</summary>
    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Reserve(4), value);

    /// <summary>Writes an int64.</summary>
    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64BigEndian(Reserve(8), value);

    /// <summary>Writes a big-endian IEEE-754 float64.</summary>
    public void WriteFloat64(double value) => BinaryPrimitives.WriteDoubleBigEndian(Reserve(8), value);

    /// <summary>Writes a UUID in RFC 4122 (big-endian) byte order.</summary>
    public void WriteUuid(Guid value)
    {
        if (!value.TryWriteBytes(Reserve(16), bigEndian: true, out _))
            throw new InvalidOperationException("UUID did not fit in 16 bytes.");
    }

    /// <summary>Writes an unsigned varint.</summary>
    public void WriteUnsignedVarInt(uint value)
    {
        var dest = GetSpan(VarInt.MaxLength32);
        Advance(VarInt.WriteUnsigned(dest, value));
    }

    /// <summary>Writes a zig-zag signed varint.</summary>
    public void WriteVarInt(int value) => WriteUnsignedVarInt(VarInt.ZigZag(value));

    /// <summary>Writes a zig-zag signed varlong.</summary>
    public void WriteVarLong(long value)
    {
        var dest = GetSpan(VarInt.MaxLength64);
        Advance(VarInt.WriteUnsigned(dest, VarInt.ZigZag(value)));
    }

    private void WriteLength(int length, bool compact, bool int16)
    {
        if (compact) WriteUnsignedVarInt((uint)(length + 1));
        else if (int16) WriteInt16((short)length);
        else WriteInt32(length);
    }

    /// <summary>Writes a string (or null, where the field allows it) with an int16 or compact length.</summary>
    public void WriteString(string? value, bool compact = false)
    {
        if (value is null)
        {
            WriteLength(-1, compact, int16: true);
            return;
        }
        var byteCount = Encoding.UTF8.GetByteCount(value);
        if (byteCount > 0x7FFF)
            throw new ArgumentException($"A Kafka string is at most 32767 UTF-8 bytes; this one has {byteCount}.", nameof(value));
        WriteLength(byteCount, compact, int16: true);
        var dest = Reserve(byteCount);
        Encoding.UTF8.GetBytes(value, dest);
    }

    /// <summary>Writes bytes with an int32 or compact length.</summary>
    public void WriteBytes(ReadOnlySpan<byte> value, bool compact = false)
    {
        WriteLength(value.Length, compact, int16: false);
        WriteRaw(value);
    }

    /// <summary>Writes nullable bytes with an int32 or compact length (-1 or 0 for null).</summary>
    public void WriteNullableBytes(ReadOnlyMemory<byte>? value, bool compact = false)
    {
        if (value is null)
        {
            WriteLength(-1, compact, int16: false);
            return;
        }
        var bytes = value.Value;
        if (bytes.Length >= SegmentThreshold && _output is PooledBufferWriter { GathersSegments: true } frame
            && MemoryMarshal.TryGetMemoryManager(bytes, out SharedBuffer? owner, out var start, out var length))
        {
            WriteLength(length, compact, int16: false);
            Flush();
            // The holder of the memory keeps its reference while the request is written; an owner found released is a bug.
            if (!frame.TryAppendSegment(owner, start, length))
                throw new InvalidOperationException("A bytes field refers to a shared buffer that has already been released.");
            _flushed += length;
            return;
        }
        WriteBytes(bytes.Span, compact);
    }

    /// <summary>
    /// Bytes fields at least this long that live in a <see cref="SharedBuffer"/> (encoded record batches) are referenced
    /// by a frame that <see cref="PooledBufferWriter.GathersSegments"/> instead of being copied into it.
    /// </summary>
    public const int SegmentThreshold = 32 * 1024;

    /// <summary>Writes an array count (-1 for a null array) as int32 or compact.</summary>
    public void WriteArrayLength(int count, bool compact = false) => WriteLength(count, compact, int16: false);
}
