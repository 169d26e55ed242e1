using Kiel.ZooKeeper.Protocol;

namespace Kiel.ZooKeeper;

public sealed partial class ZooKeeperClient
{
    /// <summary>Creates a node and returns its actual path (with the sequence suffix for sequential modes), relative to the chroot.</summary>
    /// <param name="path">The absolute path; for sequential modes it may end with '/'.</param>
    /// <param name="data">The data (at most <see cref="ZooKeeperClientOptions.MaxDataSize"/> bytes).</param>
    /// <param name="mode">Persistent, ephemeral, sequential, container or TTL.</param>
    /// <param name="acl">The ACL (default <see cref="ZooKeeperAcl.OpenUnsafe"/>).</param>
    /// <param name="ttl">The TTL, required for the TTL modes and refused otherwise.</param>
    /// <param name="cancellationToken">Stops waiting; the create may still be applied.</param>
    /// <exception cref="NodeExistsException">The node exists.</exception>
    /// <exception cref="NoNodeException">The parent does not exist.</exception>
    public async Task<string> CreateAsync(string path, ReadOnlyMemory<byte> data = default, CreateMode mode = CreateMode.Persistent,
        IReadOnlyList<ZooKeeperAcl>? acl = null, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        var created = await CreateCoreAsync(path, data, mode, acl, ttl, withStat: false, cancellationToken).ConfigureAwait(false);
        return created.Path;
    }

    /// <summary>Creates a node (create2) and returns its actual path and its stat.</summary>
    public Task<CreatedNode> CreateWithStatAsync(string path, ReadOnlyMemory<byte> data = default, CreateMode mode = CreateMode.Persistent,
        IReadOnlyList<ZooKeeperAcl>? acl = null, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
        => CreateCoreAsync(path, data, mode, acl, ttl, withStat: true, cancellationToken);

    private Task<CreatedNode> CreateCoreAsync(string path, ReadOnlyMemory<byte> data, CreateMode mode,
        IReadOnlyList<ZooKeeperAcl>? acl, TimeSpan? ttl, bool withStat, CancellationToken cancellationToken)
    {
        ZooKeeperPath.Validate(path, mode.IsSequential());
        CheckData(path, data);
        if (!Enum.IsDefined(mode)) throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown create mode.");
        if (mode.HasTtl() != ttl.HasValue)
            throw new ArgumentException(mode.HasTtl() ? $"Create mode {mode} needs a TTL." : $"A TTL is only allowed with the TTL create modes, not {mode}.", nameof(ttl));
        if (ttl is { } t && t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ttl), "The TTL must be positive.");
        acl ??= _options.DefaultAcl ?? ZooKeeperAcl.OpenUnsafe;
        if (acl.Count == 0) throw new ArgumentException("The ACL must not be empty.", nameof(acl));
        var op = mode == CreateMode.Container ? OpCode.CreateContainer : mode.HasTtl() ? OpCode.CreateTtl : withStat ? OpCode.Create2 : OpCode.Create;
        var hasStat = op != OpCode.Create;
        var serverPath = ToServerPath(path);
        return SubmitAsync(op, path, w =>
        {
            w.WriteString(serverPath);
            w.WriteBuffer(data.Span);
            w.WriteAcls(acl);
            w.WriteInt((int)mode);
            if (ttl is { } value) w.WriteLong((long)value.TotalMilliseconds);
        }, (ref JuteReader r) =>
        {
            var created = FromServerPath(r.ReadRequiredString("path"));
            return new CreatedNode(created, hasStat ? r.ReadStat() : null);
        }, cancellationToken);
    }

    /// <summary>Deletes a node.</summary>
    /// <param name="path">The path.</param>
    /// <param name="version">The expected version, or -1 for any.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="NoNodeException">The node does not exist.</exception>
    /// <exception cref="BadVersionException">The version does not match.</exception>
    /// <exception cref="NotEmptyException">The node has children.</exception>
    public Task DeleteAsync(string path, int version = -1, CancellationToken cancellationToken = default)
    {
        ZooKeeperPath.Validate(path);
        var serverPath = ToServerPath(path);
        return SubmitAsync(OpCode.Delete, path, w => { w.WriteString(serverPath); w.WriteInt(version); },
            static (ref JuteReader _) => true, cancellationToken);
    }

    /// <summary>Returns the node's stat, or null when it does not exist. A watcher fires once when the node is created, changed or deleted.</summary>
    public Task<ZooKeeperStat?> ExistsAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancellationToken = default)
    {
        ZooKeeperPath.Validate(path);
        var serverPath = ToServerPath(path);
        Action<ZooKeeperErrorCode>? register = watcher is null ? null : code =>
        {
            if (code == ZooKeeperErrorCode.Ok) _watches.Add(WatchRegistry.Kind.Data, path, watcher);
            else if (code == ZooKeeperErrorCode.NoNode) _watches.Add(WatchRegistry.Kind.Exist, path, watcher);
        };
        return SubmitAsync<ZooKeeperStat?>(OpCode.Exists, path, w => { w.WriteString(serverPath); w.WriteBool(watcher is not null); },
            static (ref JuteReader r) => r.ReadStat(), cancellationToken, register, static _ => null, [ZooKeeperErrorCode.NoNode]);
    }

    /// <summary>Reads a node's data and stat. A watcher fires once when the data changes or the node is deleted.</summary>
    /// <exception cref="NoNodeException">The node does not exist.</exception>
    public Task<NodeData> GetDataAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancellationToken = default)
    {
        ZooKeeperPath.Validate(path);
        var serverPath = ToServerPath(path);
        return SubmitAsync(OpCode.GetData, path, w => { w.WriteString(serverPath); w.WriteBool(watcher is not null); },
            static (ref JuteReader r) => new NodeData(r.ReadBuffer("data") ?? [], r.ReadStat()),
            cancellationToken, RegisterOnOk(WatchRegistry.Kind.Data, path, watcher));
    }

    /// <summary>Writes a node's data and returns the new stat.</summary>
    /// <param name="path">The path.</param>
    /// <param name="data">The data (at most <see cref="ZooKeeperClientOptions.MaxDataSize"/> bytes).</param>
    /// <param name="version">The expected version, or -1 for any.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="BadVersionException">The version does not match.</exception>
    public Task<ZooKeeperStat> SetDataAsync(string path, ReadOnlyMemory<byte> data, int version = -1, CancellationToken cancellationToken = default)
    {
        ZooKeeperPath.Validate(path);
        CheckData(path, data);
        var serverPath = ToServerPath(path);
        return SubmitAsync(OpCode.SetData, path, w => { w.WriteString(serverPath); w.WriteBuffer(data.Span); w.WriteInt(version); },
            static (ref JuteReader r) => r.ReadStat(), cancellationToken);
    }

    /// <summary>Lists a node's children (names). A watcher fires once when a child is added or removed, or the node is deleted.</summary>
    public Task<IReadOnlyList<string>> GetChildrenAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancellationToken = default)
    {
        ZooKeeperPath.Validate(path);
        var serverPath = ToServerPath(path);
        return SubmitAsync<IReadOnlyList<string>>(OpCode.GetChildren, path, w => { w.WriteString(serverPath); w.WriteBool(watcher is not null); },
            static (ref JuteReader r) => r.ReadStrings("children"), cancellationToken, RegisterOnOk(WatchRegistry.Kind.Child, path, watcher));
    }

    /// <summary>Lists a node's children with the node's stat (getChildren2).</summary>
    public Task<NodeChildren> GetChildrenWithStatAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancellationToken = default)
    {
        ZooKeeperPath.Validate(path);
        var serverPath = ToServerPath(path);
        return SubmitAsync(OpCode.GetChildren2, path, w => { w.WriteString(serverPath); w.WriteBool(watcher is not null); },
            static (ref JuteReader r) => new NodeChildren(r.ReadStrings("children"), r.ReadStat()),
            cancellationToken, RegisterOnOk(WatchRegistry.Kind.Child, path, watcher));
    }

    /// <summary>Waits until the connected server has caught up with the leader for <paramref name="path"/>.</summary>
    public Task SyncAsync(string path, CancellationToken cancellationToken = default)
    {
        ZooKeeperPath.Validate(path);
        var serverPath = ToServerPath(path);
        return SubmitAsync(OpCode.Sync, path, w => w.WriteString(serverPath),
            static (ref JuteReader r) => r.ReadString("path"), cancellationToken);
    }

    /// <summary>Reads a node's ACL and stat.</summary>
    public Task<(IReadOnlyList<ZooKeeperAcl> Acl, ZooKeeperStat Stat)> GetAclAsync(string path, CancellationToken cancellationToken = default)
    {
        ZooKeeperPath.Validate(path);
        var serverPath = ToServerPath(path);
        return SubmitAsync<(IReadOnlyList<ZooKeeperAcl>, ZooKeeperStat)>(OpCode.GetAcl, path, w => w.WriteString(serverPath),
            static (ref JuteReader r) => (r.ReadAcls("acl"), r.ReadStat()), cancellationToken);
    }

    /// <summary>Replaces a node's ACL.</summary>
    /// <param name="path">The path.</param>
    /// <param name="acl">The new ACL.</param>
    /// <param name="aclVersion">The expected ACL version, or -1 for any.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<ZooKeeperStat> SetAclAsync(string path, IReadOnlyList<ZooKeeperAcl> acl, int aclVersion = -1, CancellationToken cancellationToken = default)
    {
        ZooKeeperPath.Validate(path);
        ArgumentNullException.ThrowIfNull(acl);
        if (acl.Count == 0) throw new ArgumentException("The ACL must not be empty.", nameof(acl));
        var serverPath = ToServerPath(path);
        return SubmitAsync(OpCode.SetAcl, path, w => { w.WriteString(serverPath); w.WriteAcls(acl); w.WriteInt(aclVersion); },
            static (ref JuteReader r) => r.ReadStat(), cancellationToken);
    }

    /// <summary>Adds credentials to the session (for example <c>digest</c> with <c>user:password</c>); they are sent again after every reconnect.</summary>
    /// <exception cref="AuthFailedException">The server refused them.</exception>
    public async Task AddAuthAsync(string scheme, ReadOnlyMemory<byte> auth, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        var bytes = auth.ToArray();
        var entry = (scheme, bytes);
        lock (_auths) _auths.Add(entry);
        try
        {
            var connection = await WaitForConnectionAsync(null, cancellationToken).ConfigureAwait(false);
            await SendAuth(connection, scheme, bytes).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (AuthFailedException)
        {
            // The server drops the connection on a failed auth; sending it again after every reconnect would loop.
            lock (_auths) _auths.Remove(entry);
            throw;
        }
    }

    private Task<bool> SendAuth(Connection connection, string scheme, byte[] auth)
    {
        var pending = new PendingRequest<bool>(OpCode.Auth, null, static (ref JuteReader _) => true);
        using var w = new JuteWriter();
        w.BeginFrame();
        w.WriteInt(SpecialXid.Auth);
        w.WriteInt((int)OpCode.Auth);
        w.WriteInt(0);
        w.WriteString(scheme);
        w.WriteBuffer(auth);
        w.FinishFrame();
        if (!connection.TrySend(w, pending, SpecialXid.Auth)) pending.Fail(new ConnectionLossException(null));
        return pending.Completion.Task;
    }

    /// <summary>
    /// SASL DIGEST-MD5 on a new connection, before it serves anything: an empty first token, the server's challenge
    /// answered, and the server's rspauth checked (a server that does not know the password is refused).
    /// </summary>
    private async Task AuthenticateSaslAsync(Connection connection, ZooKeeperAuth sasl, CancellationToken cancellationToken)
    {
        var (user, password) = sasl.SplitUserPassword();
        var digest = new DigestMd5(user, password);
        try
        {
            var challenge = await SendSaslAsync(connection, [], cancellationToken).ConfigureAwait(false);
            var final = await SendSaslAsync(connection, digest.Respond(challenge), cancellationToken).ConfigureAwait(false);
            if (!digest.VerifyServer(final))
                throw new System.Security.Authentication.AuthenticationException(
                    $"ZooKeeper at {connection.Server} answered SASL DIGEST-MD5 as '{user}' with a wrong rspauth: it does not know the password, so it is not the server it claims to be.");
        }
        catch (AuthFailedException e)
        {
            throw new System.Security.Authentication.AuthenticationException(
                $"ZooKeeper at {connection.Server} refused SASL DIGEST-MD5 authentication as '{user}'; check the user and password against the server's JAAS Server section (user_{user}=\"...\"), and that the server has authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider.", e);
        }
        Log.SaslAuthenticated(_logger, connection.Session.SessionId, user, connection.Server);
    }

    private static Task<byte[]> SendSaslAsync(Connection connection, byte[] token, CancellationToken cancellationToken) =>
        SendAsync(connection, OpCode.Sasl, null, w => w.WriteBuffer(token), static (ref JuteReader r) => r.ReadBuffer("token") ?? [], null, cancellationToken);

    private void ResendAuth(Connection connection)
    {
        (string, byte[])[] auths;
        lock (_auths) auths = [.. _auths];
        foreach (var (scheme, auth) in auths)
            ObserveFailure(SendAuth(connection, scheme, auth));
    }

    /// <summary>
    /// Marks the failure of a request that nobody awaits as observed, so that it never surfaces as an unobserved task
    /// exception. The continuation runs on the default scheduler, whatever scheduler is current where it was sent.
    /// </summary>
    private static void ObserveFailure(Task task) =>
        task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>Re-registers every watch on the server after a reconnect on the same session, in frames of at most 128 KiB.</summary>
    private void RearmWatches(Connection connection)
    {
        var (data, exist, child) = _watches.Snapshot();
        if (data.Count + exist.Count + child.Count == 0) return;
        var relativeZxid = LastZxid;
        var lists = new[] { data, exist, child };
        var index = new int[3];
        while (index[0] < data.Count || index[1] < exist.Count || index[2] < child.Count)
        {
            using var w = new JuteWriter();
            w.BeginFrame();
            w.WriteInt(SpecialXid.SetWatches);
            w.WriteInt((int)OpCode.SetWatches);
            w.WriteLong(relativeZxid);
            var budget = 128 * 1024;
            var count = 0;
            for (var k = 0; k < 3; k++)
            {
                var take = new List<string>();
                while (index[k] < lists[k].Count)
                {
                    var serverPath = ToServerPath(lists[k][index[k]]);
                    var cost = 4 + System.Text.Encoding.UTF8.GetByteCount(serverPath);
                    if (cost > budget && count > 0) break;
                    budget -= cost;
                    take.Add(serverPath);
                    index[k]++;
                    count++;
                }
                w.WriteStrings(take);
            }
            w.FinishFrame();
            var n = count;
            var pending = new PendingRequest<bool>(OpCode.SetWatches, null, static (ref JuteReader _) => true)
            {
                OnResult = code => { if (code != ZooKeeperErrorCode.Ok) Log.SetWatchesFailed(_logger, n, code); },
            };
            ObserveFailure(pending.Completion.Task);
            connection.TrySend(w, pending, SpecialXid.SetWatches);
        }
    }

    /// <summary>Creates every missing node along <paramref name="path"/> (persistent, empty); existing ones are left alone.</summary>
    public async Task EnsurePathAsync(string path, IReadOnlyList<ZooKeeperAcl>? acl = null, CancellationToken cancellationToken = default)
    {
        ZooKeeperPath.Validate(path);
        if (path == "/" || await ExistsAsync(path, null, cancellationToken).ConfigureAwait(false) is not null) return;
        var next = 0;
        while (next >= 0)
        {
            next = path.IndexOf('/', next + 1);
            var prefix = next < 0 ? path : path[..next];
            try { await CreateAsync(prefix, default, CreateMode.Persistent, acl, null, cancellationToken).ConfigureAwait(false); }
            catch (NodeExistsException) { }
        }
    }

    /// <summary>Deletes a node and everything below it; a node already gone is no error.</summary>
    public async Task DeleteRecursiveAsync(string path, CancellationToken cancellationToken = default)
    {
        ZooKeeperPath.Validate(path);
        IReadOnlyList<string> children;
        try { children = await GetChildrenAsync(path, null, cancellationToken).ConfigureAwait(false); }
        catch (NoNodeException) { return; }
        foreach (var child in children)
            await DeleteRecursiveAsync(ZooKeeperPath.Combine(path, child), cancellationToken).ConfigureAwait(false);
        if (path == "/") return;
        try { await DeleteAsync(path, -1, cancellationToken).ConfigureAwait(false); }
        catch (NoNodeException) { }
    }

    private Action<ZooKeeperErrorCode>? RegisterOnOk(WatchRegistry.Kind kind, string path, Action<WatchedEvent>? watcher) =>
        watcher is null ? null : code => { if (code == ZooKeeperErrorCode.Ok) _watches.Add(kind, path, watcher); };

    private void CheckData(string path, ReadOnlyMemory<byte> data)
    {
        if (data.Length > _options.MaxDataSize)
            throw new ArgumentException($"The data for {path} is {data.Length} bytes; ZooKeeper accepts at most {_options.MaxDataSize} bytes per node (jute.maxbuffer).", nameof(data));
    }

    internal async Task<T> SubmitAsync<T>(OpCode op, string? path, Action<JuteWriter> body, ReplyDecoder<T> decoder,
        CancellationToken cancellationToken, Action<ZooKeeperErrorCode>? onResult = null,
        Func<ZooKeeperErrorCode, T>? onError = null, ZooKeeperErrorCode[]? valueOnError = null)
    {
        var pending = new PendingRequest<T>(op, path, decoder, onError) { OnResult = onResult, ValueOnError = valueOnError };
        using (var w = new JuteWriter())
        {
            w.BeginFrame();
            w.WriteInt(0); // xid, set when queued
            w.WriteInt((int)op);
            body(w);
            w.FinishFrame();
            // A connection that failed before the request was queued never saw it, so waiting for the next one is safe.
            while (true)
            {
                var connection = await WaitForConnectionAsync(path, cancellationToken).ConfigureAwait(false);
                if (connection.TrySend(w, pending)) break;
            }
        }
        var task = pending.Completion.Task;
        return await (cancellationToken.CanBeCanceled ? task.WaitAsync(cancellationToken) : task).ConfigureAwait(false);
    }

    private static Task<T> SendAsync<T>(Connection connection, OpCode op, string? path, Action<JuteWriter> body, ReplyDecoder<T> decoder,
        Action<ZooKeeperErrorCode>? onResult, CancellationToken cancellationToken)
    {
        var pending = new PendingRequest<T>(op, path, decoder) { OnResult = onResult };
        using (var w = new JuteWriter())
        {
            w.BeginFrame();
            w.WriteInt(0); // xid, set when queued
            w.WriteInt((int)op);
            body(w);
            w.FinishFrame();
            if (!connection.TrySend(w, pending))
                throw new ConnectionLossException(path, $"The connection to {connection.Server} was lost before {op} {path} was sent.");
        }
        return cancellationToken.CanBeCanceled ? pending.Completion.Task.WaitAsync(cancellationToken) : pending.Completion.Task;
    }
}
