using System.Collections.Concurrent;
using System.Text.Json;
using Kiel.Groups;

namespace Kiel.IntegrationTests.Groups;

/// <summary>The coordination layer alone on a real ZooKeeper: each member is its own session.</summary>
[Trait("Category", "Groups")]
public sealed class ZooKeeperCoordinationTests(GroupZooKeeperFixture zk) : IClassFixture<GroupZooKeeperFixture>
{
    private static readonly string[] Twelve = Enumerable.Range(0, 12).Select(p => $"t:{p}").ToArray();

    internal sealed class Owner(string name, ConcurrentDictionary<TopicPartition, string> readers, ConcurrentQueue<string> violations) : IPartitionOwner
    {
        public Task AssignAsync(IReadOnlyCollection<TopicPartition> assigned, CancellationToken cancellationToken)
        {
            foreach (var tp in assigned)
                if (!readers.TryAdd(tp, name)) violations.Enqueue($"{name} got {tp} while {readers[tp]} reads it");
            return Task.CompletedTask;
        }

        public Task RevokeAsync(IReadOnlyCollection<TopicPartition> revoked, bool commit, CancellationToken cancellationToken)
        {
            foreach (var tp in revoked) readers.TryRemove(new KeyValuePair<TopicPartition, string>(tp, name));
            return Task.CompletedTask;
        }

        public void SetPaused(bool paused) { }

        public Task OnAllocationChangedAsync(AllocationChangedEventArgs args) => Task.CompletedTask;
    }

    private sealed record Member(GroupMembership Membership, ZooKeeperGroupStore Store) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Membership.DisposeAsync();
            await Store.DisposeAsync();
        }
    }

    private readonly ConcurrentDictionary<TopicPartition, string> _readers = new();
    private readonly ConcurrentQueue<string> _violations = new();

    private async Task<Member> StartAsync(string group, string name, IReadOnlyCollection<string> seed, PartitionAllocator? allocator = null)
    {
        var store = new ZooKeeperGroupStore(zk.ConnectString, group, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(10), null);
        var m = new GroupMembership(store, group, name, allocator, claims: true, new Owner(name, _readers, _violations), null, TimeSpan.FromMilliseconds(200));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await m.StartAsync(seed, cts.Token);
        return new Member(m, store);
    }

    private static HashSet<TopicPartition> Owned(Member m) => m.Membership.Allocation.SelectMany(kv => kv.Value.Select(p => new TopicPartition(kv.Key, p))).ToHashSet();

    private static async Task ConvergeAsync(IReadOnlyList<Member> live, IReadOnlyList<string> partitions)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var expected = Allocators.Naive(live.Select(m => m.Membership.Member).ToArray(), partitions);
            if (live.All(m => (expected.TryGetValue(m.Membership.Member, out var t) ? t.SelectMany(kv => kv.Value.Select(p => new TopicPartition(kv.Key, p))).ToHashSet() : []).SetEquals(Owned(m))))
                return;
            if (DateTime.UtcNow > deadline)
                Assert.Fail("no convergence: " + string.Join("; ", live.Select(m => m.Membership.Member + "=" + string.Join(",", Owned(m).Order()))));
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Three_sessions_share_twelve_partitions_in_kiels_layout_and_kazoo_sees_it()
    {
        var group = GroupZooKeeperFixture.UniqueGroup("coord");
        await using var a = await StartAsync(group, "host:1", Twelve);
        await using var b = await StartAsync(group, "host:2", Twelve);
        await using var c = await StartAsync(group, "host:3", Twelve);
        await ConvergeAsync([a, b, c], Twelve);
        Assert.Empty(_violations);

        var owners = await a.Store.GetOwnersAsync(default);
        Assert.Equal(12, owners.Count);
        foreach (var m in new[] { a, b, c })
            foreach (var tp in Owned(m)) Assert.Equal(m.Membership.Member, owners[tp.ToString()]);

        var seen = await Kazoo.RunAsync(zk.ConnectString, """
            import json
            g = '/kiel/groups/' + sys.argv[2]
            print(json.dumps({'members': sorted(zk.get_children(g + '/members')), 'partitions': sorted(json.loads(zk.get(g + '/partitions')[0].decode())), 'ephemeral': zk.exists(g + '/members/host:1').ephemeralOwner != 0}))
            """, group);
        using var doc = JsonDocument.Parse(seen);
        Assert.Equal(["host:1", "host:2", "host:3"], doc.RootElement.GetProperty("members").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(Twelve.Order(StringComparer.Ordinal), doc.RootElement.GetProperty("partitions").EnumerateArray().Select(e => e.GetString()));
        Assert.True(doc.RootElement.GetProperty("ephemeral").GetBoolean());
    }

    [Fact]
    public async Task A_partition_that_kazoo_adds_under_its_lock_is_picked_up()
    {
        var group = GroupZooKeeperFixture.UniqueGroup("kazooadd");
        await using var a = await StartAsync(group, "host:1", Twelve);
        await using var b = await StartAsync(group, "host:2", Twelve);
        await ConvergeAsync([a, b], Twelve);
        await Kazoo.RunAsync(zk.ConnectString, """
            import json
            g = '/kiel/groups/' + sys.argv[2] + '/partitions'
            with zk.Lock(g + '/lock'):
                items = set(json.loads(zk.get(g)[0].decode()))
                items.add('u:0')
                zk.set(g, json.dumps(list(items)).encode())
            """, group);
        await ConvergeAsync([a, b], [.. Twelve, "u:0"]);
        Assert.Contains(new TopicPartition("u", 0), Owned(a).Concat(Owned(b)));
        Assert.Empty(_violations);
    }

    [Fact]
    public async Task A_closed_session_hands_its_partitions_over_and_a_leave_releases_claims()
    {
        var group = GroupZooKeeperFixture.UniqueGroup("handover");
        await using var a = await StartAsync(group, "host:1", Twelve);
        var b = await StartAsync(group, "host:2", Twelve);
        var c = await StartAsync(group, "host:3", Twelve);
        await ConvergeAsync([a, b, c], Twelve);

        await b.Membership.LeaveAsync(commit: true, default);
        await b.DisposeAsync();
        await ConvergeAsync([a, c], Twelve);

        // Closing the session without leaving: ZooKeeper drops its nodes at once.
        foreach (var tp in Owned(c)) _readers.TryRemove(tp, out _);
        await c.Membership.DisposeAsync();
        await c.Store.DisposeAsync();
        await ConvergeAsync([a], Twelve);
        Assert.Empty(_violations);
        Assert.All((await a.Store.GetOwnersAsync(default)).Values, v => Assert.Equal("host:1", v));
    }

    [Fact]
    public async Task Balanced_keeps_partitions_through_the_allocation_node()
    {
        var group = GroupZooKeeperFixture.UniqueGroup("sticky");
        await using var a = await StartAsync(group, "host:1", Twelve, Allocators.Balanced);
        await using var b = await StartAsync(group, "host:2", Twelve, Allocators.Balanced);
        await using var c = await StartAsync(group, "host:3", Twelve, Allocators.Balanced);
        var all = new[] { a, b, c };
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (all.Any(m => Owned(m).Count != 4) && DateTime.UtcNow < deadline) await Task.Delay(50);
        var before = all.ToDictionary(m => m.Membership.Member, Owned);
        await using var d = await StartAsync(group, "host:4", Twelve, Allocators.Balanced);
        deadline = DateTime.UtcNow.AddSeconds(15);
        while (all.Append(d).Any(m => Owned(m).Count != 3) && DateTime.UtcNow < deadline) await Task.Delay(50);
        foreach (var m in all) Assert.Subset(before[m.Membership.Member], Owned(m));
        Assert.Equal(3, Owned(d).Count);
        Assert.Empty(_violations);
    }
}
