using System.Text.Json;
using Kiel.IntegrationTests.Fixtures;

namespace Kiel.IntegrationTests.Groups;

/// <summary>
/// kiel's offsets in Kafka's ZooKeeper (/consumers/&lt;group&gt;/offsets/&lt;topic&gt;/&lt;partition&gt;, decimal text), written and
/// read by kazoo standing in for a Python kiel fleet on a ZooKeeper-mode broker.
/// </summary>
[Trait("Category", "Groups")]
public sealed class ZooKeeperOffsetsTests(GroupEnvironment env) : IClassFixture<GroupEnvironment>
{
    private static int N(JsonElement e) => e.GetProperty("n").GetInt32();

    private const string WriteOffsets = """
        for p, offset in enumerate(sys.argv[4].split(',')):
            zk.ensure_path('/consumers/%s/offsets/%s' % (sys.argv[2], sys.argv[3]))
            zk.create('/consumers/%s/offsets/%s/%d' % (sys.argv[2], sys.argv[3], p), offset.encode())
        """;

    private const string ReadOffsets = """
        base = '/consumers/%s/offsets/%s' % (sys.argv[2], sys.argv[3])
        print(','.join(zk.get(base + '/' + str(p))[0].decode() for p in range(int(sys.argv[4]))))
        """;

    /// <summary>The values <c>n</c> of partition p from offset <paramref name="from"/>[p] on: ProduceAsync puts n at partition n % 4, offset n / 4.</summary>
    private static IEnumerable<int> From(int[] from, int perPartition) =>
        Enumerable.Range(0, 4).SelectMany(p => Enumerable.Range(from[p], perPartition - from[p]).Select(o => o * 4 + p));

    private static Task<ProcessRunner.Result> RunKiel(params string[] args) =>
        ProcessRunner.RunAsync("dotnet", [KielCliProcess.KielDll(), .. args], TimeSpan.FromSeconds(90));

    [ZooKeeperFact]
    public async Task A_member_with_nothing_committed_in_Kafka_starts_from_kiels_ZooKeeper_offsets_on_every_partition()
    {
        var topic = GroupEnvironment.Unique("zko");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 4);
        await env.ProduceAsync(topic, 4, 0, 200);
        int[] offsets = [10, 15, 20, 25];
        await Kazoo.RunAsync(env.ZooKeeper.ConnectString, WriteOffsets, group, topic, string.Join(',', offsets));

        var logs = new Kiel.Tests.ListLoggerFactory();
        var seen = new List<int>();
        // Earliest would read from 0 and Latest from 50: only kiel's offsets give exactly this.
        await using (var c = new GroupedConsumer(env.Options(group) with { LoggerFactory = logs }))
        {
            using var cts = TestTimeouts.After(60);
            await c.ConnectAsync(cts.Token);
            var expected = 200 - offsets.Sum();
            for (var round = 0; round < 300 && seen.Count < expected && !cts.IsCancellationRequested; round++)
                seen.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
            seen.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
        }
        Assert.Equal(From(offsets, 50).Order(), seen.Order());
        var adopted = logs.Entries.Where(e => e.EventId == Kiel.Diagnostics.LogEvents.GroupZooKeeperOffsetAdopted).ToList();
        Assert.Equal(4, adopted.Count);
        Assert.Contains(adopted, e => e.Message.Contains($"/consumers/{group}/offsets/{topic}/3", StringComparison.Ordinal) && e.Message.Contains("25", StringComparison.Ordinal));

        // The member committed its progress to Kafka: a successor that reads no ZooKeeper offsets resumes at the end.
        await env.ProduceAsync(topic, 4, 200, 8);
        var more = new List<int>();
        await using (var c = new GroupedConsumer(env.Options(group) with { ReadZooKeeperOffsets = false }))
        {
            using var cts = TestTimeouts.After(60);
            await c.ConnectAsync(cts.Token);
            for (var round = 0; round < 200 && more.Count < 8 && !cts.IsCancellationRequested; round++)
                more.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
        }
        Assert.Equal(Enumerable.Range(200, 8), more.Order());
    }

    [ZooKeeperFact]
    public async Task Migrate_offsets_shows_a_plan_then_copies_kiels_offsets_into_Kafka_where_a_member_finds_them()
    {
        var topic = GroupEnvironment.Unique("mig");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 4);
        await env.ProduceAsync(topic, 4, 0, 200);
        int[] offsets = [3, 7, 11, 13];
        await Kazoo.RunAsync(env.ZooKeeper.ConnectString, WriteOffsets, group, topic, string.Join(',', offsets));
        // The group exists in the allocator's layout, as a kiel fleet's does.
        await Kazoo.RunAsync(env.ZooKeeper.ConnectString, "zk.ensure_path('/kiel/groups/' + sys.argv[2] + '/members')", group);

        var plan = await RunKiel("groups", "migrate-offsets", group, "--zookeeper", env.ZooKeeper.ConnectString, "--brokers", env.Bootstrap);
        Assert.True(plan.ExitCode == 0, plan.StdErr);
        Assert.Contains("plan: copy 4 offset(s)", plan.StdOut);
        var both = await RunKiel("groups", "offsets", group, "--zookeeper", env.ZooKeeper.ConnectString, "--brokers", env.Bootstrap);
        Assert.True(both.ExitCode == 0, both.StdErr);
        Assert.Contains("kiel zk", both.StdOut);
        Assert.Contains("none", both.StdOut); // nothing in Kafka yet

        var applied = await RunKiel("groups", "migrate-offsets", group, "--zookeeper", env.ZooKeeper.ConnectString, "--brokers", env.Bootstrap, "--apply");
        Assert.True(applied.ExitCode == 0, applied.StdErr);
        Assert.Contains("migrated 4 offset(s)", applied.StdOut);
        var again = await RunKiel("groups", "migrate-offsets", group, "--zookeeper", env.ZooKeeper.ConnectString, "--brokers", env.Bootstrap);
        Assert.Contains("plan: copy 0 offset(s)", again.StdOut);

        // A member that does not read ZooKeeper offsets at all finds them in Kafka.
        var seen = new List<int>();
        await using (var c = new GroupedConsumer(env.Options(group) with { ReadZooKeeperOffsets = false }))
        {
            using var cts = TestTimeouts.After(60);
            await c.ConnectAsync(cts.Token);
            var expected = 200 - offsets.Sum();
            for (var round = 0; round < 300 && seen.Count < expected && !cts.IsCancellationRequested; round++)
                seen.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
        }
        Assert.Equal(From(offsets, 50).Order(), seen.Order());
    }

    [ZooKeeperFact]
    public async Task With_KielCompatible_on_kazoo_reads_Kiels_commits_from_the_znodes()
    {
        var topic = GroupEnvironment.Unique("wzk");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 4);
        await env.ProduceAsync(topic, 4, 0, 120);
        var seen = new List<int>();
        await using (var c = new GroupedConsumer(env.Options(group) with { KielCompatible = true }))
        {
            using var cts = TestTimeouts.After(60);
            await c.ConnectAsync(cts.Token);
            for (var round = 0; round < 300 && seen.Count < 120 && !cts.IsCancellationRequested; round++)
                seen.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
            await c.CommitOffsetsAsync(cancellationToken: cts.Token);
        }
        Assert.Equal(Enumerable.Range(0, 120), seen.Order());
        Assert.Equal("30,30,30,30", await Kazoo.RunAsync(env.ZooKeeper.ConnectString, ReadOffsets, group, topic, "4"));
    }
}
