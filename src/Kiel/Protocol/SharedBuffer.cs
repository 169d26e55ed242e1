using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kiel.Protocol;

/// <summary>
/// A pooled array shared by reference count between its owner (a producer batch's encoded bytes) and the request
/// frames that write it to a socket without copying it (<see cref="PooledBufferWriter.GathersSegments"/>). The array
/// goes back to its pool when the last holder releases it, so a frame abandoned while it is still being written never
/// sends bytes that another batch has since written into the same array.
/// </summary>
internal sealed class SharedBuffer : MemoryManager<byte>
{
    private readonly byte[] _array;
    private readonly Action<byte[]> _return;
    private int _references = 1;

    /// <summary>Takes <paramref name="array"/> with one reference, the caller's; <paramref name="returnArray"/> runs when the last is released.</summary>
    public SharedBuffer(byte[] array, Action<byte[]> returnArray)
    {
        _array = array;
        _return = returnArray;
    }

    /// <summary>The array (the holder of a reference may read it; its owner writes it again only to re-stamp a batch
    /// for a retry, once the request that last wrote it has been answered or abandoned).</summary>
    public byte[] Array => _array;

    /// <summary>Adds a reference; false when the array has already gone back to its pool.</summary>
    public bool TryAddReference()
    {
        while (true)
        {
            var current = Volatile.Read(ref _references);
            if (current <= 0) return false;
            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current) return true;
        }
    }

    /// <summary>Drops a reference; the last one returns the array.</summary>
    public void Release()
    {
        var left = Interlocked.Decrement(ref _references);
        if (left == 0) _return(_array);
        else if (left < 0) throw new InvalidOperationException("A shared buffer was released more often than it was referenced.");
    }

    /// <summary>References held now (tests).</summary>
    internal int References => Volatile.Read(ref _references);

    /// <inheritdoc />
    public override Span<byte> GetSpan() => _array;

    /// <inheritdoc />
    public override unsafe MemoryHandle Pin(int elementIndex = 0)
    {
        var handle = GCHandle.Alloc(_array, GCHandleType.Pinned);
        var pointer = Unsafe.Add<byte>((void*)handle.AddrOfPinnedObject(), elementIndex);
        return new MemoryHandle(pointer, handle, this);
    }

    /// <inheritdoc />
    public override void Unpin() { }

    /// <summary>Hands out the array itself, so that sockets take their array path rather than pinning.</summary>
    protected override bool TryGetArray(out ArraySegment<byte> segment)
    {
        segment = new ArraySegment<byte>(_array);
        return true;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing) { }
}
