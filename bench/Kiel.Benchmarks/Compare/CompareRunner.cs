using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kiel.BenchBroker;
using Kiel.Testing;

namespace Kiel.Benchmarks.Compare;

/// <summary>
/// Kiel against Confluent.Kafka 2.16, side by side: each client run in a process of its own, the broker in another
/// (the bench broker, <c>bench/Kiel.BenchBroker</c>, and the librdkafka mock hosted by this process), runs in
/// alternating order, medians over the repetitions; every run's counts and payload checksum are checked.
/// <c>dotnet run -c Release --project bench/Kiel.Benchmarks -- compare [--quick] [--reps N] [--window S] [--only TEXT] [--broker bench|mock|both] [--no-write]</c>
/// </summary>
internal static class CompareRunner
{
    private sealed record Scenario(string Name, string Mode, int Size, int Partitions, CompressionType Compression, int LingerMs, bool Explicit, bool Mock)
    {
        public bool IsConsume => Mode == "consume";
        public bool IsAwaited => Mode == "awaited";

        public string[] Clients => IsConsume ? ["kiel/stream", "kiel/raw", "confluent"] : ["kiel", "confluent"];
    }

    private sealed record Outcome(Dictionary<string, string> Values)
    {
        public double this[string key] => Values.TryGetValue(key, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : double.NaN;
    }

    [BenchRunner("compare")]
    public static async Task<int> Run(string[] args)
    {
        // An option it does not know (say --help) must not start a 40-minute full run.
        string[] flags = ["--quick", "--no-write"], valued = ["--reps", "--window", "--only", "--broker"];
        for (var a = 0; a < args.Length; a++)
        {
            if (flags.Contains(args[a])) continue;
            if (valued.Contains(args[a]) && a + 1 < args.Length) { a++; continue; }
            const string usage =
                "usage: compare [--quick] [--reps N] [--window SECONDS] [--only TEXT] [--broker bench|mock|both] [--no-write]\n" +
                "  --only TEXT runs the scenarios whose label contains TEXT; --no-write leaves docs/performance.md alone.";
            if (args[a] is "--help" or "-h")
            {
                Console.WriteLine(usage);
                return 0;
            }
            Console.Error.WriteLine($"compare: unknown option or missing value: {args[a]}\n{usage}");
            return 2;
        }
        var quick = args.Contains("--quick");
        var reps = RunnerArgs.Int(args, "--reps", quick ? 2 : 5);
        var windowArg = Array.IndexOf(args, "--window");
        var window = windowArg >= 0 ? double.Parse(args[windowArg + 1], CultureInfo.InvariantCulture) : quick ? 0.5 : 2.0;
        var cold = quick ? 20_000 : 100_000;
        var onlyArg = Array.IndexOf(args, "--only");
        var only = onlyArg >= 0 ? args[onlyArg + 1] : null;
        var brokerArg = Array.IndexOf(args, "--broker");
        var brokers = brokerArg >= 0 ? args[brokerArg + 1] : "both";
        var command = "dotnet run -c Release --project bench/Kiel.Benchmarks -- compare" + (args.Length > 0 ? " " + string.Join(' ', args) : "");

        var scenarios = Scenarios(quick)
            .Where(s => only is null || s.Name.Contains(only, StringComparison.OrdinalIgnoreCase))
            .Where(s => brokers == "both" || (brokers == "mock") == s.Mock)
            .ToList();
        var load0 = LoadAverage();
        Console.WriteLine($"# {command}");
        Console.WriteLine($"# {Environment.ProcessorCount} cores, load average {load0}; {reps} repetitions in alternating order, windows of {window} s, cold = the first {cold:N0} records of a new process");
        var settings = Settings();
        foreach (var line in settings) Console.WriteLine("# " + line);

        await using var bench = await BrokerProcess.StartAsync();
        EmbeddedKafkaCluster? mock = null;
        var rows = new List<string>();
        var failures = new List<string>();
        var syscalls = new List<double>();
        var gen0Bytes = new List<double>();
        try
        {
            foreach (var s in scenarios)
            {
                if (s.Mock) mock ??= await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
                var samples = s.Clients.ToDictionary(c => c, _ => new List<Outcome>());
                for (var r = 0; r < reps; r++)
                {
                    // Alternate: rotate the client order on every repetition.
                    var order = s.Clients.Skip(r % s.Clients.Length).Concat(s.Clients.Take(r % s.Clients.Length));
                    foreach (var client in order)
                    {
                        try
                        {
                            samples[client].Add(await RunOnceAsync(s, client, bench, mock, window, s.IsAwaited ? Math.Min(cold, 2_000) : cold));
                        }
                        catch (Exception e)
                        {
                            failures.Add($"{s.Name}, {client}, repetition {r + 1}: {e.Message}");
                            Console.WriteLine($"# FAILED {s.Name}, {client}: {e.Message}");
                        }
                    }
                }
                foreach (var row in Rows(s, samples))
                {
                    Console.WriteLine(row);
                    rows.Add(row);
                }
                Console.WriteLine(KernelLine(s, samples));
                syscalls.AddRange(samples.Values.SelectMany(o => o).Select(o => o["syscall_ns"]).Where(v => !double.IsNaN(v)));
                // Managed bytes allocated per gen0 collection, from the runs that allocated enough to collect often.
                gen0Bytes.AddRange(samples.Values.SelectMany(o => o).Where(o => o["gc0_per_s"] >= 10)
                    .Select(o => o["alloc_per_msg"] * o["msg_per_s"] / o["gc0_per_s"]));
            }
        }
        finally
        {
            if (mock is not null) await mock.DisposeAsync();
        }
        var load1 = LoadAverage();
        foreach (var f in failures) Console.WriteLine("# FAILED " + f);
        var systemCalls = SystemCallLine(syscalls);
        var machine = MachineLine(gen0Bytes);
        if (!args.Contains("--no-write") && only is null && brokers == "both")
            WriteDocs(command, quick, reps, window, cold, settings, rows, failures, load0, load1, systemCalls + " " + machine);
        Console.WriteLine("# " + systemCalls);
        Console.WriteLine("# " + machine);
        return failures.Count == 0 ? 0 : 1;
    }

    private static IEnumerable<Scenario> Scenarios(bool quick)
    {
        var none = CompressionType.None;
        foreach (var size in new[] { 100, 1024, 10240 }) yield return new Scenario($"produce {Size(size)}", "produce", size, 6, none, 5, false, false);
        foreach (var linger in new[] { 0, 5 }) yield return new Scenario($"awaited 100 B, linger {linger} ms", "awaited", 100, 6, none, linger, false, false);
        foreach (var size in new[] { 100, 1024, 10240 }) yield return new Scenario($"consume {Size(size)}", "consume", size, 6, none, 5, false, false);
        foreach (var c in new[] { CompressionType.Lz4, CompressionType.Zstd })
        {
            yield return new Scenario($"produce 1 KiB {c.ToString().ToLowerInvariant()}", "produce", 1024, 6, c, 5, false, false);
            yield return new Scenario($"consume 1 KiB {c.ToString().ToLowerInvariant()}", "consume", 1024, 6, c, 5, false, false);
        }
        foreach (var p in quick ? new[] { 1, 120, 5000 } : new[] { 1, 12, 120, 1000, 5000 })
            yield return new Scenario($"produce 100 B to {p:N0} partitions, round-robin", "produce", 100, p, none, 5, true, false);
        // The librdkafka mock as the second broker (produce only: it keeps about 5 MiB per partition, so it cannot feed
        // an endless consume).
        // Idle: after one record produced and consumed, a producer and a consumer (same process) with nothing to do.
        yield return new Scenario("mock: idle producer + consumer", "idle", 100, 1, none, 5, false, true);
        yield return new Scenario("mock: produce 100 B", "produce", 100, 6, none, 5, false, true);
        yield return new Scenario("mock: produce 1 KiB", "produce", 1024, 6, none, 5, false, true);
        yield return new Scenario("mock: awaited 100 B, linger 0 ms", "awaited", 100, 6, none, 0, false, true);
    }

    private static string Size(int size) => size switch { 1024 => "1 KiB", 10240 => "10 KiB", _ => $"{size} B" };

    /// <summary>
    /// The C allocator's settings for every client process (unless GLIBC_TUNABLES is set already): keep freed memory
    /// (trim only past 1 GiB; blocks under 32 MiB from the heap, not from mmap) rather than give it back to the kernel
    /// and fault it in again. A page fault costs about 12 µs on the machine these tables are made on; librdkafka's
    /// allocations took 36-153 of them per 1,000 records of 10 KiB by default, a varying 0.5-2 µs per record, and
    /// about 1 with these settings. Kiel's managed heap does not use this allocator.
    /// </summary>
    internal const string MallocTunables = "glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=33554432";

    private static List<string> Settings() =>
    [
        $"both client processes run with GLIBC_TUNABLES={MallocTunables} (unless it is set for the runner): the C allocator keeps " +
        "freed memory instead of returning it to the kernel and faulting it in again, at about 12 µs a page fault on this machine; it is " +
        "librdkafka's allocator (Kiel's managed heap is the runtime's own), and peak RSS includes what it keeps. Each scenario's console " +
        "output also gives each client's CPU in the kernel and its minor page faults",
        $"both producers: acks=all, idempotence on, batch size {ClientRun.BatchBytes:N0} B (Confluent: batch.num.messages 1,000,000), " +
        $"linger as the scenario says (5 ms unless stated), {ClientRun.InFlight} requests in flight per connection, buffer {ClientRun.BufferBytes / 1024 / 1024} MiB, " +
        "keyless records sticky-partitioned (Kiel's default; librdkafka's consistent_random with sticky.partitioning.linger.ms 10) unless \"round-robin\" (record i to partition i mod N, named by both)",
        "Confluent producer tuned per its docs: delivery reports off for fire-and-forget (dotnet.producer.enable.delivery.reports=false), " +
        "delivery report fields none (status only when awaited), socket.nagle.disable=true; Produce retried on Local_QueueFull after Poll(1 ms)",
        "consumers: every partition assigned from offset 0, fetch.max.bytes 50 MiB, 1 MiB per partition, 64 MiB prefetch (Kiel MaxPrefetchBytes, " +
        "Confluent queued.max.messages.kbytes); Confluent with dotnet.consumer.consume.result.fields=none and fetch.queue.backoff.ms=0 (no 1 s pause of a partition past a queue threshold), a group id (required by Confluent.Kafka) but assigned partitions, no commits; " +
        "each client at its default for batch CRCs: Kiel checks every fetched batch's CRC-32C (CheckCrcs), librdkafka does not (check.crcs=false); " +
        "each at its own design for fetching: Kiel keeps two Fetch requests outstanding per broker (two lanes, each with half the partitions and a connection of its own), librdkafka one",
        "Kiel consume is measured twice: the records stream (ConsumeAsync, a byte[] value per record) and the raw path (ConsumeBatchAsync, values read in place)",
        "checks on every run: producers — the bench broker's count of records received equals the records produced, and its checksum over every " +
        "payload byte (XxHash3 per value, summed) equals the expected one, Kiel's delivered count too; consumers — offsets of each partition " +
        "consecutive from 0 and the checksum over every consumed payload byte equal to what the broker served",
        "CPU: getrusage(RUSAGE_SELF) of the client process over the timed window (all its threads, librdkafka's included); peak RSS: ru_maxrss; " +
        "allocation: managed bytes (GC.GetTotalAllocatedBytes; librdkafka's native heap is not managed), steady = in the window, cold = from process " +
        "start to the end of the cold phase",
    ];

    private static async Task<Outcome> RunOnceAsync(Scenario s, string client, BrokerProcess bench, EmbeddedKafkaCluster? mock, double window, int cold)
    {
        var id = Guid.NewGuid().ToString("N")[..10];
        var compression = s.Compression == CompressionType.None ? "none" : s.Compression.ToString().ToLowerInvariant();
        var topic = $"bench.p{s.Partitions}.s{s.Size}.{compression}.{id}";
        var bootstrap = bench.Bootstrap;
        if (s.Mock)
        {
            topic = "bench-" + id;
            mock!.CreateTopic(topic, s.Partitions, 1);
            bootstrap = mock.BootstrapServers;
        }
        var parts = client.Split('/');
        var mode = s.IsConsume ? (parts[0] == "kiel" ? parts[1] : "consume") : s.Mode;
        var run = new ClientRun(parts[0], mode, bootstrap, topic, s.Size, s.Partitions, s.Compression, s.LingerMs, window, cold, s.Explicit);
        var outcome = new Outcome(await RunChildAsync(run));
        // Checks.
        if (s.IsConsume)
        {
            var counts = outcome.Values["counts"].Split(',').Select(c => long.Parse(c, CultureInfo.InvariantCulture)).ToArray();
            ulong expected = 0;
            foreach (var c in counts) expected += Payloads.FetchChecksum(s.Size, c);
            var checksum = ulong.Parse(outcome.Values["checksum"], CultureInfo.InvariantCulture);
            if (checksum != expected) throw new InvalidOperationException($"consumed checksum {checksum}, expected {expected}");
            if (counts.Sum() != (long)outcome["consumed"]) throw new InvalidOperationException("consumed count does not add up");
        }
        else
        {
            var produced = (long)outcome["produced"];
            if (outcome.Values.ContainsKey("delivered") && ((long)outcome["delivered"] != produced || outcome["failed"] is > 0))
                throw new InvalidOperationException($"{outcome.Values["delivered"]} delivered of {produced} produced");
            if (!s.Mock)
            {
                var stats = await bench.StatsAsync(topic);
                var expected = Payloads.ProduceChecksum(s.Size, ClientRun.Distinct, produced);
                if (stats.Records != produced || stats.Errors != 0 || stats.Checksum != expected)
                    throw new InvalidOperationException($"broker received {stats.Records} records ({stats.Errors} refused batches, checksum {stats.Checksum}) of {produced} produced (checksum {expected})");
            }
        }
        return outcome;
    }

    private static async Task<Dictionary<string, string>> RunChildAsync(ClientRun run)
    {
        var self = typeof(CompareRunner).Assembly.Location;
        var host = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") psi.ArgumentList.Add(self);
        psi.ArgumentList.Add("compare-client");
        foreach (var a in run.ToArgs()) psi.ArgumentList.Add(a);
        if (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") is null) psi.Environment["GLIBC_TUNABLES"] = MallocTunables;
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{run.Client} {run.Mode} ran past 5 minutes");
        }
        var output = await stdout;
        // KIEL_BENCH_ALLOC_TICKS=1 makes the client print its sampled allocations to stderr, and KIEL_BENCH_LATENCY_PROBE=1
        // where an awaited Kiel record's time went: pass them on.
        if (Environment.GetEnvironmentVariable("KIEL_BENCH_ALLOC_TICKS") == "1" || Environment.GetEnvironmentVariable("KIEL_BENCH_LATENCY_PROBE") == "1")
            Console.Error.Write(await stderr);
        if (process.ExitCode != 0) throw new InvalidOperationException($"{run.Client} {run.Mode} exited {process.ExitCode}: {Last(await stderr)}");
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal))
                   ?? throw new InvalidOperationException($"no RESULT from {run.Client}: {Last(output)}");
        return line[7..].Trim().Split(' ').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
    }

    private static string Last(string text) => text.Length <= 2000 ? text : text[^2000..];

    private static double Median(IEnumerable<double> xs)
    {
        var a = xs.Where(x => !double.IsNaN(x)).Order().ToArray();
        if (a.Length == 0) return double.NaN;
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    public const string Header =
        "| scenario | client | msg/s | × Confluent | CPU µs/msg | CPU ÷ Confluent | steady B/msg | cold B/msg | peak RSS MiB | latency p50 / p99 / p99.9 ms | runs |";

    private static IEnumerable<string> Rows(Scenario s, Dictionary<string, List<Outcome>> samples)
    {
        double M(string client, string key) => Median(samples[client].Select(o => o[key]));
        var confluentRate = M("confluent", "msg_per_s");
        var confluentCpu = M("confluent", "cpu_us_per_msg");
        foreach (var client in s.Clients)
        {
            var n = samples[client].Count;
            var name = client switch { "kiel/stream" => "Kiel, records stream", "kiel/raw" => "Kiel, raw batches", "kiel" => "Kiel", _ => "Confluent.Kafka 2.16" };
            var rate = M(client, "msg_per_s");
            var cpu = M(client, "cpu_us_per_msg");
            var isConfluent = client == "confluent";
            if (s.Mode == "idle")
            {
                yield return $"| {s.Name} | {name} | idle: {M(client, "cpu_cores") * 100:F2}% of a core | | | | | | {M(client, "peak_rss_kib") / 1024:F0} | | {n} |";
                continue;
            }
            var latency = s.IsAwaited ? $"{M(client, "p50_ms"):F2} / {M(client, "p99_ms"):F2} / {M(client, "p999_ms"):F2}" : "";
            yield return $"| {s.Name} | {name} | {rate:N0} | {(isConfluent ? "" : (rate / confluentRate).ToString("F2", CultureInfo.InvariantCulture))} | " +
                         $"{cpu:F2} | {(isConfluent ? "" : (cpu / confluentCpu).ToString("F2", CultureInfo.InvariantCulture))} | " +
                         $"{M(client, "alloc_per_msg"):F1} | {M(client, "cold_alloc_per_msg"):F0} | {M(client, "peak_rss_kib") / 1024:F0} | {latency} | {n} |";
        }
    }

    /// <summary>How much of each client's CPU per record was the kernel's (socket copies, the loopback's TCP work, system
    /// calls, faults), and its minor page faults: both clients move the same bytes through the same sockets, so the
    /// kernel's copies are a part of the CPU neither one's code can remove.</summary>
    private static string KernelLine(Scenario s, Dictionary<string, List<Outcome>> samples)
    {
        double M(string client, string key) => Median(samples[client].Select(o => o[key]));
        // An idle run counts no records: its share of kernel time is what it says.
        var parts = s.Clients.Where(c => samples[c].Count > 0).Select(c => s.Mode == "idle"
            ? $"{c} {M(c, "sys_us_per_msg") / M(c, "cpu_us_per_msg") * 100:F0}% of its CPU in the kernel"
            : $"{c} {M(c, "sys_us_per_msg"):F2} of {M(c, "cpu_us_per_msg"):F2} µs/msg in the kernel, {M(c, "minflt_per_kmsg"):F1} minor faults per 1,000 msgs");
        return $"# {s.Name}: {string.Join("; ", parts)}";
    }

    /// <summary>
    /// The CPU caches the kernel reports, and what the runtime made of them: a virtual machine that reports none leaves
    /// the .NET GC to size its gen0 budget without them (gen0 collected about every 2 MB allocated on this project's
    /// VM, against about every 16 MB when the same VM reported a 32 MiB L3), which moves every allocating row.
    /// </summary>
    private static string MachineLine(List<double> gen0Bytes)
    {
        var caches = new List<string>();
        try
        {
            foreach (var dir in Directory.GetDirectories("/sys/devices/system/cpu/cpu0/cache", "index*").Order(StringComparer.Ordinal))
            {
                string Read(string name) => File.ReadAllText(Path.Combine(dir, name)).Trim();
                var type = Read("type") switch { "Data" => "d", "Instruction" => "i", _ => "" };
                caches.Add($"L{Read("level")}{type} {Read("size")}");
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var cacheText = caches.Count > 0
            ? $"The kernel reported these CPU caches (cpu0): {string.Join(", ", caches)}."
            : "The kernel reported no CPU cache sizes (/sys/devices/system/cpu/cpu0/cache has none).";
        var gen0Text = gen0Bytes.Count > 0
            ? $" The clients' processes allocated {Median(gen0Bytes) / 1048576:F1} MiB per gen0 collection (median over the runs that collected at least 10 times a second)."
            : "";
        return cacheText + gen0Text;
    }

    private static string SystemCallLine(List<double> nanoseconds)
    {
        if (nanoseconds.Count == 0) return "System call cost: not measured.";
        return $"A system call (getppid, timed in each client process after its window) took {nanoseconds.Min():N0}-{nanoseconds.Max():N0} ns " +
               $"(median {Median(nanoseconds):N0}) in this run; the virtual machine's state shows in it.";
    }

    private static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "n/a"; }
    }

    private const string Begin = "<!-- compare:begin (written by the compare runner; edit the runner, not this section) -->";
    private const string End = "<!-- compare:end -->";

    private static void WriteDocs(string command, bool quick, int reps, double window, int cold, List<string> settings, List<string> rows,
        List<string> failures, string load0, string load1, string systemCalls)
    {
        var path = FindDocs();
        if (path is null)
        {
            Console.WriteLine("# docs/performance.md not found; not written");
            return;
        }
        var sb = new StringBuilder();
        sb.AppendLine(Begin);
        sb.AppendLine("## Side by side with Confluent.Kafka (`compare`)");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.AppendLine(command);
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC{(quick ? " (quick mode: fewer, shorter runs; not for quoting)" : "")} on " +
                      $"{Environment.ProcessorCount} cores, load average {load0} before and {load1} after. Each client runs in a process of its own; " +
                      $"the bench broker (`bench/Kiel.BenchBroker`) in another, the librdkafka mock (rows marked \"mock\") in the runner's. " +
                      $"{reps} repetitions per client in alternating order, timed windows of {window} s after a cold phase (the first " +
                      $"{cold:N0} records of the new process; 2,000 for awaited runs) and a warm-up that ends once the JIT has compiled nothing for 1 s (at most 20 s); each figure is the median over the repetitions, " +
                      "ratios are the medians' ratios. " + systemCalls);
        sb.AppendLine();
        foreach (var s in settings) sb.AppendLine($"- {s}");
        sb.AppendLine();
        sb.AppendLine(Header);
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows) sb.AppendLine(r);
        if (failures.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Runs that failed a check or did not finish (left out of the medians):");
            sb.AppendLine();
            foreach (var f in failures) sb.AppendLine($"- {f}");
        }
        sb.AppendLine(End);
        var text = File.ReadAllText(path);
        var begin = text.IndexOf("<!-- compare:begin", StringComparison.Ordinal);
        var end = text.IndexOf(End, StringComparison.Ordinal);
        if (begin >= 0 && end > begin) text = text[..begin] + sb + text[(end + End.Length)..].TrimStart('\r', '\n').Insert(0, "\n");
        else
        {
            var at = text.IndexOf("\n## ", StringComparison.Ordinal);
            text = at >= 0 ? text[..(at + 1)] + sb + "\n" + text[(at + 1)..] : text + "\n" + sb;
        }
        File.WriteAllText(path, text);
        Console.WriteLine($"# wrote {path}");
    }

    private static string? FindDocs()
    {
        // The working directory's repository first (a copied build can then write the docs), then the build's.
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "docs", "performance.md");
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    /// <summary>The bench broker in a process of its own, driven over its stdin/stdout.</summary>
    private sealed class BrokerProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly SemaphoreSlim _lock = new(1, 1);

        private BrokerProcess(Process process, string bootstrap)
        {
            _process = process;
            Bootstrap = bootstrap;
        }

        public string Bootstrap { get; }

        public static async Task<BrokerProcess> StartAsync()
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "Kiel.BenchBroker.dll");
            var psi = new ProcessStartInfo(DotNetHost())
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false,
            };
            psi.ArgumentList.Add(dll);
            var process = Process.Start(psi)!;
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            if (line is null || !line.StartsWith("listening ", StringComparison.Ordinal))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"the bench broker did not start: {line}");
            }
            return new BrokerProcess(process, line["listening ".Length..]);
        }

        public async Task<TopicStats> StatsAsync(string topic)
        {
            await _lock.WaitAsync();
            try
            {
                await _process.StandardInput.WriteLineAsync($"stats {topic}");
                await _process.StandardInput.FlushAsync();
                var line = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException("the bench broker exited");
                var f = line.Split(' ');
                return new TopicStats(long.Parse(f[2], CultureInfo.InvariantCulture), long.Parse(f[3], CultureInfo.InvariantCulture),
                    long.Parse(f[4], CultureInfo.InvariantCulture), ulong.Parse(f[5], CultureInfo.InvariantCulture), long.Parse(f[6], CultureInfo.InvariantCulture));
            }
            finally
            {
                _lock.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await _process.StandardInput.WriteLineAsync("quit");
                _process.StandardInput.Close();
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is IOException or TimeoutException or InvalidOperationException)
            {
                _process.Kill(entireProcessTree: true);
            }
            _process.Dispose();
            _lock.Dispose();
        }

        private static string DotNetHost()
        {
            var host = Environment.ProcessPath;
            if (host is not null && Path.GetFileNameWithoutExtension(host) == "dotnet") return host;
            var root = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            return !string.IsNullOrEmpty(root) && File.Exists(root) ? root : "dotnet";
        }
    }
}
