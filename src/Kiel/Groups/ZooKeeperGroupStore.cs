using System.Text;
using System.Text.Json;
using Kiel.ZooKeeper;
using Kiel.ZooKeeper.Recipes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.Groups;

/// <summary>The group's coordination state in ZooKeeper, in kiel's layout; one instance is one client and one session at a time.</summary>
internal sealed class ZooKeeperGroupStore : IGroupStore, ISessionLease
{
    private readonly ZooKeeperClient _zk;
    private readonly GroupPaths _paths;
    private readonly CancellationTokenSource _closed = new();
    private int _disposed;

    private readonly TimeProvider _time;

    /// <summary>The ACL of the group's znodes (null: world:anyone), also for the ones a transaction creates.</summary>
    private readonly IReadOnlyList<ZooKeeperAcl>? _acl;

    public ZooKeeperGroupStore(string connectString, string group, TimeSpan sessionTimeout, TimeSpan connectTimeout, ILoggerFactory? loggerFactory, TimeProvider? time = null,
        Func<ZooKeeperClientOptions, ZooKeeperClientOptions>? secure = null)
    {
        _paths = new GroupPaths(group);
        _sessionTimeout = sessionTimeout;
        _time = time ?? TimeProvider.System;
        var options = new ZooKeeperClientOptions
        {
            ConnectString = connectString,
            SessionTimeout = sessionTimeout,
            ConnectionWaitTimeout = connectTimeout,
            LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance,
            TimeProvider = _time,
        };
        if (secure is not null) options = secure(options);
        _acl = options.DefaultAcl;
        _zk = new ZooKeeperClient(options);
        _zk.StateChanged += OnStateChanged;
    }

    public event Action<GroupSessionState>? SessionChanged;

    private readonly TimeSpan _sessionTimeout;

    long ISessionLease.SessionId => _zk.SessionId;

    TimeSpan ISessionLease.SessionTimeout => _zk.NegotiatedSessionTimeout > TimeSpan.Zero ? _zk.NegotiatedSessionTimeout : _sessionTimeout;

    // The newest membership check that the leader stood behind (see IsMemberAsync): when it was sent, and for which session.
    private long _confirmedAt;
    private long _confirmedSession;
    private readonly Lock _confirmedGate = new();

    /// <summary>
    /// When the newest membership check confirmed through the leader was sent (0 when none for the current session).
    /// Not the last ping or read: a server answers those from its own copy of the state, and a follower that lags the
    /// leader (or is cut off from it, for up to syncLimit ticks) still answers for a session the leader has already
    /// expired, whose partitions another member may be reading by then.
    /// </summary>
    long ISessionLease.LastContactTimestamp
    {
        get
        {
            lock (_confirmedGate) return _confirmedSession != 0 && _confirmedSession == _zk.SessionId ? _confirmedAt : 0;
        }
    }

    public event Action? Changed;

    /// <summary>The client, for tests and tools.</summary>
    internal ZooKeeperClient Client => _zk;

    internal GroupPaths Paths => _paths;

    private void OnStateChanged(object? sender, SessionStateChange change)
    {
        var state = change.State switch
        {
            SessionState.Connected => GroupSessionState.Connected,
            SessionState.Suspended => GroupSessionState.Suspended,
            SessionState.Reconnected => GroupSessionState.Reconnected,
            SessionState.Expired => GroupSessionState.Expired,
            SessionState.Closed => GroupSessionState.Closed,
            _ => (GroupSessionState?)null,
        };
        if (state is null) return;
        // A new session has none of the old watches: arm them again.
        if (state == GroupSessionState.Connected) ArmAll();
        SessionChanged?.Invoke(state.Value);
    }

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        await _zk.ConnectAsync(cancellationToken).ConfigureAwait(false);
        // Under an ACL only the group's own subtree is closed: /kiel/groups stays open so other groups can be created.
        if (_acl is not null) await _zk.EnsurePathAsync("/kiel/groups", ZooKeeperAcl.OpenUnsafe, cancellationToken).ConfigureAwait(false);
        await _zk.EnsurePathAsync(_paths.Members, cancellationToken: cancellationToken).ConfigureAwait(false);
        await _zk.EnsurePathAsync(_paths.Partitions, cancellationToken: cancellationToken).ConfigureAwait(false);
        await _zk.EnsurePathAsync(_paths.Owners, cancellationToken: cancellationToken).ConfigureAwait(false);
        ArmAll();
    }

    private void ArmAll()
    {
        _ = ArmAsync(_paths.Members, children: true);
        _ = ArmAsync(_paths.Partitions, children: false);
        _ = ArmAsync(_paths.Allocation, children: false);
    }

    // One-shot watches re-armed after every event; any event is just "look again", the engine reads what it needs.
    private async Task ArmAsync(string path, bool children)
    {
        void Watcher(WatchedEvent e)
        {
            if (e.Type == WatchEventType.None) return;
            Changed?.Invoke();
            _ = ArmAsync(path, children);
        }

        for (var attempt = 0; !_closed.IsCancellationRequested; attempt++)
        {
            try
            {
                if (children)
                {
                    try { await _zk.GetChildrenAsync(path, Watcher, _closed.Token).ConfigureAwait(false); return; }
                    catch (NoNodeException) { }
                }
                await _zk.ExistsAsync(path, Watcher, _closed.Token).ConfigureAwait(false);
                return;
            }
            catch (Exception) when (!_closed.IsCancellationRequested)
            {
                // Connection loss: the next Connected or Reconnected (which re-arms server-side) covers us, but retry meanwhile.
                try { await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 << Math.Min(attempt, 4))), _time, _closed.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
            }
            catch (Exception)
            {
                return;
            }
        }
    }

    public async Task JoinAsync(string member, CancellationToken cancellationToken)
    {
        var path = _paths.Member(member);
        await _zk.EnsurePathAsync(_paths.Members, cancellationToken: cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var stat = await _zk.ExistsAsync(path, null, cancellationToken).ConfigureAwait(false);
            if (stat is null)
            {
                try { await _zk.CreateAsync(path, default, CreateMode.Ephemeral, cancellationToken: cancellationToken).ConfigureAwait(false); return; }
                catch (NodeExistsException) { continue; }
            }
            if (stat.EphemeralOwner == _zk.SessionId) return;
            // A stale node of an earlier session with our name: replace it in one transaction, as kiel's Party does.
            try
            {
                await _zk.MultiAsync([ZooKeeperOp.Delete(path, stat.Version), ZooKeeperOp.Create(path, default, CreateMode.Ephemeral, _acl)], cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (MultiOperationException) { }
        }
    }

    public async Task<bool> IsMemberAsync(string member, CancellationToken cancellationToken)
    {
        var session = _zk.SessionId;
        var sent = _time.GetTimestamp();
        var path = _paths.Member(member);
        // Sync first: the server answers the read from its own copy, and a follower that has not yet applied the
        // leader's expiry of our session (it lags, or its link to the leader is stalled) still shows our node. After
        // the sync it has applied everything the leader had committed when the sync reached it, so an expired
        // session's node is gone (or the connection is closed) and the check fails as it must.
        await _zk.SyncAsync(path, cancellationToken).ConfigureAwait(false);
        var stat = await _zk.ExistsAsync(path, null, cancellationToken).ConfigureAwait(false);
        var isMember = session != 0 && stat is not null && stat.EphemeralOwner == session && _zk.SessionId == session;
        if (isMember)
            lock (_confirmedGate)
            {
                if (_confirmedSession != session) (_confirmedSession, _confirmedAt) = (session, sent);
                else if (sent > _confirmedAt) _confirmedAt = sent;
            }
        return isMember;
    }

    public async Task LeaveAsync(string member, CancellationToken cancellationToken)
    {
        try { await _zk.DeleteAsync(_paths.Member(member), -1, cancellationToken).ConfigureAwait(false); }
        catch (NoNodeException) { }
    }

    public Task<IReadOnlyList<string>> GetMembersAsync(CancellationToken cancellationToken) => _zk.GetChildrenAsync(_paths.Members, null, cancellationToken);

    public async Task<IReadOnlyList<string>> GetPartitionsAsync(CancellationToken cancellationToken)
    {
        try { return Decode((await _zk.GetDataAsync(_paths.Partitions, null, cancellationToken).ConfigureAwait(false)).Data); }
        catch (NoNodeException) { return []; }
    }

    public async Task AddPartitionsAsync(IReadOnlyCollection<string> partitions, CancellationToken cancellationToken)
    {
        await _zk.EnsurePathAsync(_paths.Partitions, cancellationToken: cancellationToken).ConfigureAwait(false);
        // kiel's SharedSet changes the set under kazoo's Lock recipe at <set>/lock, which this lock honours.
        var gate = new ZooKeeperLock(_zk, _paths.PartitionsLock);
        if (!await gate.AcquireAsync(null, cancellationToken).ConfigureAwait(false))
            throw new KielException($"Could not take the lock {_paths.PartitionsLock} of the shared partition set.");
        try
        {
            var current = await GetPartitionsAsync(cancellationToken).ConfigureAwait(false);
            var merged = new HashSet<string>(current, StringComparer.Ordinal);
            merged.UnionWith(partitions);
            // Kiel writes only when the set changes, so re-seeding costs no write and wakes no watcher.
            if (merged.Count == current.Distinct(StringComparer.Ordinal).Count()) return;
            await _zk.SetDataAsync(_paths.Partitions, Encode(merged), -1, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await gate.ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public async Task RemovePartitionsAsync(IReadOnlyCollection<string> partitions, CancellationToken cancellationToken)
    {
        if (await _zk.ExistsAsync(_paths.Partitions, null, cancellationToken).ConfigureAwait(false) is null) return;
        var gate = new ZooKeeperLock(_zk, _paths.PartitionsLock);
        if (!await gate.AcquireAsync(null, cancellationToken).ConfigureAwait(false))
            throw new KielException($"Could not take the lock {_paths.PartitionsLock} of the shared partition set.");
        try
        {
            var current = await GetPartitionsAsync(cancellationToken).ConfigureAwait(false);
            var remaining = new HashSet<string>(current, StringComparer.Ordinal);
            remaining.ExceptWith(partitions);
            if (remaining.Count == current.Distinct(StringComparer.Ordinal).Count()) return;
            await _zk.SetDataAsync(_paths.Partitions, Encode(remaining), -1, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await gate.ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Kiel's encoding: a JSON array of strings, as Python's <c>json.dumps</c> writes it.</summary>
    internal static byte[] Encode(IEnumerable<string> items)
        => Encoding.UTF8.GetBytes("[" + string.Join(", ", items.Order(StringComparer.Ordinal).Select(i => JsonSerializer.Serialize(i))) + "]");

    /// <summary>Empty or absent data is the empty set, as in kiel.</summary>
    internal static IReadOnlyList<string> Decode(byte[] data)
    {
        if (data.Length == 0) return [];
        try
        {
            return JsonSerializer.Deserialize<string[]>(data) ?? [];
        }
        catch (JsonException e)
        {
            throw new KielException("The shared partition set in ZooKeeper is not a JSON array of \"topic:partition\" strings.", e);
        }
    }

    public async Task<bool> TryClaimAsync(string partition, string member, CancellationToken cancellationToken)
    {
        var path = _paths.Owner(partition);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                await _zk.CreateAsync(path, Encoding.UTF8.GetBytes(member), CreateMode.Ephemeral, cancellationToken: cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (NoNodeException)
            {
                await _zk.EnsurePathAsync(_paths.Owners, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (NodeExistsException)
            {
                var stat = await _zk.ExistsAsync(path, null, cancellationToken).ConfigureAwait(false);
                if (stat is null) continue;
                return stat.EphemeralOwner == _zk.SessionId;
            }
        }
        return false;
    }

    public async Task WaitForReleaseAsync(string partition, TimeSpan poll, CancellationToken cancellationToken)
    {
        var gone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stat = await _zk.ExistsAsync(_paths.Owner(partition), e => gone.TrySetResult(), cancellationToken).ConfigureAwait(false);
        if (stat is null) return;
        await gone.Task.WaitAsync(poll, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        cancellationToken.ThrowIfCancellationRequested();
    }

    public async Task ReleaseAsync(string partition, CancellationToken cancellationToken)
    {
        var path = _paths.Owner(partition);
        var stat = await _zk.ExistsAsync(path, null, cancellationToken).ConfigureAwait(false);
        if (stat is null || stat.EphemeralOwner != _zk.SessionId) return;
        try { await _zk.DeleteAsync(path, stat.Version, cancellationToken).ConfigureAwait(false); }
        catch (NoNodeException) { }
    }

    public async Task<IReadOnlyDictionary<string, string>> GetOwnersAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        IReadOnlyList<string> children;
        try { children = await _zk.GetChildrenAsync(_paths.Owners, null, cancellationToken).ConfigureAwait(false); }
        catch (NoNodeException) { return result; }
        foreach (var child in children)
        {
            try { result[child] = Encoding.UTF8.GetString((await _zk.GetDataAsync(_paths.Owner(child), null, cancellationToken).ConfigureAwait(false)).Data); }
            catch (NoNodeException) { }
        }
        return result;
    }

    public async Task<(string? Json, int Version)> GetAllocationAsync(CancellationToken cancellationToken)
    {
        try
        {
            var node = await _zk.GetDataAsync(_paths.Allocation, null, cancellationToken).ConfigureAwait(false);
            return (Encoding.UTF8.GetString(node.Data), node.Stat.Version);
        }
        catch (NoNodeException)
        {
            return (null, -1);
        }
    }

    public async Task<bool> TrySetAllocationAsync(string json, int expectedVersion, CancellationToken cancellationToken)
    {
        var data = Encoding.UTF8.GetBytes(json);
        try
        {
            if (expectedVersion < 0) await _zk.CreateAsync(_paths.Allocation, data, CreateMode.Persistent, cancellationToken: cancellationToken).ConfigureAwait(false);
            else await _zk.SetDataAsync(_paths.Allocation, data, expectedVersion, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is NodeExistsException or BadVersionException or NoNodeException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _closed.Cancel();
        _zk.StateChanged -= OnStateChanged;
        await _zk.DisposeAsync().ConfigureAwait(false);
        _closed.Dispose();
    }
}
