using System.Collections.Concurrent;
using System.Diagnostics;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;
using Kiel.Producing;
using Kiel.Testing;
using Xunit.Abstractions;

namespace Kiel.IntegrationTests.Reliability;

/// <summary>Alone: the allocation and unobserved-exception checks read process-wide counters.</summary>
[CollectionDefinition(nameof(HostileBrokerCollection), DisableParallelization = true)]
public sealed class HostileBrokerCollection;

/// <summary>
/// Every client API against every behaviour of the <see cref="HostileBroker"/>: the call ends in a clear exception
/// (a <see cref="KielException"/>, a <see cref="TimeoutException"/>, or the test's own bound cancelling a wait for
/// data) or succeeds, within its timeouts plus a margin; it allocates within a generous bound; and no task exception
/// goes unobserved.
/// </summary>
[Collection(nameof(HostileBrokerCollection))]
[Trait("Category", "Reliability")]
public sealed class HostileBrokerTests(KafkaClusterFixture fixture, GroupZooKeeperFixture zooKeeper, ITestOutputHelper output)
    : IClassFixture<KafkaClusterFixture>, IClassFixture<GroupZooKeeperFixture>
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(4); // the caller's own bound on a wait for data (the run is alone: every second here is CI time)
    // What a call may take beyond its own timeouts on a busy machine before it counts as hung.
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(25);
    // Generous: a client that reconnects many times a second to a broker sending garbage allocates per connection
    // (buffers, up to FrameBufferStep for an announced frame); what must never happen is allocating what a frame claims.
    private const long AllocationBound = 512L * 1024 * 1024;

    public static TheoryData<HostileBehaviour> Behaviours => new(Enum.GetValues<HostileBehaviour>().Where(b => b != HostileBehaviour.None));

    private string SeededTopic()
    {
        var topic = KafkaClusterFixture.UniqueTopic("hostile");
        fixture.Cluster.CreateTopic(topic, 3);
        ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 30).GetAwaiter().GetResult();
        return topic;
    }

    [Theory]
    [MemberData(nameof(Behaviours))]
    public Task KielProducer_produce_and_flush(HostileBehaviour behaviour) => JudgeAsync(behaviour, "KielProducer produce+flush", async (bootstrap, _) =>
    {
        var topic = SeededTopic();
        await using var producer = new KielProducer<string, string>(new KielProducerOptions
        {
            BootstrapServers = bootstrap,
            RequestTimeout = RequestTimeout,
            DeliveryTimeout = TimeSpan.FromSeconds(6),
            MaxBlock = TimeSpan.FromSeconds(6),
            CloseTimeout = TimeSpan.FromSeconds(3),
            RetryBackoff = TimeSpan.FromMilliseconds(50),
        }, Serializers.Utf8, Serializers.Utf8);
        await producer.ProduceAsync(topic, "k", "v");
        producer.Produce(topic, "k2", "v2");
        await producer.FlushAsync();
    }, ownTimeouts: TimeSpan.FromSeconds(6 + 6 + 3));

    [Theory]
    [MemberData(nameof(Behaviours))]
    public Task Json_Producer_produce(HostileBehaviour behaviour) => JudgeAsync(behaviour, "Producer (JSON) produce", async (bootstrap, bound) =>
    {
        var topic = SeededTopic();
        // kiel's Producer waits up to a minute for metadata and two for delivery (its token only cancels a wait for
        // buffer room): wait for the delivery within the test's bound, then close, which must give it an outcome within
        // the close timeout (30 s by default; 3 s here, so that the five behaviours that end there take seconds, not
        // half a minute each).
        var producer = new Producer<Dictionary<string, int>>(null, bootstrap.Split(','), ackTimeout: (int)RequestTimeout.TotalMilliseconds,
            adjustForTests: o => o with { CloseTimeout = TimeSpan.FromSeconds(3) });
        Task<DeliveryReport> delivery;
        try
        {
            delivery = producer.ProduceAsync(topic, new Dictionary<string, int> { ["n"] = 1 });
            await Task.WhenAny(delivery, Task.Delay(Timeout.Infinite, bound));
        }
        finally
        {
            await producer.DisposeAsync();
        }
        // The close completes the record's report before it returns; the Producer's own await of it continues on the
        // thread pool, so give that continuation a moment (a record left waiting, as before the fix, waits MaxBlock: 60 s).
        await Task.WhenAny(delivery, Task.Delay(TimeSpan.FromSeconds(5)));
        Assert.True(delivery.IsCompleted, "the record has no outcome after the producer closed");
        await delivery;
    }, ownTimeouts: Bound + TimeSpan.FromSeconds(3));

    [Theory]
    [MemberData(nameof(Behaviours))]
    public Task KielConsumer_assign_and_consume(HostileBehaviour behaviour) => JudgeAsync(behaviour, "KielConsumer assign+consume", async (bootstrap, bound) =>
    {
        var topic = SeededTopic();
        await using var consumer = ConsumingHelpers.Consumer(bootstrap, o => o with { RequestTimeout = RequestTimeout });
        await consumer.AssignAsync(new TopicPartition(topic, 0), StartPosition.Beginning, bound);
        using var batch = await consumer.ConsumeBatchAsync(bound);
    }, ownTimeouts: Bound);

    [Theory]
    [MemberData(nameof(Behaviours))]
    public Task KielConsumer_group_consume_and_commit(HostileBehaviour behaviour) => JudgeAsync(behaviour, "KielConsumer group consume+commit", async (bootstrap, bound) =>
    {
        var topic = SeededTopic();
        await using var consumer = ConsumingHelpers.Consumer(bootstrap, o => o with
        {
            RequestTimeout = RequestTimeout,
            GroupId = KafkaClusterFixture.UniqueTopic("hg"),
            SessionTimeout = TimeSpan.FromSeconds(6),
            HeartbeatInterval = TimeSpan.FromSeconds(1),
            EnableAutoCommit = false,
        });
        await consumer.SubscribeAsync([topic], bound);
        await foreach (var record in consumer.ConsumeAsync(bound))
        {
            await consumer.CommitAsync([new(record.TopicPartition, record.Offset + 1)], bound);
            break;
        }
    }, ownTimeouts: Bound + TimeSpan.FromSeconds(6));

    [Theory]
    [MemberData(nameof(Behaviours))]
    public Task SingleConsumer_consume(HostileBehaviour behaviour) => JudgeAsync(behaviour, "SingleConsumer consume", async (bootstrap, bound) =>
    {
        var topic = SeededTopic();
        await using var consumer = new SingleConsumer<byte[]?>(ConsumingHelpers.Options(bootstrap) with { RequestTimeout = RequestTimeout }, Deserializers.Bytes);
        while (!bound.IsCancellationRequested)
            if ((await consumer.ConsumeAsync(topic, StartPosition.Beginning, bound)).Count > 0) return;
    }, ownTimeouts: Bound);

    [Theory]
    [MemberData(nameof(Behaviours))]
    public Task GroupedConsumer_connect_consume_and_commit(HostileBehaviour behaviour) => JudgeAsync(behaviour, "GroupedConsumer connect+consume+commit", async (bootstrap, bound) =>
    {
        var topic = SeededTopic();
        // ZooKeeper is sound; only the Kafka side (metadata, offsets, fetches, commits) goes through the hostile front.
        await using var consumer = new GroupedConsumer(new GroupedConsumerOptions
        {
            BootstrapServers = bootstrap,
            Group = GroupZooKeeperFixture.UniqueGroup("hostile"),
            ZooKeeperHosts = [zooKeeper.ConnectString],
            AutoOffsetReset = OffsetResetPolicy.Earliest,
            FetchMaxWait = TimeSpan.FromMilliseconds(100),
            RequestTimeout = RequestTimeout,
            RetryBackoff = TimeSpan.FromMilliseconds(50),
        });
        await consumer.ConnectAsync(bound);
        while (!bound.IsCancellationRequested)
            if ((await consumer.ConsumeAsync(topic, null, bound)).Count > 0) break;
        await consumer.CommitOffsetsAsync(null, bound);
    }, ownTimeouts: Bound + TimeSpan.FromSeconds(10));

    /// <summary>Runs <paramref name="call"/> against a hostile front with <paramref name="behaviour"/> and judges how it ends.</summary>
    private async Task JudgeAsync(HostileBehaviour behaviour, string api, Func<string, CancellationToken, Task> call, TimeSpan ownTimeouts)
    {
        var unobserved = new ConcurrentQueue<Exception>();
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
        {
            unobserved.Enqueue(e.Exception);
        }
        TaskScheduler.UnobservedTaskException += OnUnobserved;
        string outcome;
        try
        {
            await using var hostile = new HostileBroker(fixture.Cluster, new HostileBrokerOptions { Behaviour = behaviour, Seed = 19 + (int)behaviour });
            using var bound = new CancellationTokenSource(Bound);
            var allocatedBefore = GC.GetTotalAllocatedBytes();
            var clock = Stopwatch.StartNew();
            var run = Task.Run(() => call(hostile.BootstrapServers, bound.Token));
            var deadline = ownTimeouts + Margin;
            try
            {
                await run.WaitAsync(deadline);
                outcome = "recovers";
            }
            catch (TimeoutException) when (!run.IsCompleted)
            {
                _ = run.ContinueWith(t => t.Exception, TaskScheduler.Default);
                throw new Xunit.Sdk.XunitException($"{api} against {behaviour} hung: not done {deadline.TotalSeconds:0} s after it started");
            }
            catch (OperationCanceledException) when (bound.IsCancellationRequested)
            {
                outcome = "bounded by the caller's token";
            }
            catch (Exception e) when (e is KielException or TimeoutException)
            {
                outcome = e.GetType().Name;
                output.WriteLine($"{api} / {behaviour}: {e.GetType().Name}: {e.Message}");
            }
            var allocated = GC.GetTotalAllocatedBytes() - allocatedBefore;
            output.WriteLine($"OUTCOME | {behaviour} | {api} | {outcome} | {clock.Elapsed.TotalSeconds:0.0} s | {allocated / (1024 * 1024)} MiB | hits {hostile.Misbehaviours}");
            Assert.True(allocated < AllocationBound, $"{api} against {behaviour} allocated {allocated / (1024 * 1024)} MiB (bound {AllocationBound / (1024 * 1024)} MiB)");
        }
        finally
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }
        Assert.True(unobserved.IsEmpty, $"{api} against {behaviour}: unobserved task exceptions:\n" + string.Join("\n", unobserved));
    }
}
