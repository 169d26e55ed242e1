using Kiel.Testing.ZooKeeper;
using Kiel.ZooKeeper;

namespace Kiel.IntegrationTests.ZooKeeper;

public sealed class MisbehavingServerTests(StandaloneZooKeeperFixture zk) : IClassFixture<StandaloneZooKeeperFixture>
{
    [Fact]
    public async Task A_hostile_reply_length_drops_the_connection_and_fails_the_request()
    {
        await using var fake = new FakeZooKeeperServer(FakeZooKeeperServer.Behaviour.HostileReplyLength);
        await using var client = await StandaloneZooKeeperFixture.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = fake.ConnectString,
            ConnectionWaitTimeout = TimeSpan.FromSeconds(2),
        });
        var e = await Assert.ThrowsAsync<ConnectionLossException>(() => client.GetDataAsync("/a").WaitAsync(TimeSpan.FromSeconds(10)));
        var inner = Assert.IsType<ZooKeeperProtocolException>(e.InnerException);
        Assert.Equal("length", inner.Field);
    }

    [Fact]
    public async Task Reconnect_sends_the_last_zxid_and_moves_on_from_a_server_that_refuses()
    {
        // The server expires the session SessionTimeout after the last bytes it got, so the client must be back within
        // that. The proxy therefore cuts the connection (the client notices at once) instead of only dropping bytes
        // (noticed after the read timeout, two thirds of the session timeout: that left 1.3 s of a 4 s session for the
        // refused attempt and the reconnect, and a busy machine ran past it into an expiry, which never reconnects).
        await using var proxy = new TcpRelay(zk.Server.Port);
        await using var refusing = new FakeZooKeeperServer(FakeZooKeeperServer.Behaviour.RefuseHandshake);
        await using var client = await StandaloneZooKeeperFixture.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = proxy.ConnectString + "," + refusing.ConnectString,
            ShuffleHosts = false,
            SessionTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromMilliseconds(500),
        });
        var root = StandaloneZooKeeperFixture.UniqueRoot("zxid");
        await client.CreateAsync(root, mode: CreateMode.Ephemeral);
        var session = client.SessionId;
        var zxid = client.LastZxid;
        Assert.True(zxid > 0);

        var states = client.WatchStateAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token).GetAsyncEnumerator();
        proxy.Drop();
        proxy.CloseConnections();
        while (await states.MoveNextAsync() && states.Current.State != SessionState.Suspended) { }
        Assert.Equal(SessionState.Suspended, states.Current.State);
        // The proxy now takes connections and drops their bytes, so the client moves on to the refusing server.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (refusing.ConnectRequests.IsEmpty && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.False(refusing.ConnectRequests.IsEmpty, "the client did not try the second server");
        proxy.Restore();
        while (await states.MoveNextAsync() && states.Current.State is not (SessionState.Reconnected or SessionState.Expired)) { }
        Assert.Equal(SessionState.Reconnected, states.Current.State);
        await states.DisposeAsync();

        Assert.True(refusing.ConnectRequests.TryPeek(out var seen));
        Assert.Equal(zxid, seen.LastZxid);
        Assert.Equal(session, seen.SessionId);
        Assert.Equal(session, client.SessionId);
        Assert.NotNull(await client.ExistsAsync(root));
    }

    [Fact]
    public async Task A_server_reporting_the_session_expired_makes_the_client_report_expiry_and_start_a_new_session()
    {
        await using var proxy = new TcpRelay(zk.Server.Port);
        await using var expiring = new FakeZooKeeperServer(FakeZooKeeperServer.Behaviour.ExpireSession);
        await using var client = await StandaloneZooKeeperFixture.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = proxy.ConnectString + "," + expiring.ConnectString,
            ShuffleHosts = false,
            SessionTimeout = TimeSpan.FromSeconds(4),
            ConnectTimeout = TimeSpan.FromMilliseconds(500),
        });
        var root = StandaloneZooKeeperFixture.UniqueRoot("told");
        await client.CreateAsync(root);
        var members = root + "/members";
        await using var party = new Kiel.ZooKeeper.Recipes.Party(client, members, "me");
        await party.StartAsync();
        await party.JoinAsync();
        var watch = new TaskCompletionSource<WatchedEvent>();
        await client.GetDataAsync(root, e => watch.TrySetResult(e));
        var session = client.SessionId;

        var states = client.WatchStateAsync(new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token).GetAsyncEnumerator();
        proxy.Drop();
        while (await states.MoveNextAsync() && states.Current.State != SessionState.Expired) { }
        Assert.Equal(SessionState.Expired, states.Current.State);
        Assert.Equal(session, states.Current.SessionId);
        Assert.Equal(WatchState.Expired, (await watch.Task.WaitAsync(TimeSpan.FromSeconds(5))).State);
        proxy.Restore();
        while (await states.MoveNextAsync() && states.Current.State != SessionState.Connected) { }
        Assert.Equal(SessionState.Connected, states.Current.State);
        await states.DisposeAsync();
        Assert.NotEqual(session, client.SessionId);

        // Unlike kiel (bug L10) the party member registers again under the new session.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        ZooKeeperStat? stat = null;
        while (DateTime.UtcNow < deadline)
        {
            stat = await client.ExistsAsync(members + "/me");
            if (stat?.EphemeralOwner == client.SessionId) break;
            await Task.Delay(50);
        }
        Assert.Equal(client.SessionId, stat!.EphemeralOwner);
    }

    [Fact]
    public async Task Connecting_to_nothing_fails_within_the_wait_bound()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nobody listens there now
        var client = new ZooKeeperClient(new ZooKeeperClientOptions
        {
            ConnectString = $"127.0.0.1:{port}",
            ConnectionWaitTimeout = TimeSpan.FromSeconds(1),
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAsync<ConnectionLossException>(() => client.ConnectAsync().WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAsync<ConnectionLossException>(() => client.GetDataAsync("/").WaitAsync(TimeSpan.FromSeconds(10)));
        await client.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(SessionState.Closed, client.State);
        await Assert.ThrowsAsync<ClientClosedException>(() => client.GetDataAsync("/"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
    }
}
