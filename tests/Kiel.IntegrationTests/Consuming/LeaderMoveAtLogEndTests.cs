using Kiel.Testing;

namespace Kiel.IntegrationTests.Consuming;

/// <summary>
/// Reliability finding 7's setting, made deterministic: a consumer that has read a partition to its end and waits in a
/// long-polling Fetch when the partition's leadership moves, the new leader's connection then stalls, and Metadata
/// requests fail. What is produced to the new leader afterwards must still be read, once the faults pass.
/// </summary>
public sealed class LeaderMoveAtLogEndTests
{
    [Theory]
    [InlineData(3, false)] // the Fetch into the stall times out (and its connection closes) before the stall ends
    [InlineData(3, true)]
    [InlineData(30, true)] // the Fetch into the stall outlives it
    public async Task A_partition_read_to_its_end_is_read_on_from_its_new_leader_after_a_stall_and_failed_metadata(int requestTimeoutSeconds, bool stallOldLeaderToo)
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        const string topic = "moved-at-end";
        cluster.CreateTopic(topic, 2);
        cluster.SetPartitionLeader(topic, 0, 3);
        cluster.SetPartitionLeader(topic, 1, 2);
        // The proxy's listeners follow the bootstrap list, which the embedded cluster gives in broker order: listener 0 is broker 1.
        await using var proxy = FaultProxy.Start(cluster.BootstrapServers);
        await ConsumingHelpers.ProduceAsync(cluster.BootstrapServers, topic, 50, partition: 0);
        await ConsumingHelpers.ProduceAsync(cluster.BootstrapServers, topic, 50, partition: 1);

        await using var consumer = ConsumingHelpers.Consumer(proxy.BootstrapServers, o => o with
        {
            FetchMaxWait = TimeSpan.FromMilliseconds(200),
            RequestTimeout = TimeSpan.FromSeconds(requestTimeoutSeconds),
        });
        await consumer.AssignTopicAsync(topic, StartPosition.Beginning);
        var first = await ConsumingHelpers.ReadAsync(consumer, 100);
        Assert.Equal(50, first.Count(r => r.Partition == 0));

        // At the log end, waiting: the leader moves from broker 3 to broker 1, broker 1 stalls, Metadata fails three times.
        cluster.SetPartitionLeader(topic, 0, 1);
        cluster.PushRequestErrors(3, EmbeddedKafkaCluster.DisconnectErrorCode, EmbeddedKafkaCluster.DisconnectErrorCode, EmbeddedKafkaCluster.DisconnectErrorCode);
        proxy.Stall(TimeSpan.FromSeconds(4), listener: 0);
        if (stallOldLeaderToo) proxy.Stall(TimeSpan.FromSeconds(2), listener: 2);
        await ConsumingHelpers.ProduceAsync(cluster.BootstrapServers, topic, 21, partition: 0);
        await ConsumingHelpers.ProduceAsync(cluster.BootstrapServers, topic, 21, partition: 1);

        // The stall is over after 4 s: everything is read well within 30 s.
        var rest = await ConsumingHelpers.ReadAsync(consumer, 42, seconds: 30);
        Assert.Equal(Enumerable.Range(50, 21).Select(i => (long)i), rest.Where(r => r.Partition == 0).Select(r => r.Offset));
        Assert.Equal(Enumerable.Range(50, 21).Select(i => (long)i), rest.Where(r => r.Partition == 1).Select(r => r.Offset));
    }
}
