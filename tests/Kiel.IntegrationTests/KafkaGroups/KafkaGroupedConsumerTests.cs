using System.Collections.Concurrent;
using Confluent.Kafka;
using Kiel.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;
using Xunit.Abstractions;

namespace Kiel.IntegrationTests.KafkaGroups;

/// <summary>
/// The GroupedConsumer with <see cref="GroupCoordination.Kafka"/>: a Kafka group (no ZooKeeper: the hosts point at a
/// port nothing listens on), the allocator as the leader's assignor, one member in its own process.
/// </summary>
[Collection("KafkaGroups")]
public sealed class KafkaGroupedConsumerTests(KafkaGroupFixture fixture, ITestOutputHelper output) : IClassFixture<KafkaGroupFixture>
{
    private const int Partitions = 6;

    private GroupedConsumerOptions Options(string group) => new()
    {
        BootstrapServers = fixture.BootstrapServers,
        Group = group,
        Coordination = GroupCoordination.Kafka,
        // Nothing listens here: a Kafka-coordinated member must never need ZooKeeper.
        ZooKeeperHosts = ["127.0.0.1:1"],
        AutoOffsetReset = OffsetResetPolicy.Earliest,
        FetchMaxWait = TimeSpan.FromMilliseconds(100),
        SessionTimeout = TimeSpan.FromSeconds(6),
        HeartbeatInterval = TimeSpan.FromMilliseconds(300),
        RetryBackoff = TimeSpan.FromMilliseconds(20),
        RequestTimeout = TimeSpan.FromSeconds(10),
        MetadataMaxAge = TimeSpan.FromSeconds(2),
    };

    /// <summary>A member in this process: its AllocationChanged events and what it hands out are recorded.</summary>
    private sealed class Member : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private Task _loop = Task.CompletedTask;

        public GroupedConsumer Consumer { get; }
        public ConcurrentQueue<AllocationChangedEventArgs> Changes { get; } = new();
        public Exception? Failure { get; private set; }

        public Member(GroupedConsumerOptions options)
        {
            Consumer = new GroupedConsumer(options);
            Consumer.AllocationChanged += e =>
            {
                Changes.Enqueue(e);
                return Task.CompletedTask;
            };
        }

        public HashSet<int> Allocation => Consumer.Allocation.TryGetValue(Topic, out var mine) ? [.. mine] : [];

        public string Topic { get; private set; } = "";

        public async Task StartAsync(string topic, DeliveryLog log)
        {
            Topic = topic;
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
                await Consumer.ConnectAsync(cts.Token);
            _loop = Task.Run(async () =>
            {
                try
                {
                    while (!_stop.IsCancellationRequested)
                    {
                        var records = await Consumer.ConsumeRecordsAsync(topic, null, _stop.Token);
                        var at = System.Diagnostics.Stopwatch.GetTimestamp();
                        foreach (var r in records) log.Add(Consumer.Name, r.Partition, r.Offset, at);
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
                catch (Exception e) { Failure = e; }
            });
        }

        public async Task LeaveAsync()
        {
            await _stop.CancelAsync();
            await _loop.WaitAsync(TimeSpan.FromSeconds(20));
            await Consumer.WindDownAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try { await _loop.WaitAsync(TimeSpan.FromSeconds(20)); } catch (TimeoutException) { }
            await Consumer.DisposeAsync();
            _stop.Dispose();
        }
    }

    private async Task ProduceAsync(string topic, int from, int count)
    {
        using var producer = ConfluentClients.Producer(fixture.BootstrapServers);
        var tasks = new List<Task>(count);
        for (var i = from; i < from + count; i++)
            tasks.Add(producer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, new Partition(i % Partitions)), new Message<string, string> { Key = i.ToString(), Value = $"{{\"n\": {i}}}" }));
        await Task.WhenAll(tasks);
    }

    /// <summary>The group's committed offsets, read as any client would (OffsetFetch); 0 where none.</summary>
    private async Task<Dictionary<int, long>> CommittedAsync(string group, string topic)
    {
        await using var reader = new KielConsumer<byte[]?, byte[]?>(new KielConsumerOptions { BootstrapServers = fixture.BootstrapServers, GroupId = group },
            Deserializers.Bytes, Deserializers.Bytes);
        var committed = await reader.CommittedAsync(Enumerable.Range(0, Partitions).Select(p => new Kiel.TopicPartition(topic, p)));
        return committed.ToDictionary(kv => kv.Key.Partition, kv => kv.Value ?? 0);
    }

    [Fact]
    public async Task Three_members_one_in_its_own_process_share_a_topic_and_lose_nothing_when_one_is_killed_and_offsets_resume()
    {
        var topic = KafkaClusterFixture.UniqueTopic("kg-grouped");
        var group = KafkaClusterFixture.UniqueTopic("g");
        fixture.Cluster.CreateTopic(topic, Partitions);
        var log = new DeliveryLog();
        var logs = new Kiel.IntegrationTests.Security.ReauthenticationTests.CapturingLoggerProvider();
        using var loggerFactory = new Microsoft.Extensions.Logging.LoggerFactory([logs]);
        try
        {
            await RunAsync();
        }
        finally
        {
            foreach (var e in logs.Entries.Where(e => e.Category.Contains("Group", StringComparison.Ordinal) || e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning).Take(300))
                output.WriteLine($"{e.Level} {e.Id.Id} {e.Message}");
        }

        async Task RunAsync()
        {
        // The process member connects first (alone, a quick first join); the others join it.
        await using var c = await MemberProcess.StartAsync(log, fixture.BootstrapServers, "kafka-grouped", group, topic, 6000);
        await using var a = new Member(Options(group) with { LoggerFactory = loggerFactory });
        await using var b = new Member(Options(group) with { LoggerFactory = loggerFactory });
        await a.StartAsync(topic, log);
        await b.StartAsync(topic, log);

        // 1. Split among all three, without overlap (the naive allocator over the three member ids).
        Assert.True(await TestTimeouts.WaitUntilAsync(() => a.Allocation.Count > 0 && b.Allocation.Count > 0 && c.Allocation.Count > 0
                && a.Allocation.Count + b.Allocation.Count + c.Allocation.Count == Partitions, TimeSpan.FromSeconds(60)),
            $"not split among all three: a {string.Join(",", a.Allocation)} b {string.Join(",", b.Allocation)} c {string.Join(",", c.Allocation)}; {c.Errors}");
        var split = (A: a.Allocation, B: b.Allocation, C: c.Allocation);
        Assert.Empty(split.A.Intersect(split.B).Concat(split.A.Intersect(split.C)).Concat(split.B.Intersect(split.C)));
        Assert.Contains(a.Changes, e => e.Assigned.TryGetValue(topic, out var p) && p.Count > 0);
        output.WriteLine($"split: a {string.Join(",", split.A.Order())} | b {string.Join(",", split.B.Order())} | process {string.Join(",", split.C.Order())}");

        await ProduceAsync(topic, 0, 3000);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => log.Distinct().Count == 3000, TimeSpan.FromSeconds(60)), $"first 3,000: {log.Distinct().Count}");
        // Each partition was read by its one owner.
        foreach (var p in log.All.GroupBy(d => d.Partition))
        {
            var owner = split.A.Contains(p.Key) ? a.Consumer.Name : split.B.Contains(p.Key) ? b.Consumer.Name : c.Name;
            Assert.All(p, d => Assert.Equal(owner, d.Member));
        }

        // 2. Kill the process: its partitions move to the others once its session (6 s) expires; nothing is lost.
        var floor = await CommittedAsync(group, topic);
        var killedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var changesBefore = a.Changes.Count + b.Changes.Count;
        c.Kill();
        Assert.True(await TestTimeouts.WaitUntilAsync(() => a.Allocation.Count + b.Allocation.Count == Partitions && !a.Allocation.Overlaps(b.Allocation),
            TimeSpan.FromSeconds(60)), $"after the kill: a {string.Join(",", a.Allocation)} b {string.Join(",", b.Allocation)}");
        Assert.True(a.Changes.Count + b.Changes.Count > changesBefore, "AllocationChanged did not fire after the kill");
        Assert.Contains(a.Changes.Concat(b.Changes), e => e.Assigned.TryGetValue(topic, out var p) && p.Any(split.C.Contains));
        await ProduceAsync(topic, 3000, 3000);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => log.Distinct().Count == 6000, TimeSpan.FromSeconds(60)), $"after the kill: {log.Distinct().Count} of 6,000");
        // What the group had committed before the kill is never read again.
        foreach (var dup in log.Duplicates())
            Assert.False(dup.Key.Offset < floor[dup.Key.Partition] && dup.Any(x => x.At >= killedAt),
                $"{dup.Key} was read again after the kill though the group had committed {floor[dup.Key.Partition]}");
        Assert.Null(a.Failure);
        Assert.Null(b.Failure);

        // 3. Offsets resume: once every record is committed (the autocommit at the start of each consume call), both
        // leave; a new member reads only what is produced afterwards.
        var committedBy = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        Dictionary<int, long> committed;
        while ((committed = await CommittedAsync(group, topic)).Values.Sum() != 6000 && DateTime.UtcNow < committedBy) await Task.Delay(200);
        Assert.True(committed.Values.Sum() == 6000, $"committed: {string.Join(",", committed.Values)}");
        await a.LeaveAsync();
        await b.LeaveAsync();
        await ProduceAsync(topic, 6000, 600);
        var resumed = new DeliveryLog();
        await using var d = new Member(Options(group));
        await d.StartAsync(topic, resumed);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => resumed.Distinct().Count >= 600, TimeSpan.FromSeconds(60)), $"resumed: {resumed.Distinct().Count} of 600");
        Assert.All(resumed.All, r => Assert.True(r.Offset >= 1000, $"{r.Partition}:{r.Offset} was committed before"));
        Assert.Equal(600, resumed.Distinct().Count);
        output.WriteLine($"{log.All.Count} deliveries of 6,000 records, {log.Duplicates().Count} read twice; the new member read {resumed.All.Count}");
        }
    }
}
