using System.Collections.Concurrent;
using System.Text.Json;
using Kiel.IntegrationTests.Fixtures;

namespace Kiel.IntegrationTests.Groups;

[Trait("Category", "Groups")]
public sealed class GroupedConsumerTests(GroupEnvironment env) : IClassFixture<GroupEnvironment>
{
    private static int N(JsonElement e) => e.GetProperty("n").GetInt32();

    [Fact]
    public async Task One_member_reads_everything_commits_and_a_successor_resumes_after_it()
    {
        var topic = GroupEnvironment.Unique("one");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 4);
        await env.ProduceAsync(topic, 4, 0, 200);

        var seen = new List<int>();
        await using (var c = new GroupedConsumer(env.Options(group)))
        {
            using var cts = TestTimeouts.After(30);
            await c.ConnectAsync(cts.Token);
            // ConnectAsync returns after the first allocation; the claims behind it may take longer on a loaded machine.
            Assert.True(await TestTimeouts.WaitUntilAsync(() => c.Allocation.TryGetValue(topic, out var claimed) && claimed.Count == 4, TimeSpan.FromSeconds(20)));
            while (seen.Count < 200 && !cts.IsCancellationRequested)
                seen.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
        }
        Assert.Equal(Enumerable.Range(0, 200), seen.Order());

        await env.ProduceAsync(topic, 4, 200, 20);
        var more = new List<int>();
        await using (var c = new GroupedConsumer(env.Options(group)))
        {
            using var cts = TestTimeouts.After(30);
            await c.ConnectAsync(cts.Token);
            while (more.Count < 20 && !cts.IsCancellationRequested)
                more.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
            await Task.Delay(300);
            more.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
        }
        Assert.Equal(Enumerable.Range(200, 20), more.Order());
    }

    [Fact]
    public async Task Reading_several_topics_uses_one_cluster_and_one_fetch_engine()
    {
        var group = GroupEnvironment.Unique("g");
        var topics = Enumerable.Range(0, 4).Select(i => GroupEnvironment.Unique($"multi{i}")).ToList();
        foreach (var topic in topics)
        {
            env.Kafka.CreateTopic(topic, 2);
            await env.ProduceAsync(topic, 2, 0, 30);
        }
        // Records of every topic, so that chunks of the other topics arrive while one topic is read.
        await using var c = new GroupedConsumer(env.Options(group) with { MetadataMaxAge = TimeSpan.FromMinutes(10) });
        using var cts = TestTimeouts.After(60);
        await c.ConnectAsync(cts.Token);

        var seen = topics.ToDictionary(t => t, _ => new List<int>());
        for (var round = 0; round < 200 && seen.Values.Any(v => v.Count < 30) && !cts.IsCancellationRequested; round++)
            foreach (var topic in topics)
                seen[topic].AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
        foreach (var topic in topics) Assert.Equal(Enumerable.Range(0, 30), seen[topic].Order());

        // One cluster for coordination and every topic's fetches, one engine (one prefetch budget).
        var backend = Assert.IsType<Kiel.Consuming.ClusterConsumerBackend>(c.Backend);
        Assert.Same(c.Cluster, backend.Cluster);
        Assert.NotNull(c.Engine);
        Assert.Equal(64L * 1024 * 1024, c.Engine!.Options.MaxPrefetchBytes);
        // At most one connection per broker and purpose, whatever the number of topics; fetches go on each broker's
        // two fetch-lane connections (a topic's two partitions are in different lanes).
        var open = c.Cluster!.OpenConnections();
        Assert.InRange(open.Count, 2, env.Brokers.Length * 5);
        Assert.InRange(open.Keys.Count(k => k.Purpose == Kiel.Cluster.ConnectionPurpose.Fetch), 1, env.Brokers.Length);
        Assert.InRange(open.Keys.Count(k => k.Purpose == Kiel.Cluster.ConnectionPurpose.SecondFetch), 1, env.Brokers.Length);
    }

    [Fact]
    public async Task Kazoo_sees_kiels_layout_and_a_partition_it_adds_is_consumed()
    {
        var group = GroupEnvironment.Unique("g");
        var first = GroupEnvironment.Unique("k1");
        env.Kafka.CreateTopic(first, 2);
        await using var c = new GroupedConsumer(env.Options(group) with { MetadataMaxAge = TimeSpan.FromMinutes(10) });
        using var cts = TestTimeouts.After(60);
        await c.ConnectAsync(cts.Token);

        var seen = await Kazoo.RunAsync(env.ZooKeeper.ConnectString, """
            import json
            g = '/kiel/groups/' + sys.argv[2]
            members = zk.get_children(g + '/members')
            parts = json.loads(zk.get(g + '/partitions')[0].decode())
            print(json.dumps({'members': members, 'partitions': parts}))
            """, group);
        using (var doc = JsonDocument.Parse(seen))
        {
            Assert.Equal([c.Name], doc.RootElement.GetProperty("members").EnumerateArray().Select(e => e.GetString()));
            var parts = doc.RootElement.GetProperty("partitions").EnumerateArray().Select(e => e.GetString()).ToList();
            Assert.Contains($"{first}:0", parts);
            Assert.Contains($"{first}:1", parts);
        }

        // A topic created after the member connected is not in the set until kazoo (a kiel peer) adds it.
        var later = GroupEnvironment.Unique("k2");
        env.Kafka.CreateTopic(later, 1);
        await env.ProduceAsync(later, 1, 0, 5);
        Assert.False(c.Allocation.ContainsKey(later));
        await Kazoo.RunAsync(env.ZooKeeper.ConnectString, """
            import json
            g = '/kiel/groups/' + sys.argv[2] + '/partitions'
            with zk.Lock(g + '/lock'):
                items = set(json.loads(zk.get(g)[0].decode()))
                items.add(sys.argv[3] + ':0')
                zk.set(g, json.dumps(list(items)).encode())
            """, group, later);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => c.Allocation.ContainsKey(later), TimeSpan.FromSeconds(10)));
        var values = new List<int>();
        while (values.Count < 5 && !cts.IsCancellationRequested) values.AddRange((await c.ConsumeAsync(later, null, cts.Token)).Select(N));
        Assert.Equal([0, 1, 2, 3, 4], values.Order());
    }

    [Fact]
    public async Task A_partition_the_metadata_shows_later_is_added_to_the_set()
    {
        var group = GroupEnvironment.Unique("g");
        var topic = GroupEnvironment.Unique("m1");
        env.Kafka.CreateTopic(topic, 1);
        await using var c = new GroupedConsumer(env.Options(group) with { MetadataMaxAge = TimeSpan.FromMilliseconds(500) });
        using var cts = TestTimeouts.After(60);
        await c.ConnectAsync(cts.Token);
        var later = GroupEnvironment.Unique("m2");
        env.Kafka.CreateTopic(later, 3);
        await env.ProduceAsync(later, 3, 0, 9);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => c.Allocation.TryGetValue(later, out var ps) && ps.Count == 3, TimeSpan.FromSeconds(15)));
        var values = new List<int>();
        while (values.Count < 9 && !cts.IsCancellationRequested) values.AddRange((await c.ConsumeAsync(later, null, cts.Token)).Select(N));
        Assert.Equal(Enumerable.Range(0, 9), values.Order());
    }

    [Fact]
    public async Task Kiels_constructor_validates_and_names_the_member()
    {
        Assert.Throws<ArgumentException>(() => new GroupedConsumer([], "g", ["127.0.0.1:2181"]));
        Assert.Throws<ArgumentException>(() => new GroupedConsumer(env.Brokers, "", ["127.0.0.1:2181"]));
        Assert.Throws<ArgumentException>(() => new GroupedConsumer(env.Brokers, "g", ["127.0.0.1:notaport"]));
        Assert.Throws<ArgumentException>(() => new GroupedConsumer(env.Brokers, "g", ["127.0.0.1:2181"], maxBytes: -1));
        Assert.Throws<ArgumentException>(() => new GroupedConsumer(env.Brokers, "g", ["127.0.0.1:2181"], minBytes: -1));
        await using var a = new GroupedConsumer(env.Brokers, "g", [env.ZooKeeper.ConnectString]);
        await using var b = new GroupedConsumer(env.Brokers, "g", [env.ZooKeeper.ConnectString]);
        Assert.NotEqual(a.Name, b.Name);
        Assert.StartsWith(Environment.MachineName + ":", a.Name);
        Assert.Empty(a.Allocation);
    }
}
