using System.Collections.Concurrent;
using System.Text.Json;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Groups;

/// <summary>kiel's contract for consume loops: a coordinator outage is logged and waited out, never thrown.</summary>
[Trait("Category", "Groups")]
public sealed class CoordinatorOutageTests(GroupEnvironment env) : IClassFixture<GroupEnvironment>
{
    private const int CoordinatorNotAvailable = 15;

    private static int N(JsonElement e) => e.GetProperty("n").GetInt32();

    // A consume call's bound during an outage: its wait time plus one bounded autocommit or offset fetch attempt
    // (RequestTimeout). The full retry sequence (MaxRetries backoffs, each with a coordinator lookup) takes far longer.
    private static readonly TimeSpan OutageRequestTimeout = TimeSpan.FromSeconds(3);

    [ZooKeeperFact]
    public async Task Three_members_consume_through_a_10_s_coordinator_outage_with_autocommit_and_nothing_is_lost()
    {
        var topic = GroupEnvironment.Unique("outage");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 6);
        await env.ProduceAsync(topic, 6, 0, 300);
        var logs = new Kiel.Tests.ListLoggerFactory();
        using var cts = TestTimeouts.After(150);
        var members = new List<GroupedConsumer>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var m = new GroupedConsumer(env.Options(group) with { LoggerFactory = logs, RequestTimeout = OutageRequestTimeout });
                members.Add(m);
                await m.ConnectAsync(cts.Token);
            }
            Assert.True(await TestTimeouts.WaitUntilAsync(() => members.All(m => m.Allocation.GetValueOrDefault(topic, []).Count == 2), TimeSpan.FromSeconds(30)),
                "the three members did not split the six partitions");

            var seen = new ConcurrentQueue<int>();
            var thrown = new ConcurrentQueue<Exception>();
            var outage = 0; // 1 while the coordinator is away
            var longestInOutage = new ConcurrentQueue<TimeSpan>();
            using var stop = new CancellationTokenSource();
            var loops = members.Select(m => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested && !cts.IsCancellationRequested)
                {
                    var inOutage = Volatile.Read(ref outage) == 1;
                    var watch = System.Diagnostics.Stopwatch.StartNew();
                    try
                    {
                        foreach (var v in await m.ConsumeAsync(topic, null, cts.Token)) seen.Enqueue(N(v));
                    }
                    catch (Exception e) when (!cts.IsCancellationRequested)
                    {
                        thrown.Enqueue(e);
                    }
                    if (inOutage) longestInOutage.Enqueue(watch.Elapsed);
                }
            })).ToList();

            Assert.True(await TestTimeouts.WaitUntilAsync(() => seen.Count >= 100, TimeSpan.FromSeconds(30)), "consumption did not start");
            // The coordinator goes away: every coordinator API answers COORDINATOR_NOT_AVAILABLE for 10 s.
            foreach (var api in new[] { KafkaApiKeys.OffsetCommit, KafkaApiKeys.OffsetFetch, KafkaApiKeys.FindCoordinator })
                env.Kafka.PushRequestErrors(api, Enumerable.Repeat(CoordinatorNotAvailable, 2000).ToArray());
            Volatile.Write(ref outage, 1);
            await env.ProduceAsync(topic, 6, 300, 300);
            await Task.Delay(TimeSpan.FromSeconds(10), cts.Token);
            Volatile.Write(ref outage, 0);
            foreach (var api in new[] { KafkaApiKeys.OffsetCommit, KafkaApiKeys.OffsetFetch, KafkaApiKeys.FindCoordinator })
                env.Kafka.ClearRequestErrors(api);

            Assert.True(await TestTimeouts.WaitUntilAsync(() => seen.Count >= 600, TimeSpan.FromSeconds(60)), $"only {seen.Count} of 600 records arrived");
            // Let the loops run on a little, so that autocommit stores the progress after the outage.
            await Task.Delay(TimeSpan.FromSeconds(2), cts.Token);
            stop.Cancel();
            await Task.WhenAll(loops);
            Assert.Empty(thrown);
            Assert.Equal(Enumerable.Range(0, 600), seen.Order());
            // The outage was seen (retried), and never thrown.
            Assert.Contains(logs.Entries, e => e.EventId == Kiel.Diagnostics.LogEvents.GroupRetriableError);
            // Each consume call during the outage made one bounded autocommit attempt, logged its failure and went on:
            // no call took longer than its wait time plus that attempt's request timeout.
            Assert.Contains(logs.Entries, e => e.EventId == Kiel.Diagnostics.LogEvents.GroupTransientConsumeError && e.Message.Contains("OffsetCommitException", StringComparison.Ordinal));
            Assert.True(longestInOutage.Count >= 3, $"only {longestInOutage.Count} consume calls ran during the outage");
            var bound = env.Options(group).FetchMaxWait + OutageRequestTimeout;
            var longest = longestInOutage.Max();
            Assert.True(longest < bound, $"the longest ConsumeAsync during the outage took {longest.TotalMilliseconds:F0} ms; the bound is {bound.TotalMilliseconds:F0} ms");
        }
        finally
        {
            foreach (var m in members) await m.DisposeAsync();
        }

        // Progress was committed: a successor reads only what comes after.
        await env.ProduceAsync(topic, 6, 600, 12);
        var more = new List<int>();
        await using (var c = new GroupedConsumer(env.Options(group)))
        {
            await c.ConnectAsync(cts.Token);
            for (var round = 0; round < 200 && more.Count < 12 && !cts.IsCancellationRequested; round++)
                more.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
            more.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
        }
        Assert.Equal(Enumerable.Range(600, 12), more.Order());
    }

    [ZooKeeperFact]
    public async Task An_autocommit_that_fails_after_its_retries_is_logged_and_retried_on_the_next_call_not_thrown()
    {
        var topic = GroupEnvironment.Unique("outage");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 1);
        await env.ProduceAsync(topic, 1, 0, 10);
        var logs = new Kiel.Tests.ListLoggerFactory();
        using var cts = TestTimeouts.After(60);
        await using (var c = new GroupedConsumer(env.Options(group) with { MaxRetries = 1, LoggerFactory = logs }))
        {
            await c.ConnectAsync(cts.Token);
            var seen = new List<int>();
            for (var round = 0; round < 100 && seen.Count < 10 && !cts.IsCancellationRequested; round++)
                seen.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
            Assert.Equal(Enumerable.Range(0, 10), seen);
            env.Kafka.PushRequestErrors(KafkaApiKeys.OffsetCommit, Enumerable.Repeat(CoordinatorNotAvailable, 20).ToArray());
            Assert.Empty(await c.ConsumeAsync(topic, null, cts.Token));
            Assert.Contains(logs.Entries, e => e.EventId == Kiel.Diagnostics.LogEvents.GroupTransientConsumeError && e.Message.Contains("OffsetCommitException", StringComparison.Ordinal));
            env.Kafka.ClearRequestErrors(KafkaApiKeys.OffsetCommit);
            // The next call commits what the failed autocommit could not.
            Assert.Empty(await c.ConsumeAsync(topic, null, cts.Token));
        }
        await env.ProduceAsync(topic, 1, 10, 3);
        await using (var successor = new GroupedConsumer(env.Options(group)))
        {
            await successor.ConnectAsync(cts.Token);
            var more = new List<int>();
            for (var round = 0; round < 100 && more.Count < 3 && !cts.IsCancellationRequested; round++)
                more.AddRange((await successor.ConsumeAsync(topic, null, cts.Token)).Select(N));
            Assert.Equal([10, 11, 12], more);
        }
    }

    [ZooKeeperFact]
    public async Task WindDownAsync_reports_a_final_commit_it_could_not_make_and_leaves_all_the_same()
    {
        var topic = GroupEnvironment.Unique("outage");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 1);
        await env.ProduceAsync(topic, 1, 0, 10);
        using var cts = TestTimeouts.After(60);
        var c = new GroupedConsumer(env.Options(group) with { MaxRetries = 1 });
        await c.ConnectAsync(cts.Token);
        var seen = new List<int>();
        for (var round = 0; round < 100 && seen.Count < 10 && !cts.IsCancellationRequested; round++)
            seen.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
        env.Kafka.PushRequestErrors(KafkaApiKeys.OffsetCommit, Enumerable.Repeat(CoordinatorNotAvailable, 20).ToArray());
        var e = await Assert.ThrowsAsync<OffsetCommitException>(() => c.WindDownAsync(cts.Token));
        Assert.True(e.RetriesExhausted);
        env.Kafka.ClearRequestErrors(KafkaApiKeys.OffsetCommit);
        await c.DisposeAsync(); // already wound down: no second report
        var members = await Kazoo.RunAsync(env.ZooKeeper.ConnectString, "print(len(zk.get_children('/kiel/groups/' + sys.argv[2] + '/members')))", group);
        Assert.Equal("0", members);
    }

    [ZooKeeperFact]
    public async Task With_ThrowOnTransientErrors_an_autocommit_that_fails_after_its_retries_escapes()
    {
        var topic = GroupEnvironment.Unique("outage");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 1);
        await env.ProduceAsync(topic, 1, 0, 10);
        using var cts = TestTimeouts.After(60);
        await using var c = new GroupedConsumer(env.Options(group) with { ThrowOnTransientErrors = true, MaxRetries = 1 });
        await c.ConnectAsync(cts.Token);
        var seen = new List<int>();
        for (var round = 0; round < 100 && seen.Count < 10 && !cts.IsCancellationRequested; round++)
            seen.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
        env.Kafka.PushRequestErrors(KafkaApiKeys.OffsetCommit, Enumerable.Repeat(CoordinatorNotAvailable, 20).ToArray());
        var e = await Assert.ThrowsAsync<OffsetCommitException>(() => c.ConsumeAsync(topic, null, cts.Token));
        Assert.True(e.RetriesExhausted);
        env.Kafka.ClearRequestErrors(KafkaApiKeys.OffsetCommit);
    }
}
