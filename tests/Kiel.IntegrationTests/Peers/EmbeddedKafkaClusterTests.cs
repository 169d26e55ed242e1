using Confluent.Kafka;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Peers;

using TopicPartition = Confluent.Kafka.TopicPartition;

public sealed class EmbeddedKafkaClusterTests
{
    [Fact]
    public async Task Starts_three_loopback_brokers_and_stops_idempotently()
    {
        var cluster = await EmbeddedKafkaCluster.StartAsync();
        var endpoints = cluster.BootstrapServers.Split(',');
        Assert.Equal(3, endpoints.Length);
        Assert.All(endpoints, e => Assert.StartsWith("127.0.0.1:", e, StringComparison.Ordinal));
        Assert.Equal([1, 2, 3], cluster.BrokerIds);

        await cluster.DisposeAsync();
        await cluster.DisposeAsync();
        cluster.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cluster.CreateTopic("late"));
    }

    [Fact]
    public async Task Creates_topics_with_deterministic_leaders_visible_to_a_client()
    {
        await using var cluster = EmbeddedKafkaCluster.Start(3, "orders:4", "single");
        cluster.CreateTopic("six", 6, 1);

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var md = admin.GetMetadata(TimeSpan.FromSeconds(10));
        Assert.Equal(3, md.Brokers.Count);
        var orders = md.Topics.Single(t => t.Topic == "orders");
        Assert.Equal(4, orders.Partitions.Count);
        Assert.Single(md.Topics.Single(t => t.Topic == "single").Partitions);
        var six = md.Topics.Single(t => t.Topic == "six");
        Assert.All(six.Partitions, p => Assert.Equal((p.PartitionId % 3) + 1, p.Leader));
    }

    [Fact]
    public async Task Refuses_bad_topics_and_options_with_clear_errors()
    {
        Assert.Throws<ArgumentException>(() => new EmbeddedKafkaOptions { Brokers = 0 }.Validate());
        Assert.Throws<FormatException>(() => EmbeddedTopic.Parse("x:zero"));
        Assert.Throws<FormatException>(() => EmbeddedTopic.Parse("bad name:2"));
        Assert.Equal(new EmbeddedTopic("a.b", 4, 2), EmbeddedTopic.Parse("a.b:4:2"));

        await using var cluster = EmbeddedKafkaCluster.Start(brokers: 1);
        cluster.CreateTopic("dup", 1);
        var ex = Assert.Throws<EmbeddedKafkaException>(() => cluster.CreateTopic("dup", 1));
        Assert.NotEqual(0, ex.ErrorCode);
        Assert.Throws<ArgumentException>(() => cluster.CreateTopic("rf", 1, 2));
    }

    [Fact]
    public async Task Moves_leaders_and_sets_coordinators()
    {
        await using var cluster = EmbeddedKafkaCluster.Start(3, "moving:2");
        cluster.SetPartitionLeader("moving", 0, 3);
        cluster.SetGroupCoordinator("g", 2);
        cluster.SetTransactionCoordinator("tx", 2);
        cluster.SetBrokerRtt(2, 10);
        cluster.SetBrokerRtt(2, 0);
        cluster.SetControllerId(2);

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var md = admin.GetMetadata("moving", TimeSpan.FromSeconds(10));
        Assert.Equal(3, md.Topics[0].Partitions.Single(p => p.PartitionId == 0).Leader);
    }

    [Fact]
    public async Task Tracks_requests_by_api_key_and_broker()
    {
        await using var cluster = EmbeddedKafkaCluster.Start(3, "tracked:1");
        cluster.StartRequestTracking();
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            admin.GetMetadata("tracked", TimeSpan.FromSeconds(10));
        }

        var requests = cluster.GetRequests();
        Assert.Contains(requests, r => r.ApiKey == KafkaApiKeys.Metadata && cluster.BrokerIds.Contains(r.BrokerId));
        Assert.Contains(requests, r => r.ApiKey == KafkaApiKeys.ApiVersions);
        cluster.ClearRequests();
        cluster.StopRequestTracking();
        Assert.Empty(cluster.GetRequests());
    }

    [Fact]
    public async Task Broker_error_stack_counts_down_in_order()
    {
        await using var cluster = EmbeddedKafkaCluster.Start(3);
        cluster.PushBrokerRequestErrors(1, KafkaApiKeys.Metadata, (6, 0), (0, 100));
        Assert.Equal(2, cluster.PendingBrokerRequestErrors(1, KafkaApiKeys.Metadata));
        Assert.Equal(0, cluster.PendingBrokerRequestErrors(2, KafkaApiKeys.Metadata));
        Assert.Throws<EmbeddedKafkaException>(() => cluster.PendingBrokerRequestErrors(9, KafkaApiKeys.Metadata));
    }

    [Fact]
    public async Task Deletes_records_and_reports_topic_errors()
    {
        await using var cluster = EmbeddedKafkaCluster.Start(1, "trim:1", "broken:1");
        using (var producer = ConfluentClients.Producer(cluster.BootstrapServers))
        {
            for (var i = 0; i < 5; i++)
            {
                producer.Produce("trim", new Message<string, string> { Key = "k", Value = $"{i}" });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(10)));
        }

        cluster.DeleteRecords("trim", 0, 3);
        using var consumer = ConfluentClients.Consumer(cluster.BootstrapServers, "g-trim");
        var marks = consumer.QueryWatermarkOffsets(new Confluent.Kafka.TopicPartition("trim", 0), TimeSpan.FromSeconds(10));
        Assert.Equal(3, marks.Low.Value);
        Assert.Equal(5, marks.High.Value);

        cluster.SetTopicError("broken", 29); // TOPIC_AUTHORIZATION_FAILED
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        Assert.Equal(Confluent.Kafka.ErrorCode.TopicAuthorizationFailed, admin.GetMetadata("broken", TimeSpan.FromSeconds(10)).Topics[0].Error.Code);
        cluster.SetTopicError("broken", 0);
        Assert.Equal(Confluent.Kafka.ErrorCode.NoError, admin.GetMetadata("broken", TimeSpan.FromSeconds(10)).Topics[0].Error.Code);
    }
}
