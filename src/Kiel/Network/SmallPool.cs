using System.Diagnostics.CodeAnalysis;

namespace Kiel.Network;

/// <summary>A few objects kept for reuse under a lock, up to <paramref name="capacity"/>; more are left to the GC.</summary>
/// <param name="capacity">The most objects kept.</param>
internal sealed class SmallPool<T>(int capacity) where T : class
{
    private readonly Stack<T> _items = new();

    /// <summary>How many objects are kept now.</summary>
    public int Count { get { lock (_items) return _items.Count; } }

    /// <summary>Takes a kept object, if there is one.</summary>
    public bool TryRent([NotNullWhen(true)] out T? item)
    {
        lock (_items) return _items.TryPop(out item);
    }

    /// <summary>Keeps <paramref name="item"/>, unless the pool is full.</summary>
    public void Return(T item)
    {
        lock (_items)
            if (_items.Count < capacity) _items.Push(item);
    }
}
