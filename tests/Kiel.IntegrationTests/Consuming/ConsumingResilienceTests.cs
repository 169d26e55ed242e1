using Confluent.Kafka;
using Kiel.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Consuming;

/// <summary>Leader moves and a broker outage while 100,000 records are consumed: each arrives once, in order per partition.</summary>
public sealed class ConsumingResilienceTests
{
    [Fact]
    public async Task Every_record_arrives_once_in_order_while_leaders_move_and_a_broker_goes_down_and_up()
    {
        const int partitions = 3, count = 100_000;
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        var topic = "resilience";
        cluster.CreateTopic(topic, partitions);
        using (var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig(ConfluentClients.ProducerConfig(cluster.BootstrapServers))
               { LingerMs = 20, BatchSize = 64 * 1024 }).Build())
        {
            for (var i = 0; i < count; i++)
            {
                var payload = BitConverter.GetBytes(i);
                while (true)
                {
                    try
                    {
                        producer.Produce(new Confluent.Kafka.TopicPartition(topic, i % partitions), new Message<byte[], byte[]> { Value = payload });
                        break;
                    }
                    catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == Confluent.Kafka.ErrorCode.Local_QueueFull)
                    {
                        producer.Poll(TimeSpan.FromMilliseconds(10));
                    }
                }
            }
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
        }

        await using var consumer = new KielConsumer<Ignore?, byte[]?>(ConsumingHelpers.Options(cluster.BootstrapServers) with
        {
            FetchMaxWait = TimeSpan.FromMilliseconds(50),
            RequestTimeout = TimeSpan.FromSeconds(3),
            MaxPrefetchBytes = 256 * 1024, // keep the consumer close to the broker, so that the faults happen mid-stream
        }, Deserializers.Ignore<Ignore>(), Deserializers.Bytes);
        await consumer.AssignTopicAsync(topic, StartPosition.Beginning);

        var next = new long[partitions];
        var seen = 0;
        using var cts = TestTimeouts.After(120);
        await foreach (var r in consumer.ConsumeAsync(cts.Token))
        {
            Assert.Equal(next[r.Partition], r.Offset);
            Assert.Equal(r.Offset * partitions + r.Partition, BitConverter.ToInt32(r.Value));
            next[r.Partition]++;
            seen++;
            switch (seen)
            {
                case 20_000:
                    cluster.SetPartitionLeader(topic, 0, 2);
                    cluster.SetPartitionLeader(topic, 1, 3);
                    break;
                case 45_000:
                    cluster.SetBrokerDown(3);
                    break;
                case 45_001:
                    _ = Task.Delay(1500).ContinueWith(_ => cluster.SetBrokerUp(3), TaskScheduler.Default);
                    break;
                case 70_000:
                    cluster.SetPartitionLeader(topic, 2, 1);
                    break;
            }
            if (seen == count) break;
        }
        Assert.Equal(count, seen);
        for (var p = 0; p < partitions; p++) Assert.Equal((count - p + partitions - 1) / partitions, next[p]);
    }
}
