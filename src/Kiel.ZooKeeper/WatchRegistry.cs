namespace Kiel.ZooKeeper;

/// <summary>
/// The client's one-shot watches, by kind and path (paths relative to the chroot). A watcher fires at most once
/// per registration, and the same callback registered twice for the same path and kind fires once, as in ZooKeeper.
/// </summary>
internal sealed class WatchRegistry
{
    private readonly Dictionary<string, HashSet<Action<WatchedEvent>>> _data = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<Action<WatchedEvent>>> _exist = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<Action<WatchedEvent>>> _child = new(StringComparer.Ordinal);
    private readonly object _lock = new();

    internal enum Kind { Data, Exist, Child }

    internal void Add(Kind kind, string path, Action<WatchedEvent> watcher)
    {
        lock (_lock)
        {
            var map = Map(kind);
            if (!map.TryGetValue(path, out var set)) map[path] = set = [];
            set.Add(watcher);
        }
    }

    private Dictionary<string, HashSet<Action<WatchedEvent>>> Map(Kind kind) => kind switch
    {
        Kind.Data => _data,
        Kind.Exist => _exist,
        _ => _child,
    };

    /// <summary>Removes and returns the watchers an event triggers.</summary>
    internal List<Action<WatchedEvent>> Trigger(WatchEventType type, string path)
    {
        var fired = new List<Action<WatchedEvent>>();
        lock (_lock)
        {
            switch (type)
            {
                case WatchEventType.NodeCreated:
                case WatchEventType.NodeDataChanged:
                    Take(_data, path, fired);
                    Take(_exist, path, fired);
                    break;
                case WatchEventType.NodeDeleted:
                    Take(_data, path, fired);
                    Take(_exist, path, fired);
                    Take(_child, path, fired);
                    break;
                case WatchEventType.NodeChildrenChanged:
                    Take(_child, path, fired);
                    break;
            }
        }
        return fired;
    }

    private static void Take(Dictionary<string, HashSet<Action<WatchedEvent>>> map, string path, List<Action<WatchedEvent>> into)
    {
        if (!map.Remove(path, out var set)) return;
        foreach (var w in set) if (!into.Contains(w)) into.Add(w);
    }

    /// <summary>Removes and returns every watcher (on expiry or close).</summary>
    internal List<Action<WatchedEvent>> TakeAll()
    {
        var all = new List<Action<WatchedEvent>>();
        lock (_lock)
        {
            foreach (var map in new[] { _data, _exist, _child })
            {
                foreach (var set in map.Values) foreach (var w in set) if (!all.Contains(w)) all.Add(w);
                map.Clear();
            }
        }
        return all;
    }

    /// <summary>The watched paths of each kind, for setWatches after a reconnect.</summary>
    internal (List<string> Data, List<string> Exist, List<string> Child) Snapshot()
    {
        lock (_lock) return ([.. _data.Keys], [.. _exist.Keys], [.. _child.Keys]);
    }

    internal int Count
    {
        get { lock (_lock) return _data.Count + _exist.Count + _child.Count; }
    }
}
