namespace Kiel.IntegrationTests.Groups;

/// <summary>Three members, one of them in its own process, share a 12-partition topic.</summary>
[Trait("Category", "Groups")]
public sealed class GroupScaleTests(GroupEnvironment env) : IClassFixture<GroupEnvironment>
{
    [Fact]
    public async Task Three_members_on_twelve_partitions_consume_exactly_the_30000_produced_records()
    {
        const int Records = 30_000, Partitions = 12;
        var topic = GroupEnvironment.Unique("scale");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, Partitions);
        await env.ProduceAsync(topic, Partitions, 0, Records);
        var expected = Enumerable.Range(0, Records).Select(i => (i % Partitions, (long)(i / Partitions))).ToHashSet();

        var log = new DeliveryLog();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var a = await InProcessMember.StartAsync(env.Options(group), log, topic);
        await using var host = await MemberProcess.StartAsync(log, string.Join(',', env.Brokers), env.ZooKeeper.ConnectString, group, topic, 4000);
        await using var b = await InProcessMember.StartAsync(env.Options(group), log, topic);

        var done = await WaitAsync(() => log.Distinct().Count >= Records, TimeSpan.FromSeconds(90));
        Assert.True(done, $"consumed {log.Distinct().Count} of {Records}; host errors: {host.Errors}");
        Console.WriteLine($"3 members (1 out of process) consumed {Records} records from 12 partitions in {clock.Elapsed.TotalSeconds:0.0} s, joins and rebalances included");
        Assert.Null(a.Failure);
        Assert.Null(b.Failure);

        // The allocation settled on kiel's naive split, with every partition claimed by its member.
        var names = new[] { a.Consumer.Name, b.Consumer.Name, host.Name };
        var naive = Allocators.Naive(names, Enumerable.Range(0, Partitions).Select(p => $"{topic}:{p}").ToArray());
        Assert.True(await WaitAsync(() => a.Allocation.SetEquals(naive[a.Consumer.Name][topic]) && b.Allocation.SetEquals(naive[b.Consumer.Name][topic]) && host.Allocation.SetEquals(naive[host.Name][topic]), TimeSpan.FromSeconds(15)));

        await host.LeaveAsync();
        await a.LeaveAsync();
        await b.LeaveAsync();

        Assert.True(expected.SetEquals(log.Distinct()));
        // Every rebalance here was clean (joins and leaves), so nothing was delivered twice.
        Assert.Empty(log.Duplicates());
    }

    internal static async Task<bool> WaitAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(50);
        }
        return true;
    }
}
