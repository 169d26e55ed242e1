using System.Diagnostics;
using Confluent.Kafka;
using Kiel.Consuming;
using Kiel.Testing;

namespace Kiel.Benchmarks.Consuming;

/// <summary>
/// Kiel's consumer against Confluent.Kafka 2.16 in one process, on one embedded 3-broker cluster, 6 partitions,
/// 100 B and 1 KiB values, fetch wait 10 ms on both. The mock keeps only about 5 MiB per partition, so each client
/// re-reads the partitions from offset 0 until it has consumed the target count (test-peers.md, Addendum 2).
/// Kiel runs twice: the raw batch path (records read in place) and the typed stream (a byte[] value per record).
/// <c>dotnet run -c Release --project bench/Kiel.Benchmarks -- consume [--messages N] [--reps R] [--quick]</c>
/// </summary>
public static class ConsumeRunner
{
    private const int Partitions = 6;


    [BenchRunner("consume")]
    public static async Task<int> Run(string[] args)
    {
        RdKafkaNative.PinAssembly(typeof(Library).Assembly);
        var messages = RunnerArgs.Int(args, "--messages", 1_000_000);
        var reps = RunnerArgs.Int(args, "--reps", 3);
        var sizes = args.Contains("--quick") ? new[] { 100 } : new[] { 100, 1024 };
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });

        Console.WriteLine($"# consume: {messages:N0} messages per run, {reps} interleaved repetitions, 3 brokers, {Partitions} partitions, fetch wait 10 ms, {Environment.ProcessorCount} cores");
        Console.WriteLine("# CPU is the whole process (the in-process mock broker included); allocations are managed bytes (librdkafka's native heap is not counted)");
        Console.WriteLine("| value | Kiel raw msg/s | Kiel stream msg/s | Confluent msg/s | raw/Confluent | stream/Confluent | CPU µs/msg raw / stream / Confluent | B/msg raw / stream / Confluent |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var size in sizes)
        {
            var topic = "consume-" + size;
            cluster.CreateTopic(topic, Partitions, 1);
            // Stay under the mock's ~5 MiB per partition so that offset 0 remains the log start.
            var perPartition = Math.Min(20_000, 3 * 1024 * 1024 / (size + 80));
            var ends = await FillAsync(cluster.BootstrapServers, topic, size, perPartition);
            // Untimed warm-up so JIT tiering does not land on the first measurement.
            await KielRaw(cluster.BootstrapServers, topic, ends, Math.Min(messages, 100_000));
            await KielStream(cluster.BootstrapServers, topic, ends, Math.Min(messages, 100_000));
            await ConfluentRun(cluster.BootstrapServers, topic, ends, Math.Min(messages, 100_000));
            List<Sample> raw = [], stream = [], confluent = [];
            for (var r = 0; r < reps; r++)
            {
                raw.Add(await KielRaw(cluster.BootstrapServers, topic, ends, messages));
                stream.Add(await KielStream(cluster.BootstrapServers, topic, ends, messages));
                confluent.Add(await ConfluentRun(cluster.BootstrapServers, topic, ends, messages));
            }
            var (k, s, c) = (Sample.Median(raw), Sample.Median(stream), Sample.Median(confluent));
            Console.WriteLine($"| {size} B | {k.MsgPerSec:N0} | {s.MsgPerSec:N0} | {c.MsgPerSec:N0} | {k.MsgPerSec / c.MsgPerSec:F2} | {s.MsgPerSec / c.MsgPerSec:F2} | " +
                              $"{k.CpuUsPerMsg:F2} / {s.CpuUsPerMsg:F2} / {c.CpuUsPerMsg:F2} | {k.BytesPerMsg:F2} / {s.BytesPerMsg:F1} / {c.BytesPerMsg:F1} |");
        }
        return 0;
    }

    private static async Task<long[]> FillAsync(string bootstrap, string topic, int size, int perPartition)
    {
        var value = new byte[size];
        Random.Shared.NextBytes(value);
        using var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrap,
            LingerMs = 5,
            Acks = Confluent.Kafka.Acks.Leader,
            BatchSize = 256 * 1024,
        }).Build();
        for (var i = 0; i < perPartition * Partitions; i++)
        {
            while (true)
            {
                try
                {
                    producer.Produce(new Confluent.Kafka.TopicPartition(topic, i % Partitions), new Message<Null, byte[]> { Value = value });
                    break;
                }
                catch (ProduceException<Null, byte[]> e) when (e.Error.Code == Confluent.Kafka.ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(5));
                }
            }
        }
        producer.Flush(TimeSpan.FromSeconds(60));
        await Task.Yield();
        return [.. Enumerable.Repeat((long)perPartition, Partitions)];
    }

    private static KielConsumerOptions Options(string bootstrap) => new()
    {
        BootstrapServers = bootstrap,
        FetchMaxWait = TimeSpan.FromMilliseconds(10),
        AutoOffsetReset = OffsetResetPolicy.Earliest,
    };

    private static async Task<Sample> KielRaw(string bootstrap, string topic, long[] ends, int count)
    {
        await using var consumer = new KielConsumer<byte[]?, byte[]?>(Options(bootstrap), Deserializers.Bytes, Deserializers.Bytes);
        foreach (var tp in await consumer.AssignTopicAsync(topic, StartPosition.Beginning)) { }
        return await Sample.Measure(count, async () =>
        {
            long seen = 0, bytes = 0;
            while (seen < count)
            {
                using var batch = await consumer.ConsumeBatchAsync();
                var last = -1L;
                while (batch.TryReadNext(out var record))
                {
                    bytes += record.Value.Length;
                    last = record.Offset;
                    seen++;
                }
                if (last + 1 >= ends[batch.TopicPartition.Partition]) consumer.Seek(batch.TopicPartition, 0);
            }
            GC.KeepAlive(bytes);
        });
    }

    private static async Task<Sample> KielStream(string bootstrap, string topic, long[] ends, int count)
    {
        await using var consumer = new KielConsumer<byte[]?, byte[]?>(Options(bootstrap), Deserializers.Ignore<byte[]>(), Deserializers.Bytes);
        await consumer.AssignTopicAsync(topic, StartPosition.Beginning);
        return await Sample.Measure(count, async () =>
        {
            long seen = 0, bytes = 0;
            await foreach (var r in consumer.ConsumeAsync())
            {
                bytes += r.Value!.Length;
                if (r.Offset + 1 >= ends[r.Partition]) consumer.Seek(r.TopicPartition, 0);
                if (++seen >= count) break;
            }
            GC.KeepAlive(bytes);
        });
    }

    private static Task<Sample> ConfluentRun(string bootstrap, string topic, long[] ends, int count)
    {
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "bench-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            FetchWaitMaxMs = 10,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(topic, p, 0)));
        // Warm up: connections and the first fetch.
        var first = consumer.Consume(TimeSpan.FromSeconds(10));
        if (first is not null) consumer.Seek(new TopicPartitionOffset(first.TopicPartition, 0));
        return Sample.Measure(count, () =>
        {
            long seen = 0, bytes = 0;
            while (seen < count)
            {
                var r = consumer.Consume(TimeSpan.FromSeconds(1));
                if (r?.Message is null) continue;
                bytes += r.Message.Value.Length;
                if (r.Offset.Value + 1 >= ends[r.Partition.Value]) consumer.Seek(new TopicPartitionOffset(r.TopicPartition, 0));
                seen++;
            }
            GC.KeepAlive(bytes);
            return Task.CompletedTask;
        });
    }
}
