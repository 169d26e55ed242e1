using System.Text;
using Kiel.ZooKeeper;
using Kiel.ZooKeeper.Recipes;

namespace Kiel.IntegrationTests.ZooKeeper;

public sealed class RecipeTests(StandaloneZooKeeperFixture zk) : IClassFixture<StandaloneZooKeeperFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static async Task<T> NextAsync<T>(IAsyncEnumerator<T> e)
    {
        using var cts = new CancellationTokenSource(Wait);
        Assert.True(await e.MoveNextAsync().AsTask().WaitAsync(cts.Token));
        return e.Current;
    }

    [Fact]
    public async Task Party_lists_members_and_replaces_a_stale_node_in_one_multi()
    {
        var path = StandaloneZooKeeperFixture.UniqueRoot("party") + "/members";
        await using var a = await zk.ConnectAsync();
        await using var b = await zk.ConnectAsync();
        await using var partyA = new Party(a, path, "m1");
        await partyA.StartAsync();
        await using var changes = partyA.ChangesAsync().GetAsyncEnumerator();
        Assert.Empty(await NextAsync(changes));
        await partyA.JoinAsync();
        Assert.Equal(["m1"], await NextAsync(changes));

        // b joins under the same name: a's node is stale from b's point of view and is replaced atomically.
        await using var partyB = new Party(b, path, "m1");
        await partyB.JoinAsync();
        var stat = await a.ExistsAsync(path + "/m1");
        Assert.Equal(b.SessionId, stat!.EphemeralOwner);
        await partyB.JoinAsync(); // already ours: nothing happens
        Assert.Equal(stat.Czxid, (await a.ExistsAsync(path + "/m1"))!.Czxid);

        await using var partyA2 = new Party(a, path, "m2");
        await partyA2.JoinAsync();
        while (!(await NextAsync(changes)).SequenceEqual(["m1", "m2"])) { }
        await partyA2.LeaveAsync();
        await partyA2.LeaveAsync();
        Assert.Equal(["m1"], partyA.Members.Count == 1 ? partyA.Members : await NextAsync(changes));
    }

    [Fact]
    public async Task Shared_set_writes_only_on_change_and_is_watched()
    {
        var path = StandaloneZooKeeperFixture.UniqueRoot("set") + "/partitions";
        await using var a = await zk.ConnectAsync();
        await using var b = await zk.ConnectAsync();
        await using var setA = new SharedSet(a, path);
        await setA.StartAsync();
        await using var changes = setA.ChangesAsync().GetAsyncEnumerator();
        Assert.Empty((await NextAsync(changes))!);

        await using var setB = new SharedSet(b, path);
        Assert.True(await setB.AddItemsAsync(["x:0", "x:1"]));
        Assert.Equal(new HashSet<string> { "x:0", "x:1" }, await NextAsync(changes));
        var version = (await a.ExistsAsync(path))!.Version;
        Assert.False(await setB.AddItemsAsync(["x:1"]));
        Assert.False(await setB.RemoveItemsAsync(["y:9"]));
        Assert.Equal(version, (await a.ExistsAsync(path))!.Version);
        Assert.True(await setB.RemoveItemsAsync(["x:0"]));
        Assert.Equal(new HashSet<string> { "x:1" }, await NextAsync(changes));
        Assert.Equal("[\"x:1\"]", Encoding.UTF8.GetString((await a.GetDataAsync(path)).Data));

        // Concurrent adders under the lock lose nothing.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => (i % 2 == 0 ? setA : setB).AddItemsAsync([$"c:{i}"])));
        Assert.Equal(9, (await setA.GetAsync()).Count);
    }

    [Fact]
    public async Task Lock_excludes_and_hands_over_in_order()
    {
        var path = StandaloneZooKeeperFixture.UniqueRoot("lock");
        await using var a = await zk.ConnectAsync();
        await using var b = await zk.ConnectAsync();
        var la = new ZooKeeperLock(a, path, "a");
        var lb = new ZooKeeperLock(b, path, "b");
        Assert.True(await la.AcquireAsync(Wait));
        Assert.False(await lb.TryAcquireAsync());
        Assert.Single(await a.GetChildrenAsync(path)); // the failed try cleaned up its node
        var waiting = lb.AcquireAsync(Wait);
        Assert.False(waiting.IsCompleted);
        var children = await a.GetChildrenAsync(path);
        Assert.All(children, c => Assert.Matches("^[0-9a-f]{32}__lock__[0-9]{10}$", c));
        await la.ReleaseAsync();
        Assert.True(await waiting);
        Assert.False(await la.AcquireAsync(TimeSpan.FromMilliseconds(200)));
        await b.DisposeAsync(); // the holder's session ends: its node vanishes and the lock is free
        Assert.True(await la.AcquireAsync(Wait));
        await la.ReleaseAsync();
    }

    [Fact]
    public async Task Data_and_children_watch_helpers_rearm()
    {
        var root = StandaloneZooKeeperFixture.UniqueRoot("helpers");
        await using var a = await zk.ConnectAsync();
        await using var b = await zk.ConnectAsync();
        await using var data = await DataWatch.StartAsync(a, root);
        await using var dataChanges = data.ChangesAsync().GetAsyncEnumerator();
        Assert.Null(await NextAsync(dataChanges));
        await b.CreateAsync(root, "1"u8.ToArray());
        Assert.Equal("1", Encoding.UTF8.GetString((await NextAsync(dataChanges))!.Data));
        await using var children = await ChildrenWatch.StartAsync(a, root);
        await using var childChanges = children.ChangesAsync().GetAsyncEnumerator();
        Assert.Empty(await NextAsync(childChanges));
        for (var i = 0; i < 3; i++)
        {
            await b.SetDataAsync(root, Encoding.UTF8.GetBytes($"v{i}"));
            Assert.Equal($"v{i}", Encoding.UTF8.GetString((await NextAsync(dataChanges))!.Data));
            await b.CreateAsync($"{root}/c{i}");
            Assert.Equal(i + 1, (await NextAsync(childChanges)).Count);
        }
    }

    [Fact]
    public async Task Client_watch_streams_follow_changes()
    {
        var root = StandaloneZooKeeperFixture.UniqueRoot("streams");
        await using var a = await zk.ConnectAsync();
        await using var b = await zk.ConnectAsync();
        using var cts = new CancellationTokenSource(Wait);
        await using var data = a.WatchDataAsync(root, cts.Token).GetAsyncEnumerator();
        Assert.Null(await NextAsync(data));
        await b.CreateAsync(root, "a"u8.ToArray());
        Assert.Equal("a", Encoding.UTF8.GetString((await NextAsync(data))!.Data));
        await using var kids = a.WatchChildrenAsync(root, cts.Token).GetAsyncEnumerator();
        Assert.Empty(await NextAsync(kids));
        await b.CreateAsync(root + "/k");
        Assert.Equal(["k"], await NextAsync(kids));
        await b.DeleteAsync(root + "/k");
        Assert.Empty(await NextAsync(kids));
        await b.DeleteAsync(root);
        Assert.Null(await NextAsync(data));
    }
}
