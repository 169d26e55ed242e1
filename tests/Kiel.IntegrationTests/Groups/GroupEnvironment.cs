using Confluent.Kafka;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;

namespace Kiel.IntegrationTests.Groups;

/// <summary>An embedded 3-broker Kafka cluster and a standalone ZooKeeper for one test class.</summary>
public sealed class GroupEnvironment : IAsyncLifetime
{
    public EmbeddedKafkaCluster Kafka { get; private set; } = null!;

    public EmbeddedZooKeeper ZooKeeper { get; private set; } = null!;

    public string Bootstrap => Kafka.BootstrapServers;

    public string[] Brokers => Kafka.BootstrapServers.Split(',');

    public async Task InitializeAsync()
    {
        var zk = EmbeddedZooKeeper.StartAsync();
        Kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        ZooKeeper = await zk;
    }

    public async Task DisposeAsync()
    {
        if (Kafka is not null) await Kafka.DisposeAsync();
        if (ZooKeeper is not null) await ZooKeeper.DisposeAsync();
    }

    public GroupedConsumerOptions Options(string group, Action<GroupedConsumerOptions>? _ = null) => new()
    {
        BootstrapServers = Kafka.BootstrapServers,
        Group = group,
        ZooKeeperHosts = [ZooKeeper.ConnectString],
        AutoOffsetReset = OffsetResetPolicy.Earliest,
        FetchMaxWait = TimeSpan.FromMilliseconds(100),
        ZooKeeperSessionTimeout = TimeSpan.FromSeconds(4),
        RetryBackoff = TimeSpan.FromMilliseconds(20),
        MetadataMaxAge = TimeSpan.FromSeconds(2),
    };

    /// <summary>Produces <paramref name="count"/> JSON records <c>{"n": i}</c> with key i, round-robin over the partitions.</summary>
    public async Task ProduceAsync(string topic, int partitions, int from, int count)
    {
        using var producer = ConfluentClients.Producer(Bootstrap);
        var tasks = new List<Task>(count);
        for (var i = from; i < from + count; i++)
        {
            tasks.Add(producer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, new Partition(i % partitions)), new Message<string, string> { Key = i.ToString(), Value = $"{{\"n\": {i}}}" }));
            if (tasks.Count >= 5000) { await Task.WhenAll(tasks); tasks.Clear(); }
        }
        await Task.WhenAll(tasks);
        producer.Flush(TimeSpan.FromSeconds(10));
    }

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
}
