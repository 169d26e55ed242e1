using System.Text.Json;
using Kiel.IntegrationTests.Fixtures;
using Kiel.ZooKeeper;

namespace Kiel.IntegrationTests.Groups;

/// <summary>A GroupedConsumer whose znodes (allocator and ZooKeeper offsets) live under a digest ACL, with its own ZooKeeper (the ACL closes /consumers).</summary>
[Trait("Category", "Groups")]
public sealed class GroupedConsumerAclTests(GroupEnvironment env) : IClassFixture<GroupEnvironment>
{
    private const string User = "kiel-group";
    private const string Secret = "group-digest-secret";

    [Fact]
    public async Task The_group_works_with_its_znodes_under_a_digest_acl_that_an_anonymous_session_cannot_read()
    {
        var topic = GroupEnvironment.Unique("acl");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 2);
        await env.ProduceAsync(topic, 2, 0, 100);
        var options = env.Options(group) with
        {
            ZooKeeperAuth = ZooKeeperAuth.Digest(User, Secret),
            ZooKeeperAcl = [ZooKeeperAcl.Digest(User, Secret)],
            WriteZooKeeperOffsets = true,
        };
        Assert.DoesNotContain(Secret, options.ToString());

        var seen = new List<int>();
        await using (var c = new GroupedConsumer(options))
        {
            using var cts = TestTimeouts.After(60);
            await c.ConnectAsync(cts.Token);
            // ConnectAsync returns after the first allocation; the claims behind it may take longer on a loaded machine.
            Assert.True(await TestTimeouts.WaitUntilAsync(() => c.Allocation.TryGetValue(topic, out var claimed) && claimed.Count == 2, TimeSpan.FromSeconds(20)));
            while (seen.Count < 100 && !cts.IsCancellationRequested)
                seen.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(e => e.GetProperty("n").GetInt32()));
        }
        Assert.Equal(Enumerable.Range(0, 100), seen.Order());

        var root = $"/kiel/groups/{group}";
        var offsets = $"/consumers/{group}/offsets/{topic}";
        await using (var anonymous = await Connect(null))
        {
            await Assert.ThrowsAsync<NoAuthException>(() => anonymous.GetChildrenAsync(root));
            await Assert.ThrowsAsync<NoAuthException>(() => anonymous.GetChildrenAsync(offsets));
            // Only the group's subtree is closed: another group can still be created next to it.
            var probe = $"/kiel/groups/{GroupEnvironment.Unique("other")}";
            await anonymous.CreateAsync(probe);
            await anonymous.DeleteAsync(probe);
        }

        await using (var authenticated = await Connect(ZooKeeperAuth.Digest(User, Secret)))
        {
            Assert.Contains("partitions", await authenticated.GetChildrenAsync(root));
            foreach (var node in new[] { root, root + "/partitions", root + "/members", offsets, offsets + "/0" })
                Assert.Equal([ZooKeeperAcl.Digest(User, Secret)], (await authenticated.GetAclAsync(node)).Acl);
            var committed = 0L;
            foreach (var p in new[] { "0", "1" })
                committed += long.Parse(System.Text.Encoding.UTF8.GetString((await authenticated.GetDataAsync($"{offsets}/{p}")).Data), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(100, committed);
        }

        // The same group without the credentials cannot join.
        await using (var intruder = new GroupedConsumer(env.Options(group) with { ZooKeeperConnectTimeout = TimeSpan.FromSeconds(10) }))
        {
            using var cts = TestTimeouts.After(30);
            await Assert.ThrowsAnyAsync<Exception>(() => intruder.ConnectAsync(cts.Token));
        }
    }

    private Task<ZooKeeperClient> Connect(ZooKeeperAuth? auth) =>
        Kiel.IntegrationTests.ZooKeeper.StandaloneZooKeeperFixture.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = env.ZooKeeper.ConnectString,
            SessionTimeout = TimeSpan.FromSeconds(6),
            Auth = auth is null ? [] : [auth],
        });
}
