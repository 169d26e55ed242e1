using System.Text;
using Confluent.Kafka;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Producing;

using CompressionType = Kiel.CompressionType;
using Headers = Kiel.Headers;
using TimestampType = Confluent.Kafka.TimestampType;

/// <summary>Records produced by Kiel, read back by Confluent.Kafka 2.16 and kcat.</summary>
public sealed class ProducerInteropTests(KafkaClusterFixture fixture) : IClassFixture<KafkaClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    // 100,000 records per codec, as the issue asks: about 60 bytes a record over 8 partitions stays far below the mock's ~5 MiB per partition.
    [Theory]
    [InlineData(CompressionType.None, 100_000)]
    [InlineData(CompressionType.Gzip, 100_000)]
    [InlineData(CompressionType.Snappy, 100_000)]
    [InlineData(CompressionType.Lz4, 100_000)]
    [InlineData(CompressionType.Zstd, 100_000)]
    public async Task Keyed_records_with_headers_read_back_identically_by_Confluent(CompressionType codec, int count)
    {
        var topic = ProducerTestKit.Topic("interop");
        Cluster.CreateTopic(topic, 8);
        var baseTs = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000);
        var options = ProducerTestKit.Options(fixture.BootstrapServers) with { Compression = codec };
        var failed = 0;
        await using (var producer = new KielProducer<string, string>(options))
        {
            for (var i = 0; i < count; i++)
            {
                var headers = new Headers { { "idx", i.ToString() }, { "codec", codec.ToString() } };
                producer.Produce(topic, $"key-{i % 5000}", $"value-{i}", headers, timestamp: baseTs.AddMilliseconds(i),
                    onDelivery: (in DeliveryReport r) => { if (!r.IsDelivered) Interlocked.Increment(ref failed); });
            }
            await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(120));
        }
        Assert.Equal(0, failed);

        var read = ProducerTestKit.ReadAll(fixture.BootstrapServers, topic, 8, count, TimeSpan.FromSeconds(120));
        Assert.Equal(count, read.Count);
        var seen = new bool[count];
        foreach (var r in read)
        {
            var key = Encoding.UTF8.GetString(r.Message.Key!);
            var value = Encoding.UTF8.GetString(r.Message.Value!);
            var i = int.Parse(value["value-".Length..]);
            Assert.False(seen[i], $"record {i} read twice");
            seen[i] = true;
            Assert.Equal($"key-{i % 5000}", key);
            Assert.Equal(Murmur2.Partition(r.Message.Key, 8), r.Partition.Value);
            Assert.Equal(baseTs.AddMilliseconds(i).ToUnixTimeMilliseconds(), r.Message.Timestamp.UnixTimestampMs);
            Assert.Equal(Confluent.Kafka.TimestampType.CreateTime, r.Message.Timestamp.Type);
            Assert.Equal(2, r.Message.Headers.Count);
            Assert.Equal("idx", r.Message.Headers[0].Key);
            Assert.Equal(i.ToString(), Encoding.UTF8.GetString(r.Message.Headers[0].GetValueBytes()));
            Assert.Equal(codec.ToString(), Encoding.UTF8.GetString(r.Message.Headers[1].GetValueBytes()));
        }
        // Per partition, offsets follow produce order.
        foreach (var g in read.GroupBy(r => r.Partition.Value))
        {
            var indexes = g.OrderBy(r => r.Offset.Value).Select(r => int.Parse(Encoding.UTF8.GetString(r.Message.Value!)["value-".Length..])).ToArray();
            Assert.Equal(indexes.Order(), indexes);
        }
    }

    // Batches from KafkaWriter.SegmentThreshold (32 KiB) on go to the socket from the producer's own buffer, not copied
    // into the request frame: 300 values of 10 KiB in batches of up to 1 MB, read back by Confluent with CRC checks.
    [Fact]
    public async Task Large_batches_written_in_place_read_back_intact_with_their_CRCs_checked_by_Confluent()
    {
        var topic = ProducerTestKit.Topic("in-place");
        Cluster.CreateTopic(topic, 3);
        const int count = 300;
        static byte[] Value(int i)
        {
            var v = new byte[10 * 1024];
            new Random(i).NextBytes(v);
            return v;
        }
        var failed = 0;
        var options = ProducerTestKit.Options(fixture.BootstrapServers) with { Linger = TimeSpan.FromMilliseconds(50), BatchSize = 1_000_000 };
        await using (var producer = new KielProducer<byte[], byte[]>(options))
        {
            for (var i = 0; i < count; i++)
                producer.Produce(topic, BitConverter.GetBytes(i), Value(i), partition: i % 3,
                    onDelivery: (in DeliveryReport r) => { if (!r.IsDelivered) Interlocked.Increment(ref failed); });
            await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        Assert.Equal(0, failed);

        var read = ProducerTestKit.ReadAll(fixture.BootstrapServers, topic, 3, count, TimeSpan.FromSeconds(60));
        Assert.Equal(count, read.Count);
        foreach (var r in read)
        {
            var i = BitConverter.ToInt32(r.Message.Key!);
            Assert.Equal(i % 3, r.Partition.Value);
            Assert.Equal(Value(i), r.Message.Value);
        }
        Assert.Equal(count, read.Select(r => BitConverter.ToInt32(r.Message.Key!)).Distinct().Count());
    }

    [Fact]
    public async Task Keyed_partitions_match_librdkafkas_murmur2_and_consistent_random()
    {
        var topic = ProducerTestKit.Topic("parts");
        Cluster.CreateTopic(topic, 7);
        var keys = Enumerable.Range(0, 300).Select(i => $"user-{i}").ToArray();
        using var confluent = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = fixture.BootstrapServers,
            Partitioner = Partitioner.Murmur2Random,
        }).Build();
        using var confluentCrc = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = fixture.BootstrapServers,
            Partitioner = Partitioner.ConsistentRandom,
        }).Build();
        await using var kiel = new KielProducer<string, string>(ProducerTestKit.Options(fixture.BootstrapServers));
        await using var kielCrc = new KielProducer<string, string>(ProducerTestKit.Options(fixture.BootstrapServers) with { Partitioner = Partitioners.ConsistentRandom });
        foreach (var key in keys)
        {
            var c = await confluent.ProduceAsync(topic, new Message<string, string> { Key = key, Value = "c" });
            var k = await kiel.ProduceAsync(topic, key, "k");
            Assert.Equal(c.Partition.Value, k.Partition);
            var c2 = await confluentCrc.ProduceAsync(topic, new Message<string, string> { Key = key, Value = "c" });
            var k2 = await kielCrc.ProduceAsync(topic, key, "k");
            Assert.Equal(c2.Partition.Value, k2.Partition);
        }
    }

    [ToolFact("kcat", "kcat")]
    public async Task Kcat_reads_what_Kiel_produced()
    {
        var topic = ProducerTestKit.Topic("kcat");
        Cluster.CreateTopic(topic, 4);
        await using (var producer = new KielProducer<string, string>(ProducerTestKit.Options(fixture.BootstrapServers) with { Compression = CompressionType.Lz4 }))
        {
            for (var i = 0; i < 1000; i++)
                producer.Produce(topic, $"k{i}", $"v{i}", new Headers { { "n", i.ToString() } });
            await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        var kcat = ExternalTools.Require("kcat", "kcat");
        var result = await ProcessRunner.RunAsync(kcat,
            ["-C", "-b", fixture.BootstrapServers, "-t", topic, "-e", "-u", "-q", "-f", "%p|%k|%s|%h\\n"], TimeSpan.FromSeconds(60));
        Assert.Equal(0, result.ExitCode);
        var lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1000, lines.Length);
        foreach (var line in lines)
        {
            var f = line.Split('|');
            var i = int.Parse(f[1][1..]);
            Assert.Equal($"v{i}", f[2]);
            Assert.Equal($"n={i}", f[3]);
            Assert.Equal(Murmur2.Partition(Encoding.UTF8.GetBytes(f[1]), 4), int.Parse(f[0]));
        }
    }

    [Fact]
    public async Task Magic_1_message_sets_are_written_when_Produce_is_capped_at_v2()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        cluster.SetApiVersion(0, 0, 2); // Produce v0-v2: message format 1, no headers
        var topic = ProducerTestKit.Topic("magic1");
        cluster.CreateTopic(topic, 2);
        var baseTs = DateTimeOffset.FromUnixTimeMilliseconds(1_600_000_000_000);
        await using (var producer = new KielProducer<string, string>(ProducerTestKit.Options(cluster.BootstrapServers)))
        {
            var tasks = Enumerable.Range(0, 500).Select(i => producer.ProduceAsync(topic, $"k{i}", i % 50 == 0 ? null : $"v{i}", timestamp: baseTs.AddSeconds(i)).AsTask());
            var reports = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.All(reports, r => Assert.True(r.Offset >= 0));
        }
        var read = ProducerTestKit.ReadAll(cluster.BootstrapServers, topic, 2, 500, TimeSpan.FromSeconds(60));
        Assert.Equal(500, read.Count);
        foreach (var r in read)
        {
            var i = int.Parse(Encoding.UTF8.GetString(r.Message.Key!)[1..]);
            if (i % 50 == 0) Assert.Null(r.Message.Value);
            else Assert.Equal($"v{i}", Encoding.UTF8.GetString(r.Message.Value!));
            Assert.Equal(baseTs.AddSeconds(i).ToUnixTimeMilliseconds(), r.Message.Timestamp.UnixTimestampMs);
        }
    }
}
