using System.Text;
using Confluent.Kafka;
using Kiel.BenchBroker;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Bench;

/// <summary>
/// The bench broker (bench/Kiel.BenchBroker) serves real clients correctly before Kiel is measured on it: Confluent.Kafka
/// 2.16 and kcat produce to it (it counts every record and checksums every payload byte) and consume from it (every
/// offset in order, every payload byte as the benchmark expects), plain and compressed.
/// </summary>
public sealed class BenchBrokerPeerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(Confluent.Kafka.CompressionType.None, "none")]
    [InlineData(Confluent.Kafka.CompressionType.Lz4, "lz4")]
    [InlineData(Confluent.Kafka.CompressionType.Zstd, "zstd")]
    public async Task Confluent_produces_to_the_bench_broker_and_every_record_and_byte_arrives(Confluent.Kafka.CompressionType codec, string name)
    {
        RdKafkaNative.PinAssembly(typeof(Library).Assembly);
        await using var broker = new BenchBroker.BenchBroker(0, verify: true);
        var topic = $"peer.p3.{name}";
        const int count = 5_000;
        var values = Payloads.Values(300, 16);
        var failed = 0;
        using (var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig
        {
            BootstrapServers = $"127.0.0.1:{broker.Port}", LingerMs = 5, EnableIdempotence = true, CompressionType = codec,
        }).Build())
        {
            for (var i = 0; i < count; i++)
                producer.Produce(topic, new Message<Null, byte[]> { Value = values[i % 16] }, r => { if (r.Error.IsError) Interlocked.Increment(ref failed); });
            Assert.Equal(0, producer.Flush(Bound));
        }
        Assert.Equal(0, failed);
        var stats = broker.Stats(topic);
        Assert.Equal(count, stats.Records);
        Assert.Equal(0, stats.Errors);
        Assert.Equal(Payloads.ProduceChecksum(300, 16, count), stats.Checksum);
    }

    [Theory]
    [InlineData(100, "none", 0)]
    [InlineData(1024, "lz4", 0)]
    [InlineData(10240, "zstd", 0)]
    // One pre-encoded batch (about 72 KB of 100 B records) per partition per fetch: the connection's buffers of fetched
    // records are sent again and again, with their base offsets set anew for each fetch.
    [InlineData(100, "none", 100_000)]
    public async Task Confluent_consumes_from_the_bench_broker_every_offset_in_order_with_the_expected_bytes(int size, string codec, int maxPartitionFetchBytes)
    {
        RdKafkaNative.PinAssembly(typeof(Library).Assembly);
        await using var broker = new BenchBroker.BenchBroker(0, verify: true);
        var topic = $"peer.p2.s{size}.{codec}";
        // More than one pre-encoded batch per partition, and a part of one, so that offsets run across copies.
        var perPartition = Payloads.RecordsPerBatch(size) * (maxPartitionFetchBytes > 0 ? 6 : 2) + 3;
        var config = new ConsumerConfig
        {
            BootstrapServers = $"127.0.0.1:{broker.Port}", GroupId = "bench-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false, ConsumeResultFields = "none",
        };
        if (maxPartitionFetchBytes > 0) config.MaxPartitionFetchBytes = maxPartitionFetchBytes;
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).Build();
        consumer.Assign([new TopicPartitionOffset(topic, 0, 0), new TopicPartitionOffset(topic, 1, 0)]);
        var next = new long[2];
        var checksum = 0UL;
        var deadline = DateTime.UtcNow + Bound;
        while (next.Any(n => n < perPartition))
        {
            Assert.True(DateTime.UtcNow < deadline, $"consumed {string.Join(",", next)} of {perPartition} per partition in {Bound}");
            var r = consumer.Consume(TimeSpan.FromSeconds(1));
            if (r is null || next[r.Partition.Value] >= perPartition) continue;
            Assert.Equal(next[r.Partition.Value], r.Offset.Value);
            Assert.Equal(size, r.Message.Value.Length);
            next[r.Partition.Value]++;
            checksum += Payloads.Hash(r.Message.Value);
        }
        Assert.Equal(Payloads.FetchChecksum(size, perPartition) * 2, checksum);
    }

    [ToolFact("kcat", "kcat")]
    public async Task Kcat_produces_to_and_consumes_from_the_bench_broker()
    {
        var kcat = ExternalTools.Require("kcat", "kcat");
        await using var broker = new BenchBroker.BenchBroker(0, verify: true);
        var bootstrap = $"127.0.0.1:{broker.Port}";

        // Produce: one line per record, lz4, to three partitions.
        var values = Payloads.Values(200, 16);
        var input = Path.Combine(Path.GetTempPath(), "kiel-bench-kcat-" + Guid.NewGuid().ToString("N") + ".txt");
        try
        {
            const int count = 2_000;
            await File.WriteAllTextAsync(input, string.Join('\n', Enumerable.Range(0, count).Select(i => Encoding.ASCII.GetString(values[i % 16]))) + "\n");
            var produced = await ProcessRunner.RunAsync(kcat, ["-P", "-b", bootstrap, "-t", "kcat.p3", "-z", "lz4", "-l", input], Bound);
            Assert.True(produced.ExitCode == 0, $"kcat -P exited {produced.ExitCode}: {produced.StdErr}");
            var stats = broker.Stats("kcat.p3");
            Assert.Equal(count, stats.Records);
            Assert.Equal(0, stats.Errors);
            Assert.Equal(Payloads.ProduceChecksum(200, 16, count), stats.Checksum);
        }
        finally
        {
            File.Delete(input);
        }

        // Consume: zstd batches, one partition, every offset and value as expected.
        var perBatch = Payloads.RecordsPerBatch(1024);
        var want = perBatch * 3 + 1;
        var consumed = await ProcessRunner.RunAsync(kcat,
            ["-C", "-b", bootstrap, "-t", "kcatc.p1.s1024.zstd", "-p", "0", "-o", "beginning", "-c", want.ToString(System.Globalization.CultureInfo.InvariantCulture), "-e", "-q", "-f", "%o %s\n"], Bound);
        Assert.True(consumed.ExitCode == 0, $"kcat -C exited {consumed.ExitCode}: {consumed.StdErr}");
        var lines = consumed.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(want, lines.Length);
        var checksum = 0UL;
        for (var i = 0; i < lines.Length; i++)
        {
            var parts = lines[i].Split(' ', 2);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), parts[0]);
            Assert.Equal(1024, parts[1].Length);
            checksum += Payloads.Hash(Encoding.ASCII.GetBytes(parts[1]));
        }
        Assert.Equal(Payloads.FetchChecksum(1024, want), checksum);
    }
    [Fact]
    public async Task The_bench_broker_refuses_a_record_set_whose_bytes_do_not_match_a_batch_crc_and_counts_only_good_ones()
    {
        await using var broker = new BenchBroker.BenchBroker(0, verify: true);
        const string topic = "crc.p1";
        byte[] Batch(params byte[][] values)
        {
            using var builder = new Kiel.Protocol.Records.RecordBatchBuilder(Kiel.CompressionType.None, maxBatchBytes: int.MaxValue);
            foreach (var v in values) builder.Append(1_764_633_600_000, default, v, keyIsNull: true);
            return builder.Seal().ToArray();
        }
        var (v0, v1, v2) = (Payloads.Value(10240, 0), Payloads.Value(10240, 1), Payloads.Value(10240, 2));
        var good = Batch(v0, v1);
        var flipped = Batch(v2);
        flipped[^100] ^= 1; // a byte of the value: the batch's CRC no longer matches
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, broker.Port);
        var stream = client.GetStream();
        var correlation = 0;
        async Task<short> ProduceAsync(byte[] records)
        {
            const short version = 7;
            var request = new Kiel.Protocol.Messages.ProduceRequest
            {
                Acks = 1, TimeoutMs = 5000,
                TopicData = [new() { Name = topic, PartitionData = [new() { Index = 0, Records = records }] }],
            };
            var id = ++correlation;
            var frame = Capture.HookFrames.Frame((ref Kiel.Protocol.KafkaWriter w) =>
            {
                Kiel.Protocol.KafkaHeaders.WriteRequestHeader(ref w, Kiel.Protocol.ApiKey.Produce, version, id, "crc-test");
                request.Write(ref w, version);
            });
            var size = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(size, frame.Length);
            using var timeout = new CancellationTokenSource(Bound);
            await stream.WriteAsync(size, timeout.Token);
            await stream.WriteAsync(frame, timeout.Token);
            await stream.ReadExactlyAsync(size, timeout.Token);
            var answer = new byte[System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(size)];
            await stream.ReadExactlyAsync(answer, timeout.Token);
            var reader = new Kiel.Protocol.KafkaReader(answer.AsMemory());
            Assert.Equal(id, Kiel.Protocol.KafkaHeaders.ReadResponseHeader(ref reader, Kiel.Protocol.ApiKey.Produce, version));
            return Kiel.Protocol.Messages.ProduceResponse.Read(ref reader, version).Responses.Single().PartitionResponses.Single().ErrorCode;
        }

        Assert.Equal(0, await ProduceAsync(good));
        Assert.Equal(2, await ProduceAsync(flipped)); // CORRUPT_MESSAGE
        Assert.Equal(2, await ProduceAsync([.. good, .. flipped])); // a good batch does not carry a bad one after it
        var stats = broker.Stats(topic);
        Assert.Equal(2, stats.Records);
        Assert.Equal(2, stats.Errors);
        Assert.Equal(Payloads.Hash(v0) + Payloads.Hash(v1), stats.Checksum);
    }
}
