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

    public GroupedConsumerOptions Options(string group, Action<GroupedConsumerOptions>? _ = null)
        => MemberOptions(Kafka.BootstrapServers, group, [ZooKeeper.ConnectString], TimeSpan.FromSeconds(4)) with { MetadataMaxAge = TimeSpan.FromSeconds(2) };

    /// <summary>
    /// The group tests' member: reads from the earliest offset, 100 ms fetch wait, 20 ms retry backoff, the given
    /// ZooKeeper session timeout.
    /// </summary>
    public static GroupedConsumerOptions MemberOptions(string bootstrap, string group, string[] zooKeeperHosts, TimeSpan sessionTimeout) => new()
    {
        BootstrapServers = bootstrap,
        Group = group,
        ZooKeeperHosts = zooKeeperHosts,
        AutoOffsetReset = OffsetResetPolicy.Earliest,
        FetchMaxWait = TimeSpan.FromMilliseconds(100),
        ZooKeeperSessionTimeout = sessionTimeout,
        RetryBackoff = TimeSpan.FromMilliseconds(20),
    };

    /// <summary>Produces <paramref name="count"/> JSON records <c>{"n": i}</c> with key i, round-robin over the partitions.</summary>
    public Task ProduceAsync(string topic, int partitions, int from, int count) => ProduceAsync(Bootstrap, topic, partitions, from, count);

    /// <summary>
    /// Produces records <paramref name="from"/> to <paramref name="from"/> + <paramref name="count"/> - 1 through
    /// <paramref name="bootstrap"/> with Confluent.Kafka: JSON <c>{"n": i}</c> with key i, record i to partition i mod
    /// <paramref name="partitions"/>; returns when every one is acknowledged.
    /// </summary>
    public static async Task ProduceAsync(string bootstrap, string topic, int partitions, int from, int count)
    {
        using var producer = ConfluentClients.Producer(bootstrap);
        var tasks = new List<Task>(Math.Min(count, 5000));
        for (var i = from; i < from + count; i++)
        {
            tasks.Add(producer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, new Partition(i % partitions)), new Message<string, string> { Key = i.ToString(), Value = $"{{\"n\": {i}}}" }));
            if (tasks.Count >= 5000) { await Task.WhenAll(tasks); tasks.Clear(); }
        }
        await Task.WhenAll(tasks);
        producer.Flush(TimeSpan.FromSeconds(10));
    }

    /// <summary>The group's committed offset of each of <paramref name="partitions"/>, in partition order (OffsetFetch through Confluent.Kafka; -1001 where none).</summary>
    public static long[] Committed(string bootstrap, string group, string topic, IEnumerable<int> partitions)
    {
        using var probe = ConfluentClients.Consumer(bootstrap, group);
        return probe.Committed(partitions.Select(p => new Confluent.Kafka.TopicPartition(topic, p)), TimeSpan.FromSeconds(10))
            .OrderBy(t => t.Partition.Value).Select(t => t.Offset.Value).ToArray();
    }

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
}
