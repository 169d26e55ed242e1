using System.Diagnostics;
using Confluent.Kafka;
using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.Benchmarks.Producing;

using Acks = Confluent.Kafka.Acks;

/// <summary>
/// Kiel's producer against Confluent.Kafka 2.16 in one process, on one embedded 3-broker cluster:
/// fire-and-forget and awaited, 100 B and 1 KiB values, acks=1 and acks=all.
/// <c>dotnet run -c Release --project bench/Kiel.Benchmarks -- produce [--messages N] [--reps R] [--quick]</c>
/// </summary>
public static class ProduceRunner
{
    private sealed record Scenario(string Mode, int ValueSize, Acks Acks);

    [BenchRunner("produce")]
    public static async Task<int> Run(string[] args)
    {
        RdKafkaNative.PinAssembly(typeof(Library).Assembly);
        var messages = RunnerArgs.Int(args, "--messages", 200_000);
        var reps = RunnerArgs.Int(args, "--reps", 3);
        var quick = args.Contains("--quick");
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        var scenarios = new List<Scenario>();
        foreach (var mode in new[] { "fire-and-forget", "awaited" })
            foreach (var size in new[] { 100, 1024 })
                foreach (var acks in new[] { Acks.Leader, Acks.All })
                    scenarios.Add(new Scenario(mode, size, acks));
        if (quick) scenarios = scenarios.Where(s => s.ValueSize == 100).ToList();
        if (args.Contains("--engine-only"))
        {
            // The engine alone (batches acknowledged at once, no sockets): its own CPU and allocation per message.
            foreach (var size in new[] { 100, 1024 })
            {
                var options = new KielProducerOptions { BootstrapServers = "null:9092" };
                var value = new byte[size];
                await using var producer = new KielProducer<byte[], byte[]>(options, null, null, _ => new NullTransport());
                for (var i = 0; i < 50_000; i++) producer.Produce("t", null, value);
                await producer.FlushAsync();
                using var ticks = new AllocationTicks();
                var sample = await Sample.Measure(messages, async () =>
                {
                    for (var i = 0; i < messages; i++) producer.Produce("t", null, value);
                    await producer.FlushAsync();
                });
                Console.WriteLine($"# engine only, {size} B fire-and-forget: {sample.MsgPerSec:N0} msg/s, {sample.CpuUsPerMsg:F2} CPU µs/msg, {sample.BytesPerMsg:F1} B/msg");
                ticks.Print();
                Console.WriteLine($"#   batch pool (misses, bytes, dropped): {Kiel.Producing.Internal.BatchBufferPool.Stats}");
            }
            return 0;
        }
        if (args.Contains("--alloc-trace"))
        {
            // Which types allocate in Kiel's fire-and-forget 1 KiB run (diagnostic, not a measurement).
            var s1 = new Scenario("fire-and-forget", 1024, Acks.Leader);
            await RunKiel(cluster, s1, 20_000);
            using var ticks = new AllocationTicks();
            var sample = await RunKiel(cluster, s1, messages / 4);
            Console.WriteLine($"# Kiel {s1}: {sample.BytesPerMsg:F1} B/msg");
            ticks.Print();
            return 0;
        }

        Console.WriteLine($"# produce: {messages:N0} messages per run, {reps} interleaved repetitions, 3 brokers, 6 partitions, linger 5 ms, {Environment.ProcessorCount} cores");
        Console.WriteLine("# CPU is the whole process (the in-process mock broker included); allocations are managed bytes (librdkafka's native heap is not counted)");
        Console.WriteLine("| scenario | Kiel msg/s | Confluent msg/s | ratio | Kiel CPU µs/msg | Confluent CPU µs/msg | Kiel B/msg | Confluent B/msg |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        // Untimed warm-up so JIT tiering does not land on the first scenario, and so that both clients' buffers have
        // filled once (Kiel pools batch buffers up to its peak use: a 1 KiB fire-and-forget run fills BufferMemory).
        foreach (var warm in scenarios.Where(s => s.Mode == "fire-and-forget" && s.Acks == Acks.Leader))
        {
            await RunKiel(cluster, warm, warm.ValueSize >= 1024 ? 100_000 : 50_000);
            await RunConfluent(cluster, warm, warm.ValueSize >= 1024 ? 100_000 : 50_000);
        }
        foreach (var s in scenarios)
        {
            var count = s.ValueSize >= 1024 ? messages / 4 : messages;
            var kiel = new List<Sample>();
            var confluent = new List<Sample>();
            for (var r = 0; r < reps; r++)
            {
                kiel.Add(await RunKiel(cluster, s, count));
                confluent.Add(await RunConfluent(cluster, s, count));
            }
            var k = Sample.Median(kiel);
            var c = Sample.Median(confluent);
            Console.WriteLine($"| {s.Mode}, {s.ValueSize} B, acks={(s.Acks == Acks.All ? "all" : "1")} | {k.MsgPerSec:N0} | {c.MsgPerSec:N0} | {k.MsgPerSec / c.MsgPerSec:F2} | " +
                              $"{k.CpuUsPerMsg:F2} | {c.CpuUsPerMsg:F2} | {k.BytesPerMsg:F1} | {c.BytesPerMsg:F1} |");
        }
        return 0;
    }

    private static string NewTopic(EmbeddedKafkaCluster cluster)
    {
        var topic = "bench-" + Guid.NewGuid().ToString("N")[..12];
        cluster.CreateTopic(topic, 6, 1);
        return topic;
    }

    private static async Task<Sample> RunKiel(EmbeddedKafkaCluster cluster, Scenario s, int count)
    {
        var topic = NewTopic(cluster);
        var options = new KielProducerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Acks = s.Acks == Acks.All ? Kiel.Producing.Acks.All : Kiel.Producing.Acks.Leader,
            EnableIdempotence = s.Acks == Acks.All,
            Linger = TimeSpan.FromMilliseconds(5),
        };
        var value = new byte[s.ValueSize];
        Random.Shared.NextBytes(value);
        await using var producer = new KielProducer<byte[], byte[]>(options);
        // Warm up: metadata, connections, producer id.
        await producer.ProduceAsync(topic, null, value);
        var sample = await Sample.Measure(count, async () =>
        {
            if (s.Mode == "fire-and-forget")
            {
                for (var i = 0; i < count; i++) producer.Produce(topic, null, value);
            }
            else
            {
                var window = new ValueTask<DeliveryReport>[1000];
                for (var i = 0; i < count; i += window.Length)
                {
                    var n = Math.Min(window.Length, count - i);
                    for (var j = 0; j < n; j++) window[j] = producer.ProduceAsync(topic, null, value);
                    for (var j = 0; j < n; j++) await window[j];
                }
            }
            await producer.FlushAsync();
        });
        if (producer.FailedCount > 0 || producer.DeliveredCount < count + 1)
            throw new InvalidOperationException($"Kiel reported {producer.FailedCount} failed and {producer.DeliveredCount} delivered of {count + 1}.");
        return sample;
    }

    private static async Task<Sample> RunConfluent(EmbeddedKafkaCluster cluster, Scenario s, int count)
    {
        var topic = NewTopic(cluster);
        var config = new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            Acks = s.Acks,
            EnableIdempotence = s.Acks == Acks.All,
            LingerMs = 5,
            QueueBufferingMaxMessages = 1_000_000,
        };
        var value = new byte[s.ValueSize];
        Random.Shared.NextBytes(value);
        using var producer = new ProducerBuilder<Null, byte[]>(config).Build();
        await producer.ProduceAsync(topic, new Message<Null, byte[]> { Value = value });
        return await Sample.Measure(count, async () =>
        {
            if (s.Mode == "fire-and-forget")
            {
                for (var i = 0; i < count; i++)
                {
                    while (true)
                    {
                        try { producer.Produce(topic, new Message<Null, byte[]> { Value = value }); break; }
                        catch (ProduceException<Null, byte[]> e) when (e.Error.Code == Confluent.Kafka.ErrorCode.Local_QueueFull) { producer.Poll(TimeSpan.FromMilliseconds(1)); }
                    }
                }
            }
            else
            {
                var window = new Task<DeliveryResult<Null, byte[]>>[1000];
                for (var i = 0; i < count; i += window.Length)
                {
                    var n = Math.Min(window.Length, count - i);
                    for (var j = 0; j < n; j++) window[j] = producer.ProduceAsync(topic, new Message<Null, byte[]> { Value = value });
                    await Task.WhenAll(window.AsSpan(0, n).ToArray());
                }
            }
            producer.Flush(TimeSpan.FromSeconds(60));
        });
    }
}
