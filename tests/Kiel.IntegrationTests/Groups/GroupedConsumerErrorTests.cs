using System.Text.Json;
using Confluent.Kafka;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Protocol;

namespace Kiel.IntegrationTests.Groups;

/// <summary>Every error branch of the coordinator requests, driven by the mock's injected errors.</summary>
[Trait("Category", "Groups")]
public sealed class GroupedConsumerErrorTests(GroupEnvironment env) : IClassFixture<GroupEnvironment>
{
    private const short FindCoordinator = 10, OffsetFetch = 9, OffsetCommit = 8;

    private static int N(JsonElement e) => e.GetProperty("n").GetInt32();

    private async Task<(GroupedConsumer Consumer, string Topic, string Group)> StartAsync(int records = 20, Func<GroupedConsumerOptions, GroupedConsumerOptions>? configure = null)
    {
        var topic = GroupEnvironment.Unique("err");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 2);
        if (records > 0) await env.ProduceAsync(topic, 2, 0, records);
        var options = env.Options(group);
        var c = new GroupedConsumer(configure?.Invoke(options) ?? options);
        using var cts = TestTimeouts.After(30);
        await c.ConnectAsync(cts.Token);
        return (c, topic, group);
    }

    private static async Task<List<int>> ReadAsync(GroupedConsumer c, string topic, int count)
    {
        var seen = new List<int>();
        using var cts = TestTimeouts.After(20);
        while (seen.Count < count && !cts.IsCancellationRequested) seen.AddRange((await c.ConsumeAsync(topic, null, cts.Token)).Select(N));
        return seen;
    }

    private long Committed(string group, string topic, int partition) => GroupEnvironment.Committed(env.Bootstrap, group, topic, [partition]).Single();

    [Theory]
    [InlineData(14)]
    [InlineData(15)]
    [InlineData(16)]
    public async Task FindCoordinator_retriable_errors_are_retried(short code)
    {
        var topic = GroupEnvironment.Unique("fc");
        env.Kafka.CreateTopic(topic, 1);
        env.Kafka.PushRequestErrors(FindCoordinator, code, code);
        await using var c = new GroupedConsumer(env.Options(GroupEnvironment.Unique("g")));
        using var cts = TestTimeouts.After(30);
        await c.ConnectAsync(cts.Token);
        Assert.NotNull(c.CoordinatorId);
    }

    [Fact]
    public async Task FindCoordinator_fatal_error_is_an_exception()
    {
        var (c, _, _) = await StartAsync(records: 0);
        await using (c)
        {
            env.Kafka.PushRequestErrors(FindCoordinator, 30);
            var e = await Assert.ThrowsAnyAsync<KafkaException>(() => c.DetermineCoordinatorAsync());
            Assert.Equal(Kiel.ErrorCode.GroupAuthorizationFailed, e.ErrorCode);
            // The next lookup works again.
            await c.DetermineCoordinatorAsync();
        }
    }

    [Theory]
    [InlineData(14)]
    [InlineData(15)]
    [InlineData(16)]
    public async Task OffsetFetch_retriable_errors_are_retried(short code)
    {
        var (c, topic, _) = await StartAsync();
        await using (c)
        {
            env.Kafka.PushRequestErrors(OffsetFetch, code, code, code);
            Assert.Equal(Enumerable.Range(0, 20), (await ReadAsync(c, topic, 20)).Order());
        }
    }

    [Fact]
    public async Task OffsetFetch_fatal_error_names_group_topic_partition_and_code()
    {
        var (c, topic, group) = await StartAsync();
        await using (c)
        {
            env.Kafka.PushRequestErrors(OffsetFetch, 30);
            var e = await Assert.ThrowsAsync<NoOffsetsException>(() => c.ConsumeAsync(topic));
            Assert.Equal(group, e.Group);
            Assert.Equal(topic, e.Topic);
            Assert.InRange(e.Partition, 0, 1);
            Assert.Equal(30, e.ErrorCode);
            Assert.Contains(group, e.Message);
            // Nothing is lost: the next consume determines the offsets again.
            Assert.Equal(Enumerable.Range(0, 20), (await ReadAsync(c, topic, 20)).Order());
        }
    }

    [Fact]
    public async Task Nothing_committed_applies_the_reset_policy()
    {
        // Latest (kiel's default): only records produced after the start are read.
        var (latest, topic, _) = await StartAsync(records: 10, o => o with { AutoOffsetReset = OffsetResetPolicy.Latest });
        await using (latest)
        {
            Assert.Empty(await latest.ConsumeAsync(topic));
            await env.ProduceAsync(topic, 2, 100, 4);
            Assert.Equal([100, 101, 102, 103], (await ReadAsync(latest, topic, 4)).Order());
        }

        // An explicit start wins over the policy (kiel ignored it).
        var (started, topic2, _) = await StartAsync(records: 10, o => o with { AutoOffsetReset = OffsetResetPolicy.Latest });
        await using (started)
        {
            var seen = new List<int>();
            using var cts = TestTimeouts.After(20);
            while (seen.Count < 10 && !cts.IsCancellationRequested) seen.AddRange((await started.ConsumeAsync(topic2, StartPosition.Beginning, cts.Token)).Select(N));
            Assert.Equal(Enumerable.Range(0, 10), seen.Order());
        }

        var (strict, topic3, group3) = await StartAsync(records: 2, o => o with { AutoOffsetReset = OffsetResetPolicy.Error });
        await using (strict)
        {
            var e = await Assert.ThrowsAsync<NoOffsetsException>(() => strict.ConsumeAsync(topic3));
            Assert.Equal(0, e.ErrorCode);
            Assert.Equal(group3, e.Group);
        }
    }

    [Theory]
    [InlineData(14)]
    [InlineData(15)]
    [InlineData(16)]
    public async Task OffsetCommit_retriable_errors_are_retried(short code)
    {
        var (c, topic, group) = await StartAsync(configure: o => o with { Autocommit = false });
        await using (c)
        {
            await ReadAsync(c, topic, 20);
            env.Kafka.PushRequestErrors(OffsetCommit, code, code);
            await c.CommitOffsetsAsync();
            Assert.Equal(10, Committed(group, topic, 0));
            Assert.Equal(10, Committed(group, topic, 1));
        }
    }

    [Fact]
    public async Task OffsetCommit_metadata_too_large_is_retried_once_with_empty_metadata()
    {
        var (c, topic, group) = await StartAsync(configure: o => o with { Autocommit = false });
        await using (c)
        {
            await ReadAsync(c, topic, 20);
            env.Kafka.PushRequestErrors(OffsetCommit, 12);
            await c.CommitOffsetsAsync("a long story");
            Assert.Equal(10, Committed(group, topic, 0));

            await env.ProduceAsync(topic, 2, 20, 2);
            await ReadAsync(c, topic, 2);
            env.Kafka.PushRequestErrors(OffsetCommit, 12, 12);
            var e = await Assert.ThrowsAsync<OffsetCommitException>(() => c.CommitOffsetsAsync());
            Assert.Equal(12, e.ErrorCode);
        }
    }

    [Fact]
    public async Task OffsetCommit_fatal_error_is_an_exception()
    {
        var (c, topic, group) = await StartAsync(configure: o => o with { Autocommit = false });
        await using (c)
        {
            await ReadAsync(c, topic, 20);
            env.Kafka.PushRequestErrors(OffsetCommit, 30);
            var e = await Assert.ThrowsAsync<OffsetCommitException>(() => c.CommitOffsetsAsync());
            Assert.Equal(30, e.ErrorCode);
            Assert.Equal(group, e.Group);
            Assert.False(e.RetriesExhausted);
            // The progress is still pending and goes with the next commit.
            await c.CommitOffsetsAsync();
            Assert.Equal(10, Committed(group, topic, 1));
        }
    }

    [Fact]
    public async Task Autocommit_commits_on_consume_and_wind_down_and_off_commits_only_when_asked()
    {
        var (auto, topic, group) = await StartAsync();
        await ReadAsync(auto, topic, 20);
        // The batches returned so far are committed by the next consume ...
        await auto.ConsumeAsync(topic);
        Assert.Equal(10, Committed(group, topic, 0));
        await env.ProduceAsync(topic, 2, 20, 2);
        await ReadAsync(auto, topic, 2);
        // ... and the last ones by the wind-down (kiel did not commit there, L14).
        await auto.WindDownAsync();
        Assert.Equal(11, Committed(group, topic, 0));
        Assert.Equal(11, Committed(group, topic, 1));
        await auto.DisposeAsync();

        var (manual, topic2, group2) = await StartAsync(configure: o => o with { Autocommit = false });
        await ReadAsync(manual, topic2, 20);
        await manual.ConsumeAsync(topic2);
        Assert.True(Committed(group2, topic2, 0) < 0);
        await manual.CommitOffsetsAsync();
        Assert.Equal(10, Committed(group2, topic2, 0));
        await env.ProduceAsync(topic2, 2, 20, 2);
        await ReadAsync(manual, topic2, 2);
        await manual.DisposeAsync();
        Assert.Equal(10, Committed(group2, topic2, 0));
    }
}
