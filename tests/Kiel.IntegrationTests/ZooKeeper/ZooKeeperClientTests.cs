using System.Text;
using Kiel.ZooKeeper;

namespace Kiel.IntegrationTests.ZooKeeper;

public sealed class ZooKeeperClientTests(StandaloneZooKeeperFixture zk) : IClassFixture<StandaloneZooKeeperFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Crud_with_versions()
    {
        await using var client = await zk.ConnectAsync();
        var root = StandaloneZooKeeperFixture.UniqueRoot("crud");
        Assert.Equal(root, await client.CreateAsync(root, "hello"u8.ToArray()));
        await Assert.ThrowsAsync<NodeExistsException>(() => client.CreateAsync(root));

        var data = await client.GetDataAsync(root);
        Assert.Equal("hello", Encoding.UTF8.GetString(data.Data));
        Assert.Equal(0, data.Stat.Version);

        var stat = await client.SetDataAsync(root, "v1"u8.ToArray(), version: 0);
        Assert.Equal(1, stat.Version);
        var bad = await Assert.ThrowsAsync<BadVersionException>(() => client.SetDataAsync(root, "x"u8.ToArray(), version: 0));
        Assert.Equal(root, bad.Path);

        await client.CreateAsync(root + "/child");
        await Assert.ThrowsAsync<NotEmptyException>(() => client.DeleteAsync(root));
        Assert.Equal(["child"], await client.GetChildrenAsync(root));
        var withStat = await client.GetChildrenWithStatAsync(root);
        Assert.Equal(1, withStat.Stat.NumChildren);

        await client.DeleteAsync(root + "/child");
        await Assert.ThrowsAsync<BadVersionException>(() => client.DeleteAsync(root, version: 0));
        await client.DeleteAsync(root, version: 1);
        Assert.Null(await client.ExistsAsync(root));
        var noNode = await Assert.ThrowsAsync<NoNodeException>(() => client.GetDataAsync(root));
        Assert.Equal(root, noNode.Path);
        await client.SyncAsync("/");
    }

    [Fact]
    public async Task Sequential_nodes_get_increasing_ten_digit_suffixes()
    {
        await using var client = await zk.ConnectAsync();
        var root = StandaloneZooKeeperFixture.UniqueRoot("seq");
        await client.CreateAsync(root);
        var a = await client.CreateAsync(root + "/n-", mode: CreateMode.PersistentSequential);
        var b = await client.CreateAsync(root + "/n-", mode: CreateMode.EphemeralSequential);
        var c = await client.CreateWithStatAsync(root + "/", mode: CreateMode.PersistentSequential);
        Assert.Equal(root + "/n-0000000000", a);
        Assert.Equal(root + "/n-0000000001", b);
        Assert.Equal(root + "/0000000002", c.Path);
        Assert.NotNull(c.Stat);
    }

    [Fact]
    public async Task Chroot_prefixes_every_path_and_strips_replies()
    {
        var root = StandaloneZooKeeperFixture.UniqueRoot("chroot");
        await using var plain = await zk.ConnectAsync();
        await plain.EnsurePathAsync(root + "/inner");
        await using var rooted = await zk.ConnectAsync(root);
        Assert.Equal("/x", await rooted.CreateAsync("/x", "1"u8.ToArray()));
        Assert.Equal(["inner", "x"], (await rooted.GetChildrenAsync("/")).Order());
        Assert.Equal("1", Encoding.UTF8.GetString((await plain.GetDataAsync(root + "/x")).Data));
        var fired = new TaskCompletionSource<WatchedEvent>();
        await rooted.GetDataAsync("/x", e => fired.TrySetResult(e));
        await plain.SetDataAsync(root + "/x", "2"u8.ToArray());
        var evt = await fired.Task.WaitAsync(Wait);
        Assert.Equal("/x", evt.Path);
        var multi = await rooted.MultiAsync([ZooKeeperOp.Create("/m-", mode: CreateMode.PersistentSequential)]);
        Assert.StartsWith("/m-", ((OpResult.Create)multi[0]).Path);
    }

    [Fact]
    public async Task Multi_is_atomic_and_a_failing_op_rolls_back_all()
    {
        await using var client = await zk.ConnectAsync();
        var root = StandaloneZooKeeperFixture.UniqueRoot("multi");
        await client.CreateAsync(root, "0"u8.ToArray());
        var results = await client.MultiAsync([
            ZooKeeperOp.Check(root, 0),
            ZooKeeperOp.Create(root + "/a"),
            ZooKeeperOp.SetData(root, "1"u8.ToArray(), 0),
        ]);
        Assert.IsType<OpResult.Check>(results[0]);
        Assert.Equal(root + "/a", ((OpResult.Create)results[1]).Path);
        Assert.Equal(1, ((OpResult.SetData)results[2]).Stat.Version);

        var e = await Assert.ThrowsAsync<MultiOperationException>(() => client.MultiAsync([
            ZooKeeperOp.Create(root + "/b"),
            ZooKeeperOp.Delete(root + "/a"),
            ZooKeeperOp.SetData(root, "2"u8.ToArray(), version: 0), // stale version: fails
            ZooKeeperOp.Create(root + "/c"),
        ]));
        Assert.Equal(2, e.FailedIndex);
        Assert.Equal(ZooKeeperErrorCode.BadVersion, e.Code);
        Assert.Equal(4, e.Results.Count);
        Assert.Null(await client.ExistsAsync(root + "/b"));
        Assert.NotNull(await client.ExistsAsync(root + "/a"));
        Assert.Equal("1", Encoding.UTF8.GetString((await client.GetDataAsync(root)).Data));
    }

    [Fact]
    public async Task Data_children_and_exists_watches_fire_once()
    {
        await using var client = await zk.ConnectAsync();
        await using var other = await zk.ConnectAsync();
        var root = StandaloneZooKeeperFixture.UniqueRoot("watch");
        await client.CreateAsync(root);

        var dataEvents = new List<WatchedEvent>();
        var dataFired = new TaskCompletionSource();
        await client.GetDataAsync(root, e => { lock (dataEvents) dataEvents.Add(e); dataFired.TrySetResult(); });
        await other.SetDataAsync(root, "a"u8.ToArray());
        await dataFired.Task.WaitAsync(Wait);
        await other.SetDataAsync(root, "b"u8.ToArray());

        var childFired = new TaskCompletionSource<WatchedEvent>();
        await client.GetChildrenAsync(root, e => childFired.TrySetResult(e));
        await other.CreateAsync(root + "/c");
        Assert.Equal(WatchEventType.NodeChildrenChanged, (await childFired.Task.WaitAsync(Wait)).Type);

        var existFired = new TaskCompletionSource<WatchedEvent>();
        Assert.Null(await client.ExistsAsync(root + "/later", e => existFired.TrySetResult(e)));
        await other.CreateAsync(root + "/later");
        var created = await existFired.Task.WaitAsync(Wait);
        Assert.Equal(WatchEventType.NodeCreated, created.Type);
        Assert.Equal(root + "/later", created.Path);

        // A round trip after the second change: had the data watch fired twice, the event would be queued by now.
        await client.SyncAsync(root);
        await client.GetDataAsync(root);
        lock (dataEvents)
        {
            Assert.Single(dataEvents);
            Assert.Equal(WatchEventType.NodeDataChanged, dataEvents[0].Type);
        }
    }

    [Fact]
    public async Task Ephemeral_nodes_vanish_when_the_session_closes()
    {
        var root = StandaloneZooKeeperFixture.UniqueRoot("eph");
        await using var observer = await zk.ConnectAsync();
        await observer.CreateAsync(root);
        var owner = await zk.ConnectAsync();
        await owner.CreateAsync(root + "/e", mode: CreateMode.Ephemeral);
        var stat = await observer.ExistsAsync(root + "/e");
        Assert.Equal(owner.SessionId, stat!.EphemeralOwner);
        var gone = new TaskCompletionSource<WatchedEvent>();
        await observer.ExistsAsync(root + "/e", e => gone.TrySetResult(e));
        await owner.DisposeAsync();
        Assert.Equal(WatchEventType.NodeDeleted, (await gone.Task.WaitAsync(Wait)).Type);
        Assert.Equal(SessionState.Closed, owner.State);
        await Assert.ThrowsAsync<ClientClosedException>(() => owner.GetDataAsync("/"));
    }

    [Fact]
    public async Task Acl_and_digest_auth()
    {
        await using var client = await zk.ConnectAsync();
        await using var stranger = await zk.ConnectAsync();
        var root = StandaloneZooKeeperFixture.UniqueRoot("acl");
        await client.AddAuthAsync("digest", "kiel:secret"u8.ToArray());
        await client.CreateAsync(root, "x"u8.ToArray(), acl: ZooKeeperAcl.CreatorAll);
        var (acl, _) = await client.GetAclAsync(root);
        Assert.Equal(ZooKeeperAcl.Digest("kiel", "secret"), acl[0]);
        var e = await Assert.ThrowsAsync<NoAuthException>(() => stranger.GetDataAsync(root));
        Assert.Equal(root, e.Path);
        await client.SetAclAsync(root, ZooKeeperAcl.OpenUnsafe);
        await stranger.GetDataAsync(root);
    }

    [Fact]
    public async Task Bad_input_is_refused_before_sending()
    {
        await using var client = await zk.ConnectAsync();
        await Assert.ThrowsAsync<ArgumentException>(() => client.CreateAsync("no-slash"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetDataAsync("/a/"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetDataAsync("/a//b"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetDataAsync("/a/\0"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetDataAsync("/a/.."));
        var big = new byte[1024 * 1024 + 1];
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.CreateAsync("/big", big));
        Assert.Contains("1048576", e.Message);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Container_and_ttl_nodes_are_created()
    {
        await using var client = await zk.ConnectAsync();
        var root = StandaloneZooKeeperFixture.UniqueRoot("ext");
        var container = await client.CreateWithStatAsync(root, mode: CreateMode.Container);
        Assert.Equal(root, container.Path);
        Assert.NotNull(container.Stat);
        var ttl = await client.CreateAsync(root + "/ttl-", mode: CreateMode.PersistentSequentialWithTtl, ttl: TimeSpan.FromMinutes(1));
        Assert.StartsWith(root + "/ttl-", ttl);
        await Assert.ThrowsAsync<ArgumentException>(() => client.CreateAsync(root + "/x", mode: CreateMode.PersistentWithTtl));
        await Assert.ThrowsAsync<ArgumentException>(() => client.CreateAsync(root + "/y", ttl: TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Pings_keep_an_idle_short_session_alive()
    {
        await using var client = await zk.ConnectAsync(sessionTimeout: TimeSpan.FromMilliseconds(2000));
        Assert.Equal(TimeSpan.FromMilliseconds(2000), client.NegotiatedSessionTimeout);
        var root = StandaloneZooKeeperFixture.UniqueRoot("idle");
        await client.CreateAsync(root, mode: CreateMode.Ephemeral);
        var session = client.SessionId;
        var changes = new List<SessionState>();
        client.StateChanged += (_, c) => { lock (changes) changes.Add(c.State); };
        await Task.Delay(TimeSpan.FromSeconds(4)); // twice the session timeout with no request
        // Without pings the server expires the session after 2 s (Expired, then a new session id). On a very busy
        // machine a ping reply can come later than the client waits for (a third of the timeout), and the client then
        // moves to another connection on the same session (Suspended, Reconnected): the session still lives.
        lock (changes) Assert.DoesNotContain(SessionState.Expired, changes);
        Assert.Equal(session, client.SessionId);
        // The same late reply can cut the connection under this read too (ConnectionLoss: a read is safe to ask
        // again); the session, and so the ephemeral node, must have lived through it. Three attempts at most.
        ZooKeeperStat? stat = null;
        for (var attempt = 1; stat is null; attempt++)
        {
            try
            {
                stat = await client.ExistsAsync(root).WaitAsync(Wait);
                Assert.NotNull(stat);
            }
            catch (ConnectionLossException) when (attempt < 3)
            {
            }
        }
        lock (changes) Assert.DoesNotContain(SessionState.Expired, changes);
        Assert.Equal(session, stat.EphemeralOwner);
    }

    [Fact]
    public async Task Failed_auth_is_reported_and_not_replayed()
    {
        await using var client = await zk.ConnectAsync();
        await Assert.ThrowsAsync<AuthFailedException>(() => client.AddAuthAsync("no-such-scheme", "x"u8.ToArray()).WaitAsync(Wait));
        var root = StandaloneZooKeeperFixture.UniqueRoot("authfail");
        // The server closed that connection; the client reconnects on the same session and carries on. A request sent
        // before the close was noticed fails as a connection loss (it may or may not have been applied): once more then.
        try
        {
            Assert.Equal(root, await client.CreateAsync(root).WaitAsync(Wait));
        }
        catch (ConnectionLossException)
        {
            try { await client.CreateAsync(root).WaitAsync(Wait); }
            catch (NodeExistsException) { }
        }
        Assert.NotNull(await client.ExistsAsync(root).WaitAsync(Wait));
        Assert.True(client.IsConnected);
    }
}
