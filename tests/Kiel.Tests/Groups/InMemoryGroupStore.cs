using System.Text.Json;
using Kiel.Groups;

namespace Kiel.Tests.Groups;

/// <summary>A ZooKeeper stand-in for one group: ephemeral nodes belong to sessions, and expiring a session drops them.</summary>
internal sealed class InMemoryGroupServer
{
    private readonly object _gate = new();
    private readonly Dictionary<string, long> _members = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Member, long Session)> _owners = new(StringComparer.Ordinal);
    private readonly List<InMemoryGroupStore> _stores = [];
    private HashSet<string> _partitions = new(StringComparer.Ordinal);
    private string? _allocation;
    private int _allocationVersion = -1;
    private long _nextSession = 1;

    public int PartitionWrites { get; private set; }

    public InMemoryGroupStore Connect() { lock (_gate) { var s = new InMemoryGroupStore(this, _nextSession++); _stores.Add(s); return s; } }

    public IReadOnlyDictionary<string, string> Owners { get { lock (_gate) return _owners.ToDictionary(kv => kv.Key, kv => kv.Value.Member); } }

    public IReadOnlyList<string> Members { get { lock (_gate) return _members.Keys.ToArray(); } }

    private void NotifyAll()
    {
        InMemoryGroupStore[] stores;
        lock (_gate) stores = _stores.ToArray();
        foreach (var s in stores) s.RaiseChanged();
    }

    /// <summary>Ends a session as a crash or an expiry does: its ephemeral nodes go, and everyone is told.</summary>
    public void DropSession(long session)
    {
        lock (_gate)
        {
            foreach (var m in _members.Where(kv => kv.Value == session).Select(kv => kv.Key).ToArray()) _members.Remove(m);
            foreach (var o in _owners.Where(kv => kv.Value.Session == session).Select(kv => kv.Key).ToArray()) _owners.Remove(o);
        }
        NotifyAll();
    }

    internal void Remove(InMemoryGroupStore store) { lock (_gate) _stores.Remove(store); }

    internal long NewSession() { lock (_gate) return _nextSession++; }

    internal void Join(string member, long session) { lock (_gate) _members[member] = session; NotifyAll(); }

    internal void Leave(string member, long session)
    {
        bool removed;
        lock (_gate) removed = _members.TryGetValue(member, out var s) && s == session && _members.Remove(member);
        if (removed) NotifyAll();
    }

    internal bool IsMember(string member, long session) { lock (_gate) return _members.TryGetValue(member, out var s) && s == session; }

    internal IReadOnlyList<string> GetMembers() { lock (_gate) return _members.Keys.ToArray(); }

    internal IReadOnlyList<string> GetPartitions() { lock (_gate) return _partitions.ToArray(); }

    internal void RemovePartitions(IEnumerable<string> items)
    {
        lock (_gate)
        {
            var next = new HashSet<string>(_partitions, StringComparer.Ordinal);
            next.ExceptWith(items);
            if (next.SetEquals(_partitions)) return;
            _partitions = next;
            PartitionWrites++;
        }
        NotifyAll();
    }

    internal void AddPartitions(IEnumerable<string> items)
    {
        lock (_gate)
        {
            var next = new HashSet<string>(_partitions, StringComparer.Ordinal);
            next.UnionWith(items);
            if (next.SetEquals(_partitions)) return;
            _partitions = next;
            PartitionWrites++;
        }
        NotifyAll();
    }

    /// <summary>While set to a member's name, that member's claims reach the server (the claim node is written for
    /// its session) and their answers are lost with the connection.</summary>
    public volatile string? LoseClaimAnswersOf;

    internal bool TryClaim(string partition, string member, long session)
    {
        lock (_gate)
        {
            if (_owners.TryGetValue(partition, out var o)) return o.Session == session;
            _owners[partition] = (member, session);
            return true;
        }
    }

    internal bool IsClaimed(string partition) { lock (_gate) return _owners.ContainsKey(partition); }

    internal void Release(string partition, long session)
    {
        lock (_gate) if (_owners.TryGetValue(partition, out var o) && o.Session == session) _owners.Remove(partition);
    }

    internal (string?, int) GetAllocation() { lock (_gate) return (_allocation, _allocationVersion); }

    internal bool TrySetAllocation(string json, int expected)
    {
        lock (_gate)
        {
            if (expected != _allocationVersion) return false;
            _allocation = json;
            _allocationVersion++;
        }
        NotifyAll();
        return true;
    }

    public string PartitionsJson { get { lock (_gate) return JsonSerializer.Serialize(_partitions.Order(StringComparer.Ordinal)); } }
}

internal sealed class InMemoryGroupStore(InMemoryGroupServer server, long session) : IGroupStore
{
    private long _session = session;
    private volatile bool _connected;
    private volatile bool _closed;

    public long Session => Interlocked.Read(ref _session);

    public event Action<GroupSessionState>? SessionChanged;
    public event Action? Changed;

    internal void RaiseChanged() { if (_connected && !_closed) Changed?.Invoke(); }

    public Task ConnectAsync(CancellationToken cancellationToken)
    {
        _connected = true;
        SessionChanged?.Invoke(GroupSessionState.Connected);
        return Task.CompletedTask;
    }

    /// <summary>The connection drops (the session lives on).</summary>
    public void Suspend() { _connected = false; SessionChanged?.Invoke(GroupSessionState.Suspended); }

    /// <summary>The connection comes back on the same session.</summary>
    public void Reconnect() { _connected = true; SessionChanged?.Invoke(GroupSessionState.Reconnected); Changed?.Invoke(); }

    /// <summary>The session expires; a new one is opened, as the ZooKeeper client does.</summary>
    public void Expire()
    {
        var old = Session;
        _connected = false;
        server.DropSession(old);
        SessionChanged?.Invoke(GroupSessionState.Expired);
        Interlocked.Exchange(ref _session, server.NewSession());
        _connected = true;
        SessionChanged?.Invoke(GroupSessionState.Connected);
    }

    /// <summary>The process dies: the session's nodes vanish and this store says nothing more.</summary>
    public void Crash() { _closed = true; server.DropSession(Session); server.Remove(this); }

    private void Check()
    {
        if (_closed) throw new ObjectDisposedException("store");
        if (!_connected) throw new InvalidOperationException("connection loss");
    }

    /// <summary>How many of the next joins fail with a connection loss (after reaching the server: the member node is written).</summary>
    public int JoinConnectionLosses;

    public Task JoinAsync(string member, CancellationToken cancellationToken)
    {
        Check();
        server.Join(member, Session);
        if (Interlocked.Decrement(ref JoinConnectionLosses) >= 0) throw new Kiel.ZooKeeper.ConnectionLossException("/members/" + member, "The connection was lost while the join was in flight.", null);
        return Task.CompletedTask;
    }
    private int _memberChecks;
    /// <summary>How many times the member node was asked about (the lease check).</summary>
    public int MemberChecks => Volatile.Read(ref _memberChecks);
    public Task<bool> IsMemberAsync(string member, CancellationToken cancellationToken) { Check(); Interlocked.Increment(ref _memberChecks); return Task.FromResult(server.IsMember(member, Session)); }
    public Task LeaveAsync(string member, CancellationToken cancellationToken) { Check(); server.Leave(member, Session); return Task.CompletedTask; }
    public Task<IReadOnlyList<string>> GetMembersAsync(CancellationToken cancellationToken) { Check(); return Task.FromResult(server.GetMembers()); }
    public Task<IReadOnlyList<string>> GetPartitionsAsync(CancellationToken cancellationToken) { Check(); return Task.FromResult(server.GetPartitions()); }
    public Task AddPartitionsAsync(IReadOnlyCollection<string> partitions, CancellationToken cancellationToken) { Check(); server.AddPartitions(partitions); return Task.CompletedTask; }
    public Task RemovePartitionsAsync(IReadOnlyCollection<string> partitions, CancellationToken cancellationToken) { Check(); server.RemovePartitions(partitions); return Task.CompletedTask; }
    public Task<bool> TryClaimAsync(string partition, string member, CancellationToken cancellationToken)
    {
        Check();
        var claimed = server.TryClaim(partition, member, Session);
        if (server.LoseClaimAnswersOf == member) throw new Kiel.ZooKeeper.ConnectionLossException("/owners/" + partition, "The connection was lost while the claim was in flight; it may or may not have been applied.", null);
        return Task.FromResult(claimed);
    }

    public async Task WaitForReleaseAsync(string partition, TimeSpan poll, CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + poll;
        while (DateTime.UtcNow < until && server.IsClaimed(partition)) await Task.Delay(10, cancellationToken);
    }

    /// <summary>How many of the next releases fail with a connection loss (before reaching the server: the claim stays).</summary>
    public int ReleaseConnectionLosses;

    public Task ReleaseAsync(string partition, CancellationToken cancellationToken)
    {
        Check();
        if (Interlocked.Decrement(ref ReleaseConnectionLosses) >= 0) throw new Kiel.ZooKeeper.ConnectionLossException("/owners/" + partition, "The connection was lost before the release was sent.", null);
        server.Release(partition, Session);
        return Task.CompletedTask;
    }
    public Task<IReadOnlyDictionary<string, string>> GetOwnersAsync(CancellationToken cancellationToken) => Task.FromResult(server.Owners);
    public Task<(string? Json, int Version)> GetAllocationAsync(CancellationToken cancellationToken) { Check(); return Task.FromResult(server.GetAllocation()); }
    public Task<bool> TrySetAllocationAsync(string json, int expectedVersion, CancellationToken cancellationToken) { Check(); return Task.FromResult(server.TrySetAllocation(json, expectedVersion)); }

    public ValueTask DisposeAsync()
    {
        if (!_closed)
        {
            _closed = true;
            server.DropSession(Session);
            server.Remove(this);
        }
        return ValueTask.CompletedTask;
    }
}
