using System.Buffers;

namespace Kiel.Protocol;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> over arrays rented from <see cref="ArrayPool{T}.Shared"/>. It grows by renting a
/// larger array and returning the old one, and <see cref="Clear"/> keeps the array for reuse, so a long-lived writer
/// stops allocating once it has reached its working size.
/// </summary>
/// <remarks>Not thread-safe. Memory handed out stays valid until the next <see cref="GetSpan"/>, <see cref="Clear"/> or <see cref="Dispose"/>.</remarks>
internal sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    private byte[] _buffer;
    private int _written;
    private List<Segment>? _segments;

    /// <summary>A shared array's bytes that follow the inline bytes up to <see cref="At"/>, written in place rather than copied.</summary>
    internal readonly record struct Segment(int At, SharedBuffer Owner, int Start, int Length);

    /// <summary>Creates a writer that rents <paramref name="initialCapacity"/> bytes on first use.</summary>
    public PooledBufferWriter(int initialCapacity = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initialCapacity);
        _buffer = initialCapacity == 0 ? [] : ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    /// <summary>The bytes written so far, as memory.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    /// <summary>The bytes written so far, writable in place (used to patch headers).</summary>
    public Span<byte> WrittenSpanMutable => _buffer.AsSpan(0, _written);

    /// <summary>The number of bytes written.</summary>
    public int WrittenCount => _written;

    /// <summary>The size of the rented array.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>
    /// When true, bytes fields of at least <see cref="KafkaWriter.SegmentThreshold"/> bytes backed by a
    /// <see cref="SharedBuffer"/> are not copied: the writer keeps a reference to them as a <see cref="Segment"/>
    /// (a request frame whose encoded record batches the connection writes from where they are). Only a writer whose
    /// reader knows segments (<see cref="Network.BrokerConnection"/>) turns it on; <see cref="WrittenSpan"/> then
    /// holds the inline bytes alone.
    /// </summary>
    public bool GathersSegments { get; set; }

    /// <summary>The shared segments, in order, or null when there are none.</summary>
    internal IReadOnlyList<Segment>? Segments => _segments is { Count: > 0 } segments ? segments : null;

    /// <summary>The bytes of every segment together.</summary>
    public long SegmentBytes { get; private set; }

    /// <summary>Inline and segment bytes together: the length of what this writer holds.</summary>
    public long TotalLength => _written + SegmentBytes;

    /// <summary>Appends a reference to <paramref name="length"/> bytes of <paramref name="owner"/> at <paramref name="start"/>; false (nothing appended) when the owner has already let its array go.</summary>
    internal bool TryAppendSegment(SharedBuffer owner, int start, int length)
    {
        if (!owner.TryAddReference()) return false;
        (_segments ??= []).Add(new Segment(_written, owner, start, length));
        SegmentBytes += length;
        return true;
    }

    /// <summary>
    /// Adds what this writer holds to <paramref name="pieces"/> in wire order: each run of inline bytes, and each
    /// segment in place between them (a frame is written or sent from these pieces).
    /// </summary>
    internal void AddPieces(List<ArraySegment<byte>> pieces)
    {
        var at = 0;
        if (_segments is { } segments)
        {
            // Indexed rather than foreach: no enumerator per frame.
            for (var k = 0; k < segments.Count; k++)
            {
                var segment = segments[k];
                if (segment.At > at) pieces.Add(new ArraySegment<byte>(_buffer, at, segment.At - at));
                pieces.Add(new ArraySegment<byte>(segment.Owner.Array, segment.Start, segment.Length));
                at = segment.At;
            }
        }
        if (at < _written) pieces.Add(new ArraySegment<byte>(_buffer, at, _written - at));
    }

    private void ReleaseSegments()
    {
        if (_segments is null) return;
        foreach (var s in _segments) s.Owner.Release();
        // The list is kept for the writer's next frame (a pooled frame writer).
        _segments.Clear();
        SegmentBytes = 0;
    }

    /// <summary>Forgets what was written and keeps the array.</summary>
    public void Clear()
    {
        ReleaseSegments();
        _written = 0;
    }

    /// <summary>Drops the bytes after the first <paramref name="length"/>.</summary>
    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _written);
        if (_segments is { Count: > 0 }) throw new InvalidOperationException("A writer holding shared segments cannot be truncated.");
        _written = length;
    }

    /// <inheritdoc />
    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count > _buffer.Length - _written) throw new InvalidOperationException("Advanced past the end of the buffer.");
        _written += count;
    }

    /// <inheritdoc />
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    /// <inheritdoc />
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    /// <summary>Appends bytes.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        _written += bytes.Length;
    }

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1) sizeHint = 1;
        if (sizeHint <= _buffer.Length - _written) return;
        var needed = (long)_written + sizeHint;
        if (needed > Array.MaxLength) throw new OutOfMemoryException($"A pooled buffer cannot grow past {Array.MaxLength} bytes.");
        var size = (int)Math.Min(Array.MaxLength, Math.Max(needed, Math.Max(256L, (long)_buffer.Length * 2)));
        var next = ArrayPool<byte>.Shared.Rent(size);
        _buffer.AsSpan(0, _written).CopyTo(next);
        Return();
        _buffer = next;
    }

    private void Return()
    {
        if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    /// <summary>Returns the array to the pool. The writer can still be used afterwards; it rents again.</summary>
    public void Dispose()
    {
        ReleaseSegments();
        Return();
        _written = 0;
    }
}
