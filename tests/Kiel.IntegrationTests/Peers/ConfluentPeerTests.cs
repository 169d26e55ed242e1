using Confluent.Kafka;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Peers;

using Headers = Confluent.Kafka.Headers;
using TopicPartition = Confluent.Kafka.TopicPartition;

/// <summary>Confluent.Kafka 2.16, as an independent client, against the embedded cluster.</summary>
public sealed class ConfluentPeerTests(KafkaClusterFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<KafkaClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Produces_1000_messages_through_three_brokers_and_reads_them_back()
    {
        const int count = 1000;
        var topic = KafkaClusterFixture.UniqueTopic("thousand");
        Cluster.CreateTopic(topic, partitions: 6, replicationFactor: 3);
        using var cts = TestTimeouts.After(60);

        using (var producer = ConfluentClients.Producer(fixture.BootstrapServers))
        {
            var deliveries = Enumerable.Range(0, count)
                .Select(i => producer.ProduceAsync(topic, new Message<string, string> { Key = $"k{i}", Value = $"v{i}" }, cts.Token))
                .ToArray();
            var results = await Task.WhenAll(deliveries);
            Assert.All(results, r => Assert.Equal(PersistenceStatus.Persisted, r.Status));
            Assert.Equal(6, results.Select(r => r.Partition.Value).Distinct().Count());
            Assert.Equal(3, results.Select(r => r.Partition.Value % 3).Distinct().Count());
        }

        using var consumer = ConfluentClients.Consumer(fixture.BootstrapServers, $"g-{topic}");
        consumer.Assign(Enumerable.Range(0, 6).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var read = ConfluentClients.ConsumeCount(consumer, count, cts.Token);

        Assert.Equal(count, read.Count);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"k{i}=v{i}").Order(), read.Select(r => $"{r.Message.Key}={r.Message.Value}").Order());
        foreach (var partition in read.GroupBy(r => r.Partition.Value))
        {
            var offsets = partition.Select(r => r.Offset.Value).ToArray();
            Assert.Equal(Enumerable.Range(0, offsets.Length).Select(i => (long)i), offsets);
        }
    }

    [Fact]
    public async Task Two_consumers_in_one_group_split_a_four_partition_topic()
    {
        var topic = KafkaClusterFixture.UniqueTopic("split");
        var group = $"g-{topic}";
        Cluster.CreateTopic(topic, partitions: 4);
        using var cts = TestTimeouts.After(60);

        using var first = ConfluentClients.Consumer(fixture.BootstrapServers, group);
        using var second = ConfluentClients.Consumer(fixture.BootstrapServers, group);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        first.Subscribe(topic);
        await Task.Run(() => PollUntil(() => first.Assignment.Count == 4, cts.Token, first));
        output.WriteLine($"first member assigned 4 partitions after {clock.ElapsedMilliseconds} ms");
        second.Subscribe(topic);
        await Task.Run(() => PollUntil(() => first.Assignment.Count == 2 && second.Assignment.Count == 2, cts.Token, first, second));
        output.WriteLine($"split 2+2 after {clock.ElapsedMilliseconds} ms");

        var mine = first.Assignment.Select(tp => tp.Partition.Value).ToHashSet();
        var theirs = second.Assignment.Select(tp => tp.Partition.Value).ToHashSet();
        Assert.Empty(mine.Intersect(theirs));
        Assert.Equal([0, 1, 2, 3], mine.Union(theirs).Order());

        using (var producer = ConfluentClients.Producer(fixture.BootstrapServers))
        {
            for (var p = 0; p < 4; p++)
            {
                for (var i = 0; i < 10; i++)
                {
                    await producer.ProduceAsync(new TopicPartition(topic, p), new Message<string, string> { Key = $"{p}", Value = $"{p}-{i}" }, cts.Token);
                }
            }
        }

        var seenFirst = new List<ConsumeResult<string, string>>();
        var seenSecond = new List<ConsumeResult<string, string>>();
        await Task.Run(() => PollUntil(() => seenFirst.Count + seenSecond.Count >= 40, cts.Token, (first, seenFirst), (second, seenSecond)));

        Assert.Equal(40, seenFirst.Count + seenSecond.Count);
        Assert.All(seenFirst, r => Assert.Contains(r.Partition.Value, mine));
        Assert.All(seenSecond, r => Assert.Contains(r.Partition.Value, theirs));
        Assert.Equal(20, seenFirst.Count);
        first.Close();
        second.Close();
    }

    [Fact]
    public async Task An_injected_fatal_produce_error_fails_exactly_the_next_request()
    {
        var topic = KafkaClusterFixture.UniqueTopic("fatal");
        Cluster.CreateTopic(topic, partitions: 1);
        using var cts = TestTimeouts.After(30);
        using var producer = ConfluentClients.Producer(fixture.BootstrapServers);
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "warm", Value = "up" }, cts.Token);

        // 10 = MESSAGE_TOO_LARGE, which no client retries.
        Cluster.PushRequestErrors(KafkaApiKeys.Produce, 10);
        var failure = await Assert.ThrowsAsync<ProduceException<string, string>>(
            () => producer.ProduceAsync(topic, new Message<string, string> { Key = "a", Value = "fails" }, cts.Token));
        Assert.Equal(Confluent.Kafka.ErrorCode.MsgSizeTooLarge, failure.Error.Code);

        var ok = await producer.ProduceAsync(topic, new Message<string, string> { Key = "b", Value = "succeeds" }, cts.Token);
        Assert.Equal(PersistenceStatus.Persisted, ok.Status);
    }

    [Fact]
    public async Task Injected_retriable_errors_are_retried_and_seen_by_request_tracking()
    {
        var topic = KafkaClusterFixture.UniqueTopic("retry");
        Cluster.CreateTopic(topic, partitions: 1); // RF 1: partition 0 is led by broker 1
        using var cts = TestTimeouts.After(30);
        using var producer = ConfluentClients.Producer(fixture.BootstrapServers);
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "warm", Value = "up" }, cts.Token);

        Cluster.StartRequestTracking();
        try
        {
            Cluster.ClearRequests();
            // 7 = REQUEST_TIMED_OUT after 200 ms, then 6 = NOT_LEADER_OR_FOLLOWER: two failed Produce requests to broker 1.
            Cluster.PushBrokerRequestErrors(1, KafkaApiKeys.Produce, (7, 200), (6, 0));
            var result = await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "v" }, cts.Token);
            Assert.Equal(PersistenceStatus.Persisted, result.Status);
            Assert.Equal(0, Cluster.PendingBrokerRequestErrors(1, KafkaApiKeys.Produce));

            var produces = Cluster.GetRequests().Where(r => r.ApiKey == KafkaApiKeys.Produce).ToList();
            Assert.True(produces.Count >= 3, $"expected the two failed Produce requests and a successful retry, saw {produces.Count}");
            Assert.All(produces, r => Assert.Equal(1, r.BrokerId));
        }
        finally
        {
            Cluster.StopRequestTracking();
            Cluster.ClearRequests();
        }
    }

    [Fact]
    public async Task A_broker_taken_down_fails_produce_to_its_partition_and_serves_again_when_up()
    {
        var topic = KafkaClusterFixture.UniqueTopic("outage");
        Cluster.CreateTopic(topic, partitions: 3); // RF 1: partition 2 is led by broker 3
        using var cts = TestTimeouts.After(60);
        using var producer = ConfluentClients.Producer(fixture.BootstrapServers, c => c.MessageTimeoutMs = 2000);
        var target = new TopicPartition(topic, 2);
        await producer.ProduceAsync(target, new Message<string, string> { Key = "before", Value = "down" }, cts.Token);

        Cluster.SetBrokerDown(3);
        try
        {
            var failure = await Assert.ThrowsAsync<ProduceException<string, string>>(
                () => producer.ProduceAsync(target, new Message<string, string> { Key = "while", Value = "down" }, cts.Token));
            Assert.Equal(Confluent.Kafka.ErrorCode.Local_MsgTimedOut, failure.Error.Code);
        }
        finally
        {
            Cluster.SetBrokerUp(3);
        }

        var after = await producer.ProduceAsync(target, new Message<string, string> { Key = "after", Value = "up" }, cts.Token);
        Assert.Equal(PersistenceStatus.Persisted, after.Status);
        Assert.Equal(1, after.Offset.Value);
    }

    [Fact]
    public async Task Commits_go_to_the_group_coordinator_that_was_set()
    {
        var topic = KafkaClusterFixture.UniqueTopic("coord");
        var group = $"g-{topic}";
        Cluster.CreateTopic(topic, partitions: 1);
        Cluster.SetGroupCoordinator(group, 3);
        using var cts = TestTimeouts.After(30);
        using (var producer = ConfluentClients.Producer(fixture.BootstrapServers))
        {
            await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "v" }, cts.Token);
        }

        Cluster.StartRequestTracking();
        try
        {
            Cluster.ClearRequests();
            using var consumer = ConfluentClients.Consumer(fixture.BootstrapServers, group);
            consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
            var read = ConfluentClients.ConsumeCount(consumer, 1, cts.Token);
            Assert.Single(read);
            consumer.Commit(read[0]);
            Assert.Equal(1, consumer.Committed([new TopicPartition(topic, 0)], TimeSpan.FromSeconds(10))[0].Offset.Value);

            var commits = Cluster.GetRequests().Where(r => r.ApiKey == KafkaApiKeys.OffsetCommit).ToList();
            Assert.NotEmpty(commits);
            Assert.All(commits, r => Assert.Equal(3, r.BrokerId));
        }
        finally
        {
            Cluster.StopRequestTracking();
            Cluster.ClearRequests();
        }
    }

    [Fact]
    public async Task A_capped_produce_version_makes_the_client_write_an_old_format_without_headers()
    {
        // Its own cluster: the cap applies to every broker and would disturb the other tests.
        await using var cluster = EmbeddedKafkaCluster.Start(1, "old:1");
        cluster.SetApiVersion(KafkaApiKeys.Produce, 0, 2); // Produce v2 carries magic-1 message sets, which have no headers
        using var cts = TestTimeouts.After(30);
        using (var producer = ConfluentClients.Producer(cluster.BootstrapServers))
        {
            var headers = new Headers { { "h", [1] } };
            await producer.ProduceAsync("old", new Message<string, string> { Key = "k", Value = "v", Headers = headers }, cts.Token);
        }

        using var consumer = ConfluentClients.Consumer(cluster.BootstrapServers, "g-old");
        consumer.Assign(new TopicPartitionOffset("old", 0, Offset.Beginning));
        var read = ConfluentClients.ConsumeCount(consumer, 1, cts.Token);
        Assert.Single(read);
        Assert.Equal("v", read[0].Message.Value);
        Assert.True(read[0].Message.Headers is null || read[0].Message.Headers.Count == 0);
    }

    private static void PollUntil(Func<bool> done, CancellationToken cancellationToken, params IConsumer<string, string>[] consumers) =>
        PollUntil(done, cancellationToken, consumers.Select(c => (c, (List<ConsumeResult<string, string>>?)null)).ToArray());

    private static void PollUntil(Func<bool> done, CancellationToken cancellationToken, params (IConsumer<string, string> Consumer, List<ConsumeResult<string, string>>? Sink)[] consumers)
    {
        while (!done())
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var (consumer, sink) in consumers)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(50));
                if (r?.Message is not null)
                {
                    if (sink is null)
                    {
                        throw new InvalidOperationException($"Unexpected record at {r.TopicPartitionOffset} while waiting for assignments.");
                    }

                    sink.Add(r);
                }
            }
        }
    }
}
