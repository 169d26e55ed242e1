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
            Assert.Equal(4, c.Allocation[topic].Count);
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
}
