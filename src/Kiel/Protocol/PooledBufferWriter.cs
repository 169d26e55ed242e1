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

    /// <summary>Forgets what was written and keeps the array.</summary>
    public void Clear() => _written = 0;

    /// <summary>Drops the bytes after the first <paramref name="length"/>.</summary>
    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _written);
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
        Return();
        _written = 0;
    }
}
