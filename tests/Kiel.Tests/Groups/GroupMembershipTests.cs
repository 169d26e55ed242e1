using System.Collections.Concurrent;
using Kiel.Groups;

namespace Kiel.Tests.Groups;

public class GroupMembershipTests
{
    private static readonly string[] Twelve = Enumerable.Range(0, 12).Select(p => $"t:{p}").ToArray();

    /// <summary>Plays the consumer: records what it reads, and fails the test if two members ever read one partition.</summary>
    private sealed class Readers
    {
        public readonly ConcurrentDictionary<TopicPartition, string> Current = new();
        public readonly ConcurrentQueue<string> Violations = new();
    }

    private sealed class FakeOwner(string name, Readers readers) : IPartitionOwner
    {
        public readonly ConcurrentQueue<(string What, TopicPartition[] Partitions, bool Commit)> Log = new();
        public readonly ConcurrentQueue<AllocationChangedEventArgs> Events = new();
        public volatile bool Paused;

        public Task AssignAsync(IReadOnlyCollection<TopicPartition> assigned, CancellationToken cancellationToken)
        {
            foreach (var tp in assigned)
                if (!readers.Current.TryAdd(tp, name)) readers.Violations.Enqueue($"{name} assigned {tp} while {readers.Current[tp]} reads it");
            Log.Enqueue(("assign", assigned.ToArray(), false));
            return Task.CompletedTask;
        }

        public Task RevokeAsync(IReadOnlyCollection<TopicPartition> revoked, bool commit, CancellationToken cancellationToken)
        {
            foreach (var tp in revoked) readers.Current.TryRemove(new KeyValuePair<TopicPartition, string>(tp, name));
            Log.Enqueue(("revoke", revoked.ToArray(), commit));
            return Task.CompletedTask;
        }

        public void SetPaused(bool paused) => Paused = paused;

        public Task OnAllocationChangedAsync(AllocationChangedEventArgs args) { Events.Enqueue(args); return Task.CompletedTask; }
    }

    private sealed record Member(GroupMembership Membership, InMemoryGroupStore Store, FakeOwner Owner);

    private static async Task<Member> StartAsync(InMemoryGroupServer server, Readers readers, string name, PartitionAllocator? allocator = null, bool claims = true)
    {
        var store = server.Connect();
        var owner = new FakeOwner(name, readers);
        var m = new GroupMembership(store, "g", name, allocator, claims, owner, null, TimeSpan.FromMilliseconds(50));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await m.StartAsync(Twelve, cts.Token);
        return new Member(m, store, owner);
    }

    private static IEnumerable<TopicPartition> Owned(Member m) => m.Membership.Allocation.SelectMany(kv => kv.Value.Select(p => new TopicPartition(kv.Key, p)));

    /// <summary>Waits until the live members own exactly the allocator's result for them.</summary>
    private static async Task ConvergeAsync(IReadOnlyList<Member> live, PartitionAllocator? allocator = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var names = live.Select(m => m.Membership.Member).ToArray();
            var expected = (allocator ?? Allocators.Naive)(names, Twelve);
            var ok = live.All(m =>
            {
                var mine = expected.TryGetValue(m.Membership.Member, out var t) ? t.SelectMany(kv => kv.Value.Select(p => new TopicPartition(kv.Key, p))).ToHashSet() : [];
                return mine.SetEquals(Owned(m));
            });
            if (ok && live.SelectMany(Owned).Count() == 12) return;
            if (DateTime.UtcNow > deadline)
                Assert.Fail("no convergence: " + string.Join("; ", live.Select(m => m.Membership.Member + "=" + string.Join(",", Owned(m)))));
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Members_join_one_by_one_and_share_the_partitions_exclusively()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a");
        await ConvergeAsync([a]);
        Assert.Equal(12, a.Membership.Allocation["t"].Count);
        var b = await StartAsync(server, readers, "b");
        var c = await StartAsync(server, readers, "c");
        await ConvergeAsync([a, b, c]);
        Assert.Empty(readers.Violations);
        Assert.Equal(12, server.Owners.Count);
        foreach (var m in new[] { a, b, c }) { await m.Membership.LeaveAsync(true, default); await m.Membership.DisposeAsync(); await m.Store.DisposeAsync(); }
        Assert.Empty(server.Owners);
        Assert.Empty(server.Members);
    }

    [Fact]
    public async Task A_release_that_meets_a_connection_loss_is_made_by_the_next_round()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a");
        await ConvergeAsync([a]);
        // The first partition a gives up when b joins is not released (the connection drops before the delete is sent):
        // the round fails, and its retry must release it, or b waits for it for good.
        a.Store.ReleaseConnectionLosses = 1;
        var b = await StartAsync(server, readers, "b");
        await ConvergeAsync([a, b]);
        Assert.True(Volatile.Read(ref a.Store.ReleaseConnectionLosses) < 0, "no release failed: the test proves nothing");
        Assert.Empty(readers.Violations);
        foreach (var m in new[] { a, b }) { await m.Membership.LeaveAsync(true, default); await m.Membership.DisposeAsync(); await m.Store.DisposeAsync(); }
        Assert.Empty(server.Owners);
    }

    [Fact]
    public async Task A_claim_whose_answer_was_lost_is_released_when_the_partition_goes_elsewhere()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a");
        await ConvergeAsync([a]);
        // b's claims reach the server but their answers are lost: its session holds the claim nodes, unknown to b.
        server.LoseClaimAnswersOf = "b";
        var b = await StartAsync(server, readers, "b");
        await Eventually.Until(() => server.Owners.Count(kv => kv.Value == "b") == 6, "b's six claims to reach the server", TimeSpan.FromSeconds(10));
        // c joins: of b's t:1, t:3, t:5, t:7, t:9 and t:11 (the naive allocator deals the partitions in text order), t:3
        // and t:9 are c's now and t:7 and t:11 a's, so b gives up claiming them. Once its claims of t:2 and t:8, which it
        // wants now, have reached the server too, b hears its answers again.
        // And b's first release after that meets a connection loss: the next round must make it.
        b.Store.ReleaseConnectionLosses = 1;
        var c = await StartAsync(server, readers, "c");
        await Eventually.Until(() => server.Owners.TryGetValue("t:2", out var o2) && o2 == "b" && server.Owners.TryGetValue("t:8", out var o8) && o8 == "b",
            "b to claim t:2 and t:8 after c joined", TimeSpan.FromSeconds(10));
        server.LoseClaimAnswersOf = null;
        // The nodes of t:3, t:7, t:9 and t:11 that b's session holds must be released, or a and c wait for them for good.
        await ConvergeAsync([a, b, c]);
        Assert.True(Volatile.Read(ref b.Store.ReleaseConnectionLosses) < 0, "no release of b failed: that part proves nothing");
        Assert.Empty(readers.Violations);
        foreach (var m in new[] { a, b, c }) { await m.Membership.LeaveAsync(true, default); await m.Membership.DisposeAsync(); await m.Store.DisposeAsync(); }
        Assert.Empty(server.Owners);
    }

    [Fact]
    public async Task A_start_rides_through_connection_losses_during_the_join_and_gives_up_after_five()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        // Two losses: the join is tried again and the member starts (the chaos campaign saw one loss fail a start).
        var store = server.Connect();
        store.JoinConnectionLosses = 2;
        var owner = new FakeOwner("a", readers);
        var m = new GroupMembership(store, "g", "a", null, true, owner, null, TimeSpan.FromMilliseconds(50));
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10))) await m.StartAsync(Twelve, cts.Token);
        await ConvergeAsync([new Member(m, store, owner)]);
        Assert.Equal(12, m.Allocation["t"].Count);
        await m.LeaveAsync(true, default);
        await m.DisposeAsync();
        await store.DisposeAsync();

        // Losses that do not stop: the start fails after five attempts with the loss, not later and not silently.
        var failing = server.Connect();
        failing.JoinConnectionLosses = 100;
        var lost = new GroupMembership(failing, "g", "b", null, true, new FakeOwner("b", readers), null, TimeSpan.FromMilliseconds(50));
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            await Assert.ThrowsAsync<Kiel.ZooKeeper.ConnectionLossException>(() => lost.StartAsync(Twelve, cts.Token));
        Assert.Equal(95, failing.JoinConnectionLosses);
        await lost.DisposeAsync();
        await failing.DisposeAsync();
    }

    [Fact]
    public async Task Allocation_lists_partitions_in_the_order_the_allocator_dealt_them_as_kiel()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a");
        var b = await StartAsync(server, readers, "b");
        await ConvergeAsync([a, b]);
        // naive_allocator deals the ordinally sorted "t:0", "t:1", "t:10", "t:11", "t:2", ... round-robin.
        Assert.Equal([0, 10, 2, 4, 6, 8], a.Membership.Allocation["t"]);
        Assert.Equal([1, 11, 3, 5, 7, 9], b.Membership.Allocation["t"]);
        foreach (var m in new[] { a, b }) { await m.Membership.LeaveAsync(true, default); await m.Membership.DisposeAsync(); await m.Store.DisposeAsync(); }
    }

    [Fact]
    public async Task Seeding_an_existing_set_writes_nothing()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a");
        var b = await StartAsync(server, readers, "b");
        Assert.Equal(1, server.PartitionWrites);
        await a.Membership.DisposeAsync();
        await b.Membership.DisposeAsync();
    }

    [Fact]
    public async Task A_clean_leave_commits_before_it_releases_and_the_others_take_over()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a");
        var b = await StartAsync(server, readers, "b");
        await ConvergeAsync([a, b]);
        await b.Membership.LeaveAsync(commit: true, default);
        await ConvergeAsync([a]);
        Assert.Contains(b.Owner.Log, e => e.What == "revoke" && e.Commit && e.Partitions.Length == 6);
        Assert.Empty(readers.Violations);
        await a.Membership.DisposeAsync();
        await b.Membership.DisposeAsync();
    }

    [Fact]
    public async Task A_crashed_members_partitions_move_when_its_session_ends()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a");
        var b = await StartAsync(server, readers, "b");
        var c = await StartAsync(server, readers, "c");
        await ConvergeAsync([a, b, c]);
        // The process is gone: its reader entries would vanish with it.
        foreach (var tp in Owned(c)) readers.Current.TryRemove(tp, out _);
        await c.Membership.DisposeAsync();
        c.Store.Crash();
        await ConvergeAsync([a, b]);
        Assert.Empty(readers.Violations);
        await a.Membership.DisposeAsync();
        await b.Membership.DisposeAsync();
    }

    [Fact]
    public async Task An_expired_session_stops_without_commit_rejoins_and_resumes()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a");
        var b = await StartAsync(server, readers, "b");
        await ConvergeAsync([a, b]);
        // From the expiry on, b hands nothing out (the consumer's lease check), whatever its loop has yet to learn.
        foreach (var tp in Owned(b)) readers.Current.TryRemove(tp, out _);
        b.Store.Expire();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!b.Owner.Log.Any(e => e.What == "revoke" && !e.Commit) && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Contains(b.Owner.Log, e => e.What == "revoke" && !e.Commit);
        await ConvergeAsync([a, b]);
        Assert.Contains("b", server.Members);
        Assert.False(b.Owner.Paused);
        Assert.Empty(readers.Violations);
        await a.Membership.DisposeAsync();
        await b.Membership.DisposeAsync();
    }

    [Fact]
    public async Task A_suspended_connection_pauses_until_it_reconnects()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a");
        a.Store.Suspend();
        Assert.True(a.Owner.Paused);
        Assert.True(a.Membership.IsPaused);
        a.Store.Reconnect();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (a.Owner.Paused && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.False(a.Owner.Paused);
        await a.Membership.DisposeAsync();
    }

    [Fact]
    public async Task Balanced_is_sticky_through_the_shared_allocation_node()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a", Allocators.Balanced);
        var b = await StartAsync(server, readers, "b", Allocators.Balanced);
        var c = await StartAsync(server, readers, "c", Allocators.Balanced);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (new[] { a, b, c }.Any(m => Owned(m).Count() != 4) && DateTime.UtcNow < deadline) await Task.Delay(20);
        var before = new[] { a, b, c }.ToDictionary(m => m.Membership.Member, m => Owned(m).ToHashSet());
        var d = await StartAsync(server, readers, "d", Allocators.Balanced);
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (new[] { a, b, c, d }.Any(m => Owned(m).Count() != 3) && DateTime.UtcNow < deadline) await Task.Delay(20);
        foreach (var m in new[] { a, b, c })
        {
            Assert.Equal(3, Owned(m).Count());
            Assert.Subset(before[m.Membership.Member], Owned(m).ToHashSet());
        }
        Assert.Equal(3, Owned(d).Count());
        Assert.Empty(readers.Violations);
        foreach (var m in new[] { a, b, c, d }) await m.Membership.DisposeAsync();
    }

    [Fact]
    public async Task Kiel_compatible_mode_makes_no_claims()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a", claims: false);
        await ConvergeAsync([a]);
        Assert.Empty(server.Owners);
        var e = Assert.Single(a.Owner.Events);
        Assert.Equal(12, e.Assigned["t"].Count);
        await a.Membership.DisposeAsync();
    }

    [Fact]
    public async Task The_event_reports_revoked_and_assigned()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a");
        await ConvergeAsync([a]);
        var b = await StartAsync(server, readers, "b");
        await ConvergeAsync([a, b]);
        Assert.Contains(a.Owner.Events, e => e.Revoked.TryGetValue("t", out var r) && r.Count == 6 && e.Assigned.Count == 0);
        Assert.Contains(b.Owner.Events, e => e.Assigned.Values.Sum(v => v.Count) > 0);
        await a.Membership.DisposeAsync();
        await b.Membership.DisposeAsync();
    }

    [Fact]
    public async Task The_lease_check_fails_once_the_session_lost_the_member_node()
    {
        var server = new InMemoryGroupServer();
        var readers = new Readers();
        var a = await StartAsync(server, readers, "a");
        Assert.True(await a.Membership.VerifySessionAsync(TimeSpan.Zero, default));
        a.Store.Suspend();
        // Cached or not, a suspended session is no lease.
        Assert.False(await a.Membership.VerifySessionAsync(TimeSpan.FromMinutes(1), default));
        a.Store.Reconnect();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!await a.Membership.VerifySessionAsync(TimeSpan.Zero, default) && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.True(await a.Membership.VerifySessionAsync(TimeSpan.Zero, default));
        var oldSession = a.Store.Session;
        a.Store.Expire();
        // The check cached from the old session no longer counts: false, unless the membership loop has already joined
        // again under the new session (it runs on its own task), in which case it is that session's real check.
        var ok = await a.Membership.VerifySessionAsync(TimeSpan.FromMinutes(1), default);
        Assert.True(!ok || (a.Store.Session != oldSession && server.IsMember("a", a.Store.Session)), "the lease check passed on the expired session");
        await a.Membership.DisposeAsync();
    }

    [Fact]
    public async Task The_lease_check_is_cached_for_its_max_age_on_the_fake_clock()
    {
        var server = new InMemoryGroupServer();
        var store = server.Connect();
        var owner = new FakeOwner("a", new Readers());
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var m = new GroupMembership(store, "g", "a", null, claims: true, owner, null, TimeSpan.FromMilliseconds(50), time);
        // Start gives fresh claims a short grace on its clock: move the fake clock along until it returns.
        var start = m.StartAsync(Twelve, CancellationToken.None);
        for (var i = 0; i < 400 && !start.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(25));
            await Task.WhenAny(start, Task.Delay(10));
        }
        await start.WaitAsync(TimeSpan.FromSeconds(10));
        var maxAge = TimeSpan.FromMinutes(1);

        Assert.True(await m.VerifySessionAsync(maxAge, default));
        var asked = store.MemberChecks;
        Assert.True(asked >= 1);
        time.Advance(maxAge - TimeSpan.FromMilliseconds(1));
        Assert.True(await m.VerifySessionAsync(maxAge, default));
        Assert.Equal(asked, store.MemberChecks); // still fresh: ZooKeeper is not asked

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await m.VerifySessionAsync(maxAge, default));
        Assert.Equal(asked + 1, store.MemberChecks); // a minute of fake time: asked again
    }
}
