using System.Text.Json;
using Kiel.IntegrationTests.Fixtures;

namespace Kiel.IntegrationTests.Groups;

/// <summary>L12, fully: a deleted topic leaves the shared set, the allocation and the claims, and the rest is rebalanced.</summary>
[Trait("Category", "Groups")]
public sealed class DeletedTopicTests(GroupEnvironment env) : IClassFixture<GroupEnvironment>
{
    [ZooKeeperFact]
    public async Task A_deleted_topic_leaves_the_shared_set_and_the_other_topic_is_rebalanced_over_all_members()
    {
        var doomed = GroupEnvironment.Unique("doomed");
        var kept = GroupEnvironment.Unique("kept");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(doomed, 2);
        env.Kafka.CreateTopic(kept, 4);
        await env.ProduceAsync(kept, 4, 0, 40);
        using var cts = TestTimeouts.After(90);
        await using var a = new GroupedConsumer(env.Options(group));
        await using var b = new GroupedConsumer(env.Options(group));
        await a.ConnectAsync(cts.Token);
        await b.ConnectAsync(cts.Token);
        var members = new[] { a, b };
        int Count(string topic) => members.Sum(m => m.Allocation.GetValueOrDefault(topic, []).Count);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => Count(doomed) == 2 && Count(kept) == 4, TimeSpan.FromSeconds(30)), "the six partitions were not allocated");

        env.Kafka.DeleteTopic(doomed);

        // Two metadata refreshes agree (MetadataMaxAge is 2 s here): the topic leaves the set, under the lock, in kiel's JSON.
        var shrunk = false;
        for (var i = 0; i < 60 && !shrunk; i++)
        {
            var set = await Kazoo.RunAsync(env.ZooKeeper.ConnectString, """
                import json
                print(json.dumps(json.loads(zk.get('/kiel/groups/' + sys.argv[2] + '/partitions')[0].decode())))
                """, group);
            var parts = JsonSerializer.Deserialize<string[]>(set)!;
            shrunk = !parts.Any(p => p.StartsWith(doomed + ":", StringComparison.Ordinal));
            if (shrunk)
            {
                Assert.Equal(Enumerable.Range(0, 4).Select(p => $"{kept}:{p}"), parts.Where(p => p.StartsWith(kept + ":", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
            }
            else
            {
                await Task.Delay(500, cts.Token);
            }
        }
        Assert.True(shrunk, "kazoo still sees the deleted topic in the shared set");

        // Both members drop it from their allocation (no claims left on it) and split the other topic.
        Assert.True(await TestTimeouts.WaitUntilAsync(
            () => Count(doomed) == 0 && Count(kept) == 4 && members.All(m => m.Allocation.GetValueOrDefault(kept, []).Count == 2),
            TimeSpan.FromSeconds(30)), $"allocation after the delete: {string.Join(" | ", members.Select(m => string.Join(",", m.Allocation.Select(kv => kv.Key + ":" + string.Join("/", kv.Value)))))}");
        var owners = await Kazoo.RunAsync(env.ZooKeeper.ConnectString, """
            import json
            print(json.dumps(zk.get_children('/kiel/groups/' + sys.argv[2] + '/owners')))
            """, group);
        Assert.DoesNotContain(JsonSerializer.Deserialize<string[]>(owners)!, o => o.StartsWith(doomed + ":", StringComparison.Ordinal));

        // And they still read the other topic.
        var seen = new List<int>();
        for (var round = 0; round < 200 && seen.Count < 40 && !cts.IsCancellationRequested; round++)
            foreach (var m in members)
                seen.AddRange((await m.ConsumeAsync(kept, null, cts.Token)).Select(e => e.GetProperty("n").GetInt32()));
        Assert.Equal(Enumerable.Range(0, 40), seen.Order());
    }
}
