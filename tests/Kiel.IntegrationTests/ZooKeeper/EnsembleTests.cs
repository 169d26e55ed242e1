using System.Text;
using Kiel.Testing.ZooKeeper;
using Kiel.ZooKeeper;
using Kiel.ZooKeeper.Recipes;

namespace Kiel.IntegrationTests.ZooKeeper;

public sealed class EnsembleTests(EnsembleFixture fixture) : IClassFixture<EnsembleFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private static async Task<SessionStateChange> WaitForStateAsync(IAsyncEnumerator<SessionStateChange> states, SessionState wanted)
    {
        var seen = new List<SessionState>();
        try
        {
            while (await states.MoveNextAsync())
            {
                seen.Add(states.Current.State);
                if (states.Current.State == wanted) return states.Current;
            }
        }
        catch (OperationCanceledException)
        {
        }
        throw new TimeoutException($"No {wanted} state; saw {string.Join(", ", seen)}.");
    }

    private static IAsyncEnumerator<SessionStateChange> States(ZooKeeperClient client) =>
        client.WatchStateAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token).GetAsyncEnumerator();

    [Fact]
    public async Task Client_moves_to_another_server_keeping_session_ephemerals_and_watches()
    {
        await fixture.HealAsync();
        var ensemble = fixture.Ensemble;
        var root = StandaloneZooKeeperFixture.UniqueRoot("failover");
        await using var client = await StandaloneZooKeeperFixture.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = ensemble.ConnectString,
            SessionTimeout = TimeSpan.FromSeconds(6),
        });
        await client.CreateAsync(root);
        await client.CreateAsync(root + "/eph", mode: CreateMode.Ephemeral);
        var watchFired = new TaskCompletionSource<WatchedEvent>();
        await client.GetDataAsync(root, e => watchFired.TrySetResult(e));
        await using var children = await ChildrenWatch.StartAsync(client, root);
        var session = client.SessionId;
        var serving = ensemble.IndexOfPort(int.Parse(client.CurrentServer!.Split(':')[1]));
        Assert.InRange(serving, 0, 2);

        await using var states = States(client);
        await ensemble.StopServerAsync(serving);
        await WaitForStateAsync(states, SessionState.Suspended);
        var back = await WaitForStateAsync(states, SessionState.Reconnected);
        Assert.Equal(session, back.SessionId);
        Assert.Equal(session, client.SessionId);
        Assert.NotEqual(ensemble.ConnectStringOf(serving), client.CurrentServer);

        var stat = await client.ExistsAsync(root + "/eph");
        Assert.Equal(session, stat!.EphemeralOwner);

        // The one-shot watch set before the move was re-armed on the new server.
        await using var other = await StandaloneZooKeeperFixture.ConnectAsync(new ZooKeeperClientOptions { ConnectString = ensemble.ConnectString });
        await other.SetDataAsync(root, "moved"u8.ToArray());
        Assert.Equal(WatchEventType.NodeDataChanged, (await watchFired.Task.WaitAsync(Wait)).Type);
        await other.CreateAsync(root + "/new");
        using var cts = new CancellationTokenSource(Wait);
        await foreach (var list in children.ChangesAsync(cts.Token))
            if (list.Contains("new")) break;
        await fixture.HealAsync();
    }

    [Fact]
    public async Task Cut_connection_longer_than_the_timeout_expires_the_session()
    {
        await fixture.HealAsync();
        var ensemble = fixture.Ensemble;
        var root = StandaloneZooKeeperFixture.UniqueRoot("expiry");
        await using var proxy = new TcpRelay(ensemble.ClientPort(0));
        await using var client = await StandaloneZooKeeperFixture.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = proxy.ConnectString,
            SessionTimeout = TimeSpan.FromSeconds(2),
            // The wait bound defaults to the session timeout; 2 s is too short to connect on a busy machine.
            ConnectionWaitTimeout = TimeSpan.FromSeconds(8),
        });
        await using var observer = await StandaloneZooKeeperFixture.ConnectAsync(new ZooKeeperClientOptions { ConnectString = ensemble.ConnectString });
        await client.CreateAsync(root);
        await client.CreateAsync(root + "/eph", mode: CreateMode.Ephemeral);
        var expiredWatch = new TaskCompletionSource<WatchedEvent>();
        await client.GetDataAsync(root, e => expiredWatch.TrySetResult(e));
        var oldSession = client.SessionId;
        var gone = new TaskCompletionSource<WatchedEvent>();
        await observer.ExistsAsync(root + "/eph", e => gone.TrySetResult(e));

        await using var states = States(client);
        proxy.Drop();
        await WaitForStateAsync(states, SessionState.Suspended);
        // A request while cut off fails within the wait bound instead of hanging.
        await Assert.ThrowsAnyAsync<ZooKeeperException>(() => client.GetDataAsync(root));
        var expired = await WaitForStateAsync(states, SessionState.Expired);
        Assert.Equal(oldSession, expired.SessionId);
        Assert.Equal(WatchState.Expired, (await expiredWatch.Task.WaitAsync(Wait)).State);
        Assert.Equal(WatchEventType.NodeDeleted, (await gone.Task.WaitAsync(Wait)).Type);
        Assert.Null(await observer.ExistsAsync(root + "/eph"));

        proxy.Restore();
        var fresh = await WaitForStateAsync(states, SessionState.Connected);
        Assert.NotEqual(oldSession, fresh.SessionId);
        Assert.NotNull(await client.ExistsAsync(root));
    }

    [Fact]
    public async Task In_flight_requests_fail_at_once_with_connection_loss_when_the_server_dies()
    {
        await fixture.HealAsync();
        var ensemble = fixture.Ensemble;
        await using var client = await StandaloneZooKeeperFixture.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = ensemble.ConnectString,
            SessionTimeout = TimeSpan.FromSeconds(6),
        });
        var serving = ensemble.IndexOfPort(int.Parse(client.CurrentServer!.Split(':')[1]));
        var root = StandaloneZooKeeperFixture.UniqueRoot("inflight");
        await client.CreateAsync(root);
        var requests = Enumerable.Range(0, 200).Select(_ => client.SetDataAsync(root, new byte[1000])).ToList();
        ensemble.KillServer(serving);
        var failures = 0;
        foreach (var r in requests)
        {
            try { await r.WaitAsync(Wait); }
            catch (ConnectionLossException) { failures++; }
        }
        // Whatever was still in flight failed fast; the client carries on.
        await client.GetDataAsync(root).WaitAsync(Wait);
        Assert.InRange(failures, 0, 200);
        await fixture.HealAsync();
    }

    [Fact]
    public async Task Ensemble_answers_a_kazoo_script_and_keeps_answering_after_one_server_stops()
    {
        Assert.True(KazooProcess.IsAvailable, "install python3-kazoo");
        await fixture.HealAsync();
        var ensemble = fixture.Ensemble;
        const string script = """
            import sys
            from kazoo.client import KazooClient
            zk = KazooClient(hosts=sys.argv[1], timeout=10)
            zk.start(timeout=15)
            zk.ensure_path("/peer")
            zk.create("/peer/n-", sys.argv[2].encode(), sequence=True)
            print(len(zk.get_children("/peer")))
            zk.stop()
            """;
        var before = await KazooProcess.RunAsync(script, ensemble.ConnectString, "first");
        await ensemble.StopServerAsync(await ensemble.GetLeaderAsync() is var l and >= 0 ? l : 0);
        await ensemble.WaitForQuorumAsync();
        var after = await KazooProcess.RunAsync(script, ensemble.ConnectString, "second");
        Assert.Equal(int.Parse(before[0]) + 1, int.Parse(after[0]));
        await fixture.HealAsync();
    }
}
