using System.Buffers;
using System.Buffers.Binary;
using Kiel.Protocol;

namespace Kiel.Producing.Internal;

/// <summary>
/// A batch's records in a neutral, pooled form (timestamp, key, value, headers), encoded to the wire format only when
/// the batch is sent. The leader's record format can change with a leader move, and MESSAGE_TOO_LARGE splits
/// re-encode halves: both need the records, not one wire format.
/// </summary>
/// <remarks>Entry layout: int64 timestamp, int32 key length (-1 null), key, int32 value length (-1 null), value,
/// int32 header count, then per header int32 key length, key (UTF-8), int32 value length (-1 null), value.</remarks>
internal sealed class RecordArena : IBufferWriter<byte>, IDisposable
{

    private byte[] _buffer;
    private int _written;
    private SharedBuffer? _shared;
    private static readonly Action<byte[]> s_returnToPool = BatchBufferPool.Return;

    public RecordArena(int initialCapacity) => _buffer = BatchBufferPool.Rent(Math.Max(256, initialCapacity));

    /// <summary>Gives a disposed arena a new buffer, for reuse of the object (a pooled batch).</summary>
    public void Reopen(int initialCapacity)
    {
        if (_buffer.Length != 0) throw new InvalidOperationException("Only a disposed arena is reopened.");
        _buffer = BatchBufferPool.Rent(Math.Max(256, initialCapacity));
        _written = 0;
    }

    public int Length => _written;
    /// <summary>The bytes the arena holds now, used or not.</summary>
    public int Capacity => _buffer.Length;
    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, _written);
    public Span<byte> MutableSpan => _buffer.AsSpan(0, _written);
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, _written);

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0) { Ensure(sizeHint); return _buffer.AsMemory(_written); }

    public Span<byte> GetSpan(int sizeHint = 0) { Ensure(sizeHint); return _buffer.AsSpan(_written); }

    public void WriteInt64(long value) { BinaryPrimitives.WriteInt64LittleEndian(GetSpan(8), value); _written += 8; }

    public void WriteInt32(int value) { BinaryPrimitives.WriteInt32LittleEndian(GetSpan(4), value); _written += 4; }

    public void WriteInt32At(int position, int value) => BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(position), value);

    public void Write(ReadOnlySpan<byte> data) { data.CopyTo(GetSpan(data.Length)); _written += data.Length; }

    public void Truncate(int length) => _written = length;

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1) sizeHint = 1;
        if (_buffer.Length - _written >= sizeHint) return;
        if (_shared is not null) throw new InvalidOperationException("The arena's bytes are shared with a request and cannot grow.");
        var bigger = BatchBufferPool.Rent(Math.Max(_buffer.Length * 2, _written + sizeHint));
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        BatchBufferPool.Return(_buffer);
        _buffer = bigger;
    }

    public void Dispose()
    {
        var b = _buffer;
        var shared = _shared;
        _buffer = [];
        _written = 0;
        _shared = null;
        // A shared array goes back to the pool when the last request frame writing it lets it go as well.
        if (shared is not null) shared.Release();
        else if (b.Length > 0) BatchBufferPool.Return(b);
    }

    /// <summary>
    /// The bytes written, for a request: from <see cref="KafkaWriter.SegmentThreshold"/> bytes on as memory of a
    /// <see cref="SharedBuffer"/>, which a request frame writes in place instead of copying (the arena must not be
    /// written again then; <see cref="Dispose"/> drops its reference). Smaller ones as plain memory, copied into the frame.
    /// </summary>
    public ReadOnlyMemory<byte> MemoryForRequest()
    {
        if (_written < KafkaWriter.SegmentThreshold) return Memory;
        _shared ??= new SharedBuffer(_buffer, s_returnToPool);
        return _shared.Memory[.._written];
    }

    /// <summary>One decoded entry; spans point into the arena.</summary>
    public ref struct Entry
    {
        public long Timestamp;
        public ReadOnlySpan<byte> Key;
        public bool KeyIsNull;
        public ReadOnlySpan<byte> Value;
        public bool ValueIsNull;
        public ReadOnlySpan<byte> Headers; // raw header region after the count
        public int HeaderCount;
    }

    /// <summary>Reads the header at <paramref name="position"/> of an entry's header region; returns the position of the next.</summary>
    public static int ReadHeader(ReadOnlySpan<byte> headers, int position, out ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value, out int valueLength)
    {
        var p = position;
        var kl = BinaryPrimitives.ReadInt32LittleEndian(headers[p..]); p += 4;
        key = headers.Slice(p, kl); p += kl;
        valueLength = BinaryPrimitives.ReadInt32LittleEndian(headers[p..]); p += 4;
        value = valueLength > 0 ? headers.Slice(p, valueLength) : default;
        return p + Math.Max(0, valueLength);
    }

    /// <summary>Reads the entry at <paramref name="position"/> and returns the position of the next.</summary>
    public static int Read(ReadOnlySpan<byte> arena, int position, out Entry entry)
    {
        var p = position;
        entry = default;
        entry.Timestamp = BinaryPrimitives.ReadInt64LittleEndian(arena[p..]); p += 8;
        var kl = BinaryPrimitives.ReadInt32LittleEndian(arena[p..]); p += 4;
        entry.KeyIsNull = kl < 0;
        if (kl > 0) { entry.Key = arena.Slice(p, kl); p += kl; }
        var vl = BinaryPrimitives.ReadInt32LittleEndian(arena[p..]); p += 4;
        entry.ValueIsNull = vl < 0;
        if (vl > 0) { entry.Value = arena.Slice(p, vl); p += vl; }
        entry.HeaderCount = BinaryPrimitives.ReadInt32LittleEndian(arena[p..]); p += 4;
        var hs = p;
        for (var i = 0; i < entry.HeaderCount; i++)
        {
            var hk = BinaryPrimitives.ReadInt32LittleEndian(arena[p..]); p += 4 + hk;
            var hv = BinaryPrimitives.ReadInt32LittleEndian(arena[p..]); p += 4 + Math.Max(0, hv);
        }
        entry.Headers = arena[hs..p];
        return p;
    }
}
