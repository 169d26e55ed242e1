namespace Kiel.ZooKeeper.Recipes;

/// <summary>
/// kiel's Party: members register as ephemeral nodes <c>&lt;path&gt;/&lt;member name&gt;</c> with empty data, and
/// everyone sees the live member list. A stale node of the same name owned by another session (a crashed process
/// that had the same name) is replaced in one multi transaction. Unlike kiel, a member joins again by itself
/// after its session expired (kiel bug L10).
/// </summary>
public sealed class Party : IAsyncDisposable
{
    private readonly ZooKeeperClient _client;
    private readonly Func<IReadOnlyList<string>, ValueTask>? _onChange;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ChildrenWatch? _watch;
    private bool _joined;
    private int _disposed;

    /// <summary>Creates the party handle.</summary>
    /// <param name="client">The client.</param>
    /// <param name="path">The party node (kiel: <c>/kiel/groups/&lt;group&gt;/members</c>).</param>
    /// <param name="memberName">This member's node name (kiel: <c>&lt;hostname&gt;:&lt;id&gt;</c>).</param>
    /// <param name="onChange">Called with the sorted member names now and on every change.</param>
    public Party(ZooKeeperClient client, string path, string memberName, Func<IReadOnlyList<string>, ValueTask>? onChange = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ZooKeeperPath.Validate(path);
        ZooKeeperPath.Validate(ZooKeeperPath.Combine(path, memberName));
        if (memberName.Contains('/')) throw new ArgumentException("A member name must not contain '/'.", nameof(memberName));
        _client = client;
        Path = path;
        MemberName = memberName;
        _onChange = onChange;
        _client.StateChanged += OnStateChanged;
    }

    /// <summary>The party node.</summary>
    public string Path { get; }

    /// <summary>This member's name.</summary>
    public string MemberName { get; }

    private string MemberPath => ZooKeeperPath.Combine(Path, MemberName);

    /// <summary>The live members seen last (sorted); empty before start.</summary>
    public IReadOnlyList<string> Members => _watch?.Current ?? [];

    /// <summary>Ensures the party node exists and starts the membership watch; returns after the first list was delivered.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _client.EnsurePathAsync(Path, null, cancellationToken).ConfigureAwait(false);
        _watch = await ChildrenWatch.StartAsync(_client, Path, _onChange, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The member list now and after every change, as a stream.</summary>
    public IAsyncEnumerable<IReadOnlyList<string>> ChangesAsync(CancellationToken cancellationToken = default) =>
        (_watch ?? throw new InvalidOperationException("Call StartAsync first.")).ChangesAsync(cancellationToken);

    /// <summary>Registers this member: creates its ephemeral node, or replaces a stale one owned by another session in one multi.</summary>
    public async Task JoinAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await JoinCoreAsync(cancellationToken).ConfigureAwait(false);
            _joined = true;
        }
        finally { _gate.Release(); }
    }

    private async Task JoinCoreAsync(CancellationToken cancellationToken)
    {
        await _client.EnsurePathAsync(Path, null, cancellationToken).ConfigureAwait(false);
        // Each round either finishes or loses a race to another writer; a handful of rounds is plenty.
        for (var round = 0; ; round++)
        {
            var stat = await _client.ExistsAsync(MemberPath, null, cancellationToken).ConfigureAwait(false);
            try
            {
                if (stat is null)
                {
                    await _client.CreateAsync(MemberPath, default, CreateMode.Ephemeral, null, null, cancellationToken).ConfigureAwait(false);
                    return;
                }
                if (stat.EphemeralOwner == _client.SessionId) return;
                await _client.MultiAsync([
                    ZooKeeperOp.Delete(MemberPath, stat.Version),
                    ZooKeeperOp.Create(MemberPath, default, CreateMode.Ephemeral),
                ], cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (ZooKeeperException e) when (round < 5 && e is NodeExistsException or MultiOperationException)
            {
            }
        }
    }

    /// <summary>Removes this member's node; a node already gone is no error.</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _joined = false;
            try
            {
                var stat = await _client.ExistsAsync(MemberPath, null, cancellationToken).ConfigureAwait(false);
                // Only our own node: a same-named node of another live session is not ours to remove.
                if (stat is not null && stat.EphemeralOwner == _client.SessionId)
                    await _client.DeleteAsync(MemberPath, -1, cancellationToken).ConfigureAwait(false);
            }
            catch (NoNodeException) { }
        }
        finally { _gate.Release(); }
    }

    private void OnStateChanged(object? sender, SessionStateChange change)
    {
        if (change.State != SessionState.Connected || !_joined || Volatile.Read(ref _disposed) == 1) return;
        _ = Task.Run(async () =>
        {
            using var cts = new CancellationTokenSource(_client.NegotiatedSessionTimeout + TimeSpan.FromSeconds(5));
            try
            {
                await _gate.WaitAsync(cts.Token).ConfigureAwait(false);
                try { if (_joined) await JoinCoreAsync(cts.Token).ConfigureAwait(false); }
                finally { _gate.Release(); }
            }
            catch (Exception e) when (e is ZooKeeperException or OperationCanceledException) { }
        });
    }

    /// <summary>Stops the watch (does not leave; call <see cref="LeaveAsync"/> or close the client for that).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _client.StateChanged -= OnStateChanged;
        if (_watch is not null) await _watch.DisposeAsync().ConfigureAwait(false);
    }
}
