using System.Buffers;
using Kiel.Protocol;

namespace Kiel.Producing.Internal;

/// <summary>
/// A growable byte buffer rented from <see cref="BatchBufferPool"/>: a batch's records (a magic 2 batch under
/// construction, see <see cref="BatchEncoder"/>) or another wire form of them, which a request frame can write in place.
/// </summary>
internal sealed class RecordArena : IBufferWriter<byte>, IDisposable
{

    private byte[] _buffer;
    private int _written;
    private SharedBuffer? _shared;
    private static readonly Action<byte[]> s_returnToPool = BatchBufferPool.Return;

    /// <summary>An arena of <paramref name="initialCapacity"/> bytes, or of at least <paramref name="minimumCapacity"/>
    /// when the pool holds a smaller array but none of that size (see <see cref="BatchBufferPool.Rent(int, int)"/>).</summary>
    public RecordArena(int initialCapacity, int minimumCapacity = int.MaxValue) =>
        _buffer = BatchBufferPool.Rent(Math.Max(256, initialCapacity), minimumCapacity);

    /// <summary>Gives a disposed arena a new buffer, for reuse of the object (a pooled batch).</summary>
    public void Reopen(int initialCapacity, int minimumCapacity = int.MaxValue)
    {
        if (_buffer.Length != 0) throw new InvalidOperationException("Only a disposed arena is reopened.");
        _buffer = BatchBufferPool.Rent(Math.Max(256, initialCapacity), minimumCapacity);
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
}
