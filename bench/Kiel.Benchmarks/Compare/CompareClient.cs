using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Kiel.BenchBroker;
using Kiel.Consuming;
using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.Benchmarks.Compare;

/// <summary>The settings of one client run, passed to the child process as <c>key=value</c> arguments.</summary>
internal sealed record ClientRun(
    string Client, string Mode, string Bootstrap, string Topic, int Size, int Partitions, CompressionType Compression,
    int LingerMs, double WindowSeconds, int Cold, bool ExplicitPartitions)
{
    /// <summary>Distinct payloads a producer cycles through (record i carries value i mod this).</summary>
    public const int Distinct = 16;

    /// <summary>Batch size both producers use (bytes), Confluent's default.</summary>
    public const int BatchBytes = 1_000_000;

    /// <summary>In-flight requests per broker connection, both clients (the most idempotence allows).</summary>
    public const int InFlight = 5;

    /// <summary>Bytes both clients may hold in produce buffers / fetched but unconsumed (64 MiB).</summary>
    public const int BufferBytes = 64 * 1024 * 1024;

    public IEnumerable<string> ToArgs() =>
    [
        $"client={Client}", $"mode={Mode}", $"bootstrap={Bootstrap}", $"topic={Topic}", $"size={Size}", $"partitions={Partitions}",
        $"compression={Compression}", $"linger={LingerMs}", $"window={WindowSeconds.ToString(CultureInfo.InvariantCulture)}",
        $"cold={Cold}", $"explicit={ExplicitPartitions}",
    ];

    public static ClientRun Parse(string[] args)
    {
        var d = args.Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        return new ClientRun(d["client"], d["mode"], d["bootstrap"], d["topic"], int.Parse(d["size"], CultureInfo.InvariantCulture),
            int.Parse(d["partitions"], CultureInfo.InvariantCulture), Enum.Parse<CompressionType>(d["compression"]),
            int.Parse(d["linger"], CultureInfo.InvariantCulture), double.Parse(d["window"], CultureInfo.InvariantCulture),
            int.Parse(d["cold"], CultureInfo.InvariantCulture), bool.Parse(d["explicit"]));
    }
}

/// <summary>
/// One client's run in a process of its own (<c>compare-client key=value…</c>): a cold phase (the first <c>cold</c>
/// records of the new process, client construction included), then a timed window; prints one <c>RESULT</c> line.
/// </summary>
internal static partial class CompareClient
{
    private static long s_alloc0;

    [BenchRunner("compare-client")]
    public static async Task<int> Run(string[] args)
    {
        var run = ClientRun.Parse(args);
        var result = new Dictionary<string, string>();
        s_alloc0 = GC.GetTotalAllocatedBytes(precise: true);
        if (run.Client == "confluent") RdKafkaNative.PinAssembly(typeof(Library).Assembly);
        switch (run.Client, run.Mode)
        {
            case ("kiel", "produce"): await KielProduce(run, result); break;
            case ("confluent", "produce"): ConfluentProduce(run, result); break;
            case ("kiel", "awaited"): await KielAwaited(run, result); break;
            case ("confluent", "awaited"): await ConfluentAwaited(run, result); break;
            case ("floor", "awaited"): FloorAwaited(run, result); break;
            case ("floor", "produce"): FloorProduce(run, result); break;
            case ("kiel", "stream"): await KielStream(run, result); break;
            case ("kiel", "raw"): await KielRaw(run, result); break;
            case ("floor", "stream"): await KielRaw(run, result, copyValues: true); break;
            case ("confluent", "consume"): ConfluentConsume(run, result); break;
            case ("kiel", "idle"): await KielIdle(run, result); break;
            case ("probe", "gc"): await ProbeGc(run); break;
            case ("confluent", "idle"): ConfluentIdle(run, result); break;
            default: throw new ArgumentException($"unknown client/mode {run.Client}/{run.Mode}");
        }
        result["peak_rss_kib"] = ProcessUsage.Now().PeakRssKiB.ToString(CultureInfo.InvariantCulture);
        Console.WriteLine("RESULT " + string.Join(' ', result.Select(kv => $"{kv.Key}={kv.Value}")));
        return 0;
    }

    /// <summary>
    /// Prints the payload checksum the bench broker should report for <c>count</c> records of <c>size</c> bytes from a
    /// compare client (<c>produce-checksum size=N count=M</c>); bench/awaited-series.sh checks every run against it.
    /// </summary>
    [BenchRunner("produce-checksum")]
    public static Task<int> ExpectedProduceChecksum(string[] args)
    {
        var d = args.Select(a => a.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");
        if (!d.TryGetValue("size", out var size) || !d.TryGetValue("count", out var count))
        {
            Console.Error.WriteLine("usage: produce-checksum size=N count=M");
            return Task.FromResult(2);
        }
        Console.WriteLine(Payloads.ProduceChecksum(int.Parse(size, CultureInfo.InvariantCulture), ClientRun.Distinct,
            long.Parse(count, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture));
        return Task.FromResult(0);
    }

    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Measures a timed window: CPU and managed allocation from its start to its end.</summary>
    private sealed class Window
    {
        private readonly ProcessUsage.Reading _usage0;
        private readonly long _alloc0;
        private readonly long _start;
        // KIEL_BENCH_ALLOC_TICKS=1: which types the window allocates (sampled; the listener adds allocations of its own).
        private readonly Producing.AllocationTicks? _ticks;
        private readonly (long Misses, long MissBytes, long Dropped) _pool0;
        private readonly long _underAQuarter0;

        private readonly int[] _gc0;
        // KIEL_BENCH_GC_PHASES=1: suspension and collection time per GC, on stderr.
        private readonly GcPhases? _phases;
        private readonly TimeSpan _pause0;

        public Window()
        {
            if (Environment.GetEnvironmentVariable("KIEL_BENCH_ALLOC_TICKS") == "1") _ticks = new Producing.AllocationTicks();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            _usage0 = ProcessUsage.Now();
            _pool0 = Kiel.Producing.Internal.BatchBufferPool.Stats;
            _underAQuarter0 = Kiel.Producing.Internal.BatchBufferPool.MissesUnderAQuarter;
            if (_ticks is not null) Console.Error.WriteLine($"# batch buffer pool at the window's start: {PoolContents()}");
            _alloc0 = GC.GetTotalAllocatedBytes(precise: true);
            _gc0 = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
            _pause0 = GC.GetTotalPauseDuration();
            if (Environment.GetEnvironmentVariable("KIEL_BENCH_GC_PHASES") == "1") _phases = new GcPhases();
            _start = Stopwatch.GetTimestamp();
        }

        private static string PoolContents() =>
            $"{Kiel.Producing.Internal.BatchBufferPool.PooledBytes:N0} B pooled: " +
            string.Join(", ", Enumerable.Range(8, 20).Select(k => (Size: 1 << k, Count: Kiel.Producing.Internal.BatchBufferPool.PooledCount(1 << k))).Where(c => c.Count > 0).Select(c => $"{c.Count} x {c.Size}"));

        public double Elapsed => Stopwatch.GetElapsedTime(_start).TotalSeconds;

        public void End(long records, Dictionary<string, string> result)
        {
            var elapsed = Elapsed;
            var usage = ProcessUsage.Now();
            var cpu = usage.CpuUs - _usage0.CpuUs;
            var alloc = GC.GetTotalAllocatedBytes(precise: true) - _alloc0;
            result["records"] = records.ToString(CultureInfo.InvariantCulture);
            result["seconds"] = F(elapsed);
            result["msg_per_s"] = F(records / elapsed);
            result["cpu_us_per_msg"] = F(cpu / records);
            result["cpu_cores"] = F(cpu / 1e6 / elapsed);
            result["sys_us_per_msg"] = F((usage.SystemUs - _usage0.SystemUs) / records);
            result["minflt_per_kmsg"] = F((usage.MinorFaults - _usage0.MinorFaults) * 1000.0 / records);
            // Timed after the window's figures are taken, so that it costs the window nothing.
            result["syscall_ns"] = F(ProcessUsage.SystemCallNanoseconds());
            result["vcsw_per_kmsg"] = F((usage.VoluntarySwitches - _usage0.VoluntarySwitches) * 1000.0 / records);
            result["ivcsw_per_kmsg"] = F((usage.InvoluntarySwitches - _usage0.InvoluntarySwitches) * 1000.0 / records);
            result["alloc_per_msg"] = F((double)alloc / records);
            // Collections of each generation a second in the window (a gen1 collection counts as a gen0 one too), and the
            // share of the window the runtime had the process's threads paused for them.
            for (var g = 0; g < 3; g++) result[$"gc{g}_per_s"] = F((GC.CollectionCount(g) - _gc0[g]) / elapsed);
            result["gc_pause_pct"] = F((GC.GetTotalPauseDuration() - _pause0).TotalSeconds / elapsed * 100);
            if (_phases is not null)
            {
                Console.Error.WriteLine($"# GC in the window: {_phases.Describe()}");
                _phases.Dispose();
            }
            if (_ticks is not null)
            {
                _ticks.Dispose();
                _ticks.Print(Console.Error, records);
                var (misses, missBytes, dropped) = Kiel.Producing.Internal.BatchBufferPool.Stats;
                Console.Error.WriteLine($"# batch buffer pool in the window: {misses - _pool0.Misses:N0} misses ({missBytes - _pool0.MissBytes:N0} B; " +
                    $"{Kiel.Producing.Internal.BatchBufferPool.MissesUnderAQuarter - _underAQuarter0:N0} of them while the pool held under a quarter of its budget), {dropped - _pool0.Dropped:N0} dropped over budget");
                Console.Error.WriteLine($"# batch buffer pool since start: {misses:N0} misses ({missBytes:N0} B), {dropped:N0} dropped over budget, {PoolContents()}");
                // The heap at the window's end: what a full collection leaves is the live set; the rest is the GC's slack.
                var info = GC.GetGCMemoryInfo();
                Console.Error.WriteLine($"# heap at the end: {info.HeapSizeBytes / 1048576.0:N1} MiB, {info.FragmentedBytes / 1048576.0:N1} MiB of it fragmented, " +
                    $"{info.TotalCommittedBytes / 1048576.0:N1} MiB committed; live after a full collection: {GC.GetTotalMemory(forceFullCollection: true) / 1048576.0:N1} MiB");
            }
        }
    }

    /// <summary>
    /// Ends the warm-up once the JIT has compiled no method for a second (at most 20 s): tiered compilation goes on for
    /// seconds after the cold phase, and a slow scenario (one awaited record at a time) would otherwise time the JIT.
    /// </summary>
    /// <remarks>
    /// The idle scenario waits for a longer quiet (<see cref="ForIdle"/>): an idle client calls its fetch path twice a
    /// second, so its methods reach the tier-1 call count (30 calls) only some 15 s later, and a 1 s quiet would time
    /// that one-off compilation (2% of a core for ~20 s, shown by the "Tiered Compilation" thread's CPU) as idle cost.
    /// </remarks>
    private sealed class Settle(double quietSeconds = 1, double maxSeconds = 20)
    {
        /// <summary>For the idle scenario: 20 s without a compiled method (at most 75 s).</summary>
        public static Settle ForIdle() => new(20, 75);

        private readonly long _start = Stopwatch.GetTimestamp();
        private long _count = System.Runtime.JitInfo.GetCompiledMethodCount();
        private long _since = Stopwatch.GetTimestamp();

        public bool Done()
        {
            var now = Stopwatch.GetTimestamp();
            var count = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (count != _count)
            {
                _count = count;
                _since = now;
            }
            return Stopwatch.GetElapsedTime(_since, now).TotalSeconds >= quietSeconds || Stopwatch.GetElapsedTime(_start, now).TotalSeconds >= maxSeconds;
        }
    }

    private static void Cold(long records, Dictionary<string, string> result) =>
        result["cold_alloc_per_msg"] = F((double)(GC.GetTotalAllocatedBytes(precise: true) - s_alloc0) / records);

    private static KielProducerOptions KielProducerOptions(ClientRun run) => new()
    {
        BootstrapServers = run.Bootstrap,
        Acks = Kiel.Producing.Acks.All,
        EnableIdempotence = true,
        Linger = TimeSpan.FromMilliseconds(run.LingerMs),
        BatchSize = ClientRun.BatchBytes,
        MaxInFlight = ClientRun.InFlight,
        BufferMemory = ClientRun.BufferBytes,
        Compression = run.Compression,
    };

    private static ProducerConfig ConfluentProducerConfig(ClientRun run, bool reports) => new()
    {
        BootstrapServers = run.Bootstrap,
        Acks = Confluent.Kafka.Acks.All,
        EnableIdempotence = true,
        LingerMs = run.LingerMs,
        BatchSize = ClientRun.BatchBytes,
        BatchNumMessages = 1_000_000,
        MaxInFlight = ClientRun.InFlight,
        QueueBufferingMaxKbytes = ClientRun.BufferBytes / 1024,
        QueueBufferingMaxMessages = 10_000_000,
        SocketNagleDisable = true,
        CompressionType = run.Compression switch
        {
            CompressionType.Lz4 => Confluent.Kafka.CompressionType.Lz4,
            CompressionType.Zstd => Confluent.Kafka.CompressionType.Zstd,
            CompressionType.Gzip => Confluent.Kafka.CompressionType.Gzip,
            CompressionType.Snappy => Confluent.Kafka.CompressionType.Snappy,
            _ => Confluent.Kafka.CompressionType.None,
        },
        // Confluent.Kafka's own advice for throughput: no delivery reports where nothing reads them, and no report fields.
        EnableDeliveryReports = reports,
        DeliveryReportFields = reports ? "status" : "none",
    };

    private static async Task KielProduce(ClientRun run, Dictionary<string, string> result)
    {
        var values = Payloads.Values(run.Size, ClientRun.Distinct);
        await using var producer = new KielProducer<byte[], byte[]>(KielProducerOptions(run));
        long i = 0;
        void One()
        {
            if (run.ExplicitPartitions) producer.Produce(run.Topic, null, values[i % ClientRun.Distinct], partition: (int)(i % run.Partitions));
            else producer.Produce(run.Topic, null, values[i % ClientRun.Distinct]);
            i++;
        }
        while (i < run.Cold) One();
        await producer.FlushAsync();
        Cold(run.Cold, result);
        for (var settle = new Settle(); !settle.Done();)
            for (var j = 0; j < 1000; j++) One();
        await producer.FlushAsync();
        var start = i;
        var window = new Window();
        while (window.Elapsed < run.WindowSeconds)
            for (var j = 0; j < 1000; j++) One();
        await producer.FlushAsync();
        window.End(i - start, result);
        result["produced"] = i.ToString(CultureInfo.InvariantCulture);
        result["delivered"] = producer.DeliveredCount.ToString(CultureInfo.InvariantCulture);
        result["failed"] = producer.FailedCount.ToString(CultureInfo.InvariantCulture);
    }

    private static void ConfluentProduce(ClientRun run, Dictionary<string, string> result)
    {
        var values = Payloads.Values(run.Size, ClientRun.Distinct);
        var errors = 0L;
        using var producer = new ProducerBuilder<Null, byte[]>(ConfluentProducerConfig(run, reports: false))
            .SetErrorHandler((_, e) => { if (e.IsFatal) Interlocked.Increment(ref errors); })
            .Build();
        var messages = values.Select(v => new Message<Null, byte[]> { Value = v }).ToArray();
        var partitions = Enumerable.Range(0, run.Partitions).Select(p => new Confluent.Kafka.TopicPartition(run.Topic, p)).ToArray();
        long i = 0;
        void One()
        {
            while (true)
            {
                try
                {
                    if (run.ExplicitPartitions) producer.Produce(partitions[i % run.Partitions], messages[i % ClientRun.Distinct]);
                    else producer.Produce(run.Topic, messages[i % ClientRun.Distinct]);
                    break;
                }
                catch (ProduceException<Null, byte[]> e) when (e.Error.Code == Confluent.Kafka.ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(1));
                }
            }
            i++;
        }
        while (i < run.Cold) One();
        if (producer.Flush(TimeSpan.FromSeconds(120)) != 0) throw new InvalidOperationException("Confluent did not flush the cold phase");
        Cold(run.Cold, result);
        for (var settle = new Settle(); !settle.Done();)
            for (var j = 0; j < 1000; j++) One();
        if (producer.Flush(TimeSpan.FromSeconds(120)) != 0) throw new InvalidOperationException("Confluent did not flush the warm-up");
        var start = i;
        var window = new Window();
        while (window.Elapsed < run.WindowSeconds)
            for (var j = 0; j < 1000; j++) One();
        var left = producer.Flush(TimeSpan.FromSeconds(120));
        window.End(i - start, result);
        if (left != 0 || errors != 0) throw new InvalidOperationException($"Confluent left {left} unflushed, {errors} fatal errors");
        result["produced"] = i.ToString(CultureInfo.InvariantCulture);
    }

    private static void Latencies(long[] ticks, int n, Dictionary<string, string> result)
    {
        Array.Sort(ticks, 0, n);
        double Ms(double q) => ticks[Math.Min(n - 1, (int)(q * n))] * 1000.0 / Stopwatch.Frequency;
        result["p50_ms"] = F(Ms(0.5));
        result["p99_ms"] = F(Ms(0.99));
        result["p999_ms"] = F(Ms(0.999));
    }

    private static async Task KielAwaited(ClientRun run, Dictionary<string, string> result)
    {
        var values = Payloads.Values(run.Size, ClientRun.Distinct);
        await using var producer = new KielProducer<byte[], byte[]>(KielProducerOptions(run));
        long i = 0;
        var latencies = new long[4_000_000];
        var stages = Kiel.Producing.Internal.LatencyProbe.Enabled ? new AwaitedStages() : null;
        while (i < run.Cold) { await producer.ProduceAsync(run.Topic, null, values[i % ClientRun.Distinct]); i++; }
        Cold(run.Cold, result);
        for (var settle = new Settle(); !settle.Done(); i++) await producer.ProduceAsync(run.Topic, null, values[i % ClientRun.Distinct]);
        var n = 0;
        var window = new Window();
        while (window.Elapsed < run.WindowSeconds && n < latencies.Length)
        {
            var t0 = Stopwatch.GetTimestamp();
            await producer.ProduceAsync(run.Topic, null, values[i % ClientRun.Distinct]);
            var t1 = Stopwatch.GetTimestamp();
            if (stages is not null) stages.Add(t0, t1);
            latencies[n++] = t1 - t0;
            i++;
        }
        window.End(n, result);
        stages?.Print();
        Latencies(latencies, n, result);
        result["produced"] = i.ToString(CultureInfo.InvariantCulture);
        result["delivered"] = producer.DeliveredCount.ToString(CultureInfo.InvariantCulture);
        result["failed"] = producer.FailedCount.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// With <c>KIEL_BENCH_LATENCY_PROBE=1</c>: where each awaited Kiel record's time went, stage by stage (the
    /// producer's <see cref="Kiel.Producing.Internal.LatencyProbe"/> marks), printed to stderr as percentiles.
    /// </summary>
    private sealed class AwaitedStages
    {
        private static readonly string[] Names =
        [
            "call -> appended", "appended -> send starts (linger)", "send starts -> written", "written -> answer read",
            "answer read -> report starts", "report starts -> promise completed", "promise completed -> await resumes",
        ];
        private readonly List<long>[] _segments = [.. Names.Select(_ => new List<long>())];

        public void Add(long called, long resumed)
        {
            var marks = Kiel.Producing.Internal.LatencyProbe.Stamps;
            long[] stamps = [called, .. marks, resumed];
            for (var k = 0; k < _segments.Length; k++) _segments[k].Add(stamps[k + 1] - stamps[k]);
        }

        public void Print()
        {
            // The tail: each stage's median among the slowest 2% of records, which says where their extra time went
            // (the per-stage percentiles printed next need not come from the same records).
            var records = _segments[0].Count;
            if (records > 0)
            {
                var slowest = Enumerable.Range(0, records).OrderByDescending(r => _segments.Sum(g => g[r])).Take(Math.Max(1, records / 50)).ToArray();
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"awaited slowest {slowest.Length} of {records}, median per stage: ") +
                    string.Join(" | ", _segments.Select((g, k) => string.Create(CultureInfo.InvariantCulture,
                        $"{k} {slowest.Select(r => g[r]).Order().ElementAt(slowest.Length / 2) * 1000.0 / Stopwatch.Frequency:0.000}"))) + " ms");
            }
            for (var k = 0; k < _segments.Length; k++)
            {
                var sorted = _segments[k].Order().ToArray();
                if (sorted.Length == 0) return;
                double Ms(double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))] * 1000.0 / Stopwatch.Frequency;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"awaited stage {k} {Names[k]}: p50 {Ms(0.5):0.000} p90 {Ms(0.9):0.000} p99 {Ms(0.99):0.000} max {Ms(1):0.000} ms"));
            }
        }
    }

    private static async Task ConfluentAwaited(ClientRun run, Dictionary<string, string> result)
    {
        var values = Payloads.Values(run.Size, ClientRun.Distinct);
        using var producer = new ProducerBuilder<Null, byte[]>(ConfluentProducerConfig(run, reports: true)).Build();
        var messages = values.Select(v => new Message<Null, byte[]> { Value = v }).ToArray();
        long i = 0;
        var latencies = new long[4_000_000];
        while (i < run.Cold) { await producer.ProduceAsync(run.Topic, messages[i % ClientRun.Distinct]); i++; }
        Cold(run.Cold, result);
        for (var settle = new Settle(); !settle.Done(); i++) await producer.ProduceAsync(run.Topic, messages[i % ClientRun.Distinct]);
        var n = 0;
        var window = new Window();
        while (window.Elapsed < run.WindowSeconds && n < latencies.Length)
        {
            var t0 = Stopwatch.GetTimestamp();
            var report = await producer.ProduceAsync(run.Topic, messages[i % ClientRun.Distinct]);
            latencies[n++] = Stopwatch.GetTimestamp() - t0;
            if (report.Status != PersistenceStatus.Persisted) throw new InvalidOperationException($"Confluent: {report.Status}");
            i++;
        }
        window.End(n, result);
        Latencies(latencies, n, result);
        result["produced"] = i.ToString(CultureInfo.InvariantCulture);
        result["delivered"] = i.ToString(CultureInfo.InvariantCulture); // every awaited ProduceAsync returned Persisted
    }

    /// <summary>A producer and a consumer (assigned, caught up) that have nothing to do: CPU over the window.</summary>
    private static async Task KielIdle(ClientRun run, Dictionary<string, string> result)
    {
        var value = Payloads.Value(run.Size, 0);
        await using var producer = new KielProducer<byte[], byte[]>(KielProducerOptions(run));
        await producer.ProduceAsync(run.Topic, null, value);
        await using var consumer = new KielConsumer<byte[]?, byte[]?>(KielConsumerOptions(run), Deserializers.Bytes, Deserializers.Bytes);
        await consumer.AssignTopicAsync(run.Topic, StartPosition.Beginning);
        using (var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            await foreach (var r in consumer.ConsumeAsync(bound.Token)) break;
        for (var settle = Settle.ForIdle(); !settle.Done();) await Task.Delay(100);
        var window = new Window();
        await Task.Delay(TimeSpan.FromSeconds(run.WindowSeconds));
        window.End(1, result);
        result["produced"] = "1";
        result["delivered"] = producer.DeliveredCount.ToString(CultureInfo.InvariantCulture);
        result["failed"] = producer.FailedCount.ToString(CultureInfo.InvariantCulture);
    }

    private static void ConfluentIdle(ClientRun run, Dictionary<string, string> result)
    {
        var value = Payloads.Value(run.Size, 0);
        using var producer = new ProducerBuilder<Null, byte[]>(ConfluentProducerConfig(run, reports: true)).Build();
        producer.ProduceAsync(run.Topic, new Message<Null, byte[]> { Value = value }).GetAwaiter().GetResult();
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(new ConsumerConfig
        {
            BootstrapServers = run.Bootstrap, GroupId = "bench-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false,
        }).Build();
        consumer.Assign(Enumerable.Range(0, run.Partitions).Select(p => new TopicPartitionOffset(run.Topic, p, 0)));
        if (consumer.Consume(TimeSpan.FromSeconds(60)) is null) throw new TimeoutException("Confluent consumed nothing in 60 s");
        // An idle Confluent consumer is one whose application polls: Consume with a timeout, as an application loop would.
        for (var settle = Settle.ForIdle(); !settle.Done();) consumer.Consume(TimeSpan.FromMilliseconds(100));
        var window = new Window();
        while (window.Elapsed < run.WindowSeconds) consumer.Consume(TimeSpan.FromMilliseconds(100));
        window.End(1, result);
        result["produced"] = "1";
        result["delivered"] = "1";
    }

    /// <summary>Counts a consumed record: offsets of a partition must follow on from 0 without a gap.</summary>
    private sealed class Tally(int partitions)
    {
        public readonly long[] Counts = new long[partitions];
        public ulong Checksum;
        public long Total;

        public void Add(int partition, long offset, ReadOnlySpan<byte> value)
        {
            if (offset != Counts[partition])
                throw new InvalidOperationException($"partition {partition}: offset {offset} where {Counts[partition]} was next");
            Counts[partition]++;
            Checksum += Payloads.Hash(value);
            Total++;
        }

        public void Report(Dictionary<string, string> result)
        {
            result["consumed"] = Total.ToString(CultureInfo.InvariantCulture);
            result["counts"] = string.Join(',', Counts);
            result["checksum"] = Checksum.ToString(CultureInfo.InvariantCulture);
        }
    }

    private static KielConsumerOptions KielConsumerOptions(ClientRun run) => new()
    {
        BootstrapServers = run.Bootstrap,
        AutoOffsetReset = OffsetResetPolicy.Earliest,
        MaxPrefetchBytes = ClientRun.BufferBytes,
    };

    private static async Task KielStream(ClientRun run, Dictionary<string, string> result)
    {
        var tally = new Tally(run.Partitions);
        await using var consumer = new KielConsumer<byte[]?, byte[]?>(KielConsumerOptions(run), Deserializers.Ignore<byte[]>(), Deserializers.Bytes);
        await consumer.AssignTopicAsync(run.Topic, StartPosition.Beginning);
        Window? window = null;
        Settle? settle = null;
        long windowStart = 0;
        await foreach (var r in consumer.ConsumeAsync())
        {
            tally.Add(r.Partition, r.Offset, r.Value);
            if (window is null)
            {
                if (tally.Total == run.Cold) Cold(run.Cold, result);
                if (tally.Total >= run.Cold && (tally.Total & 255) == 0 && (settle ??= new Settle()).Done())
                {
                    window = new Window();
                    windowStart = tally.Total;
                }
            }
            else if ((tally.Total & 255) == 0 && window.Elapsed >= run.WindowSeconds) break;
        }
        window!.End(tally.Total - windowStart, result);
        tally.Report(result);
    }

    /// <remarks>
    /// With <paramref name="copyValues"/> (<c>client=floor mode=stream</c>, a measurement, not a table row), each value
    /// is first copied into an array of its own, as a records stream of <c>byte[]</c> values must: the least work any
    /// such stream over Kiel's fetch path can do.
    /// </remarks>
    private static async Task KielRaw(ClientRun run, Dictionary<string, string> result, bool copyValues = false)
    {
        var tally = new Tally(run.Partitions);
        await using var consumer = new KielConsumer<byte[]?, byte[]?>(KielConsumerOptions(run), Deserializers.Bytes, Deserializers.Bytes);
        await consumer.AssignTopicAsync(run.Topic, StartPosition.Beginning);
        Window? window = null;
        Settle? settle = null;
        long windowStart = 0, waitTicks = 0;
        while (window is null || window.Elapsed < run.WindowSeconds)
        {
            // Time the loop spends waiting for a batch that is not ready yet (the fetches are behind it).
            var take = consumer.ConsumeBatchAsync();
            var waitStart = window is not null && !take.IsCompleted ? Stopwatch.GetTimestamp() : 0;
            using var batch = await take;
            if (waitStart != 0) waitTicks += Stopwatch.GetTimestamp() - waitStart;
            var partition = batch.TopicPartition.Partition;
            if (copyValues)
                while (batch.TryReadNext(out var record)) tally.Add(partition, record.Offset, ByteArrays.CopyOf(record.Value));
            else
                while (batch.TryReadNext(out var record)) tally.Add(partition, record.Offset, record.Value);
            if (window is null && tally.Total >= run.Cold && settle is null) Cold(tally.Total, result);
            if (window is null && tally.Total >= run.Cold && (settle ??= new Settle()).Done())
            {
                window = new Window();
                windowStart = tally.Total;
            }
        }
        window.End(tally.Total - windowStart, result);
        result["take_wait_pct"] = F(100.0 * waitTicks / Stopwatch.Frequency / window.Elapsed);
        tally.Report(result);
    }

    private static void ConfluentConsume(ClientRun run, Dictionary<string, string> result)
    {
        var tally = new Tally(run.Partitions);
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(new ConsumerConfig
        {
            BootstrapServers = run.Bootstrap,
            GroupId = "bench-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false,
            EnablePartitionEof = false,
            // Confluent.Kafka's advice for throughput: marshal no result fields that are not read (topic, headers, timestamp).
            ConsumeResultFields = "none",
            FetchMaxBytes = 50 * 1024 * 1024,
            MaxPartitionFetchBytes = 1024 * 1024,
            QueuedMaxMessagesKbytes = ClientRun.BufferBytes / 1024,
            // Past a queue threshold, librdkafka postpones a partition's next fetch by this much (1,000 ms by default);
            // its documentation advises lowering it when that shows as ~1 s delays. At the default, the 1 KiB rows ran
            // at 0.41-1.06 million records/s; at 0 they ran at 1.23-1.44 million, with less CPU per record.
            FetchQueueBackoffMs = 0,
        }).Build();
        consumer.Assign(Enumerable.Range(0, run.Partitions).Select(p => new TopicPartitionOffset(run.Topic, p, 0)));
        Window? window = null;
        Settle? settle = null;
        long windowStart = 0;
        while (true)
        {
            var r = consumer.Consume(TimeSpan.FromSeconds(30)) ?? throw new TimeoutException("Confluent consumed nothing for 30 s");
            tally.Add(r.Partition.Value, r.Offset.Value, r.Message.Value);
            if (window is null)
            {
                if (tally.Total == run.Cold) Cold(run.Cold, result);
                if (tally.Total >= run.Cold && (tally.Total & 255) == 0 && (settle ??= new Settle()).Done())
                {
                    window = new Window();
                    windowStart = tally.Total;
                }
            }
            else if ((tally.Total & 255) == 0 && window.Elapsed >= run.WindowSeconds) break;
        }
        window.End(tally.Total - windowStart, result);
        tally.Report(result);
    }
}
