using System.Text;
using System.Text.Json;
using Kiel.ZooKeeper;
using Kiel.ZooKeeper.Recipes;

namespace Kiel.IntegrationTests.ZooKeeper;

public sealed class KazooInteropTests(StandaloneZooKeeperFixture zk) : IClassFixture<StandaloneZooKeeperFixture>
{
    private const string Prelude = """
        import sys, json
        from kazoo.client import KazooClient
        zk = KazooClient(hosts=sys.argv[1], timeout=10)
        zk.start(timeout=15)

        """;

    [Fact]
    public async Task Kazoo_sees_our_party_member()
    {
        Assert.True(KazooProcess.IsAvailable, "install python3-kazoo");
        var path = StandaloneZooKeeperFixture.UniqueRoot("party") + "/members";
        await using var client = await zk.ConnectAsync();
        await using var party = new Party(client, path, "host-a:1");
        await party.StartAsync();
        await party.JoinAsync();
        var lines = await KazooProcess.RunAsync(Prelude + """
            path = sys.argv[2]
            print(json.dumps(sorted(zk.get_children(path))))
            data, stat = zk.get(path + "/host-a:1")
            print(stat.ephemeralOwner)
            zk.stop()
            """, zk.ConnectString, path);
        Assert.Equal("[\"host-a:1\"]", lines[0]);
        Assert.Equal(client.SessionId.ToString(), lines[1]);
    }

    [Fact]
    public async Task Kazoo_lock_and_ours_exclude_each_other_both_ways()
    {
        Assert.True(KazooProcess.IsAvailable, "install python3-kazoo");
        var path = StandaloneZooKeeperFixture.UniqueRoot("lock");
        await using var client = await zk.ConnectAsync();
        var ours = new ZooKeeperLock(client, path, "kiel");
        Assert.True(await ours.AcquireAsync(TimeSpan.FromSeconds(10)));

        await using var kazoo = KazooProcess.Start(Prelude + """
            lock = zk.Lock(sys.argv[2], "kazoo")
            print("free" if lock.acquire(blocking=False) else "held")
            print(json.dumps(lock.contenders()))
            print("acquired" if lock.acquire(timeout=20) else "timeout")
            sys.stdin.readline()
            lock.release()
            print("released")
            zk.stop()
            """, zk.ConnectString, path);
        Assert.Equal("held", await kazoo.ReadLineAsync());
        Assert.Equal("[\"kiel\"]", await kazoo.ReadLineAsync());

        await ours.ReleaseAsync();
        Assert.Equal("acquired", await kazoo.ReadLineAsync());
        var second = new ZooKeeperLock(client, path, "kiel-2");
        Assert.False(await second.TryAcquireAsync());
        Assert.False(await second.AcquireAsync(TimeSpan.FromMilliseconds(300)));
        Assert.Equal(["kazoo"], await second.GetContendersAsync());

        var acquire = second.AcquireAsync(TimeSpan.FromSeconds(20));
        await kazoo.WriteLineAsync("go");
        Assert.Equal("released", await kazoo.ReadLineAsync());
        Assert.True(await acquire);
        Assert.True(second.IsAcquired);
        await second.ReleaseAsync();
    }

    [Fact]
    public async Task Kazoo_reads_our_shared_set_and_we_read_kazoos()
    {
        Assert.True(KazooProcess.IsAvailable, "install python3-kazoo");
        var root = StandaloneZooKeeperFixture.UniqueRoot("set");
        await using var client = await zk.ConnectAsync();
        await using var ours = new SharedSet(client, root + "/partitions");
        await ours.StartAsync();
        Assert.True(await ours.AddItemsAsync(["t:0", "t:1"]));
        Assert.False(await ours.AddItemsAsync(["t:1"]));

        var lines = await KazooProcess.RunAsync(Prelude + """
            root = sys.argv[2]
            data, stat = zk.get(root + "/partitions")
            print(json.dumps(sorted(json.loads(data.decode("utf-8")))))
            print(stat.version)
            zk.ensure_path(root + "/theirs")
            with zk.Lock(root + "/theirs/lock", "kazoo"):
                zk.set(root + "/theirs", json.dumps(["b:1", "a:0"]).encode("utf-8"))
            zk.stop()
            """, zk.ConnectString, root);
        Assert.Equal("[\"t:0\", \"t:1\"]", lines[0]);
        Assert.Equal("1", lines[1]); // the no-op add wrote nothing

        await using var theirs = new SharedSet(client, root + "/theirs");
        Assert.Equal(new HashSet<string> { "a:0", "b:1" }, await theirs.GetAsync());
        await theirs.StartAsync();
        Assert.Equal(new HashSet<string> { "a:0", "b:1" }, theirs.Current);
    }
}
