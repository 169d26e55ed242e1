using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using Confluent.Kafka;
using CK = Confluent.Kafka;
using Kiel.Consuming;
using Kiel.Groups.Kafka;
using Kiel.Testing;

namespace Kiel.Benchmarks.Groups;

/// <summary>
/// Consumer-group rebalance times and group consume throughput, Kiel vs Confluent.Kafka 2.16, on one embedded
/// 3-broker cluster (initial rebalance delay 0) that this process hosts; every member runs in its own child process
/// (<c>group-member</c>), all members of one measurement use the same client, both with the range assignor, session
/// timeout 6 s and heartbeat interval 1 s, on a 12-partition pre-filled topic.
/// <c>dotnet run -c Release --project bench/Kiel.Benchmarks -- group [--records N] [--reps K]</c>
/// </summary>
public static class GroupRunner
{
    private const int Partitions = 12;
    private static readonly TimeSpan StepDeadline = TimeSpan.FromSeconds(90);

    [BenchRunner("group")]
    public static async Task<int> Run(string[] args)
    {
        var records = RunnerArgs.Int(args, "--records", 200_000);
        var reps = RunnerArgs.Int(args, "--reps", 3);
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3, InitialRebalanceDelayMs = 0 });
        var topic = "bench-group-" + Guid.NewGuid().ToString("N")[..12];
        cluster.CreateTopic(topic, Partitions, 1);
        var expectedChecksum = Fill(cluster.BootstrapServers, topic, records);
        await CheckRetainedAsync(cluster.BootstrapServers, topic, records);
        Console.WriteLine($"# group: {Partitions} partitions pre-filled with {records:N0} records (100 B), 3 brokers, initial rebalance delay 0, " +
                          $"range assignor, session 6 s, heartbeat 1 s, every member in its own process, {reps} repetitions alternating the client order, medians, {Environment.ProcessorCount} cores");
        var results = new Dictionary<string, List<double[]>> { ["kiel"] = [], ["confluent"] = [] };
        // Untimed warm-up of both clients (first process start, JIT, cluster state).
        await RunRepAsync(cluster, topic, "kiel", records, expectedChecksum);
        await RunRepAsync(cluster, topic, "confluent", records, expectedChecksum);
        for (var r = 0; r < reps; r++)
        {
            var order = r % 2 == 0 ? new[] { "kiel", "confluent" } : ["confluent", "kiel"];
            foreach (var client in order) results[client].Add(await RunRepAsync(cluster, topic, client, records, expectedChecksum));
        }
        Console.WriteLine("| client | join: new member start → 6+6 (s) | clean leave: close → 12 on the survivor (s) | SIGKILL → 12 on the survivor (s) | 2 members drain N, 6 partitions each: records/s |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (name, key) in new[] { ("Kiel", "kiel"), ("Confluent.Kafka 2.16", "confluent") })
        {
            double Median(int i)
            {
                var v = results[key].Select(x => x[i]).Order().ToArray();
                return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {Median(0):F2} | {Median(1):F2} | {Median(2):F2} | {Median(3):N0} |"));
        }
        return 0;
    }

    private static long Fill(string bootstrap, string topic, int records)
    {
        RdKafkaNative.PinAssembly(typeof(Library).Assembly);
        using var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, LingerMs = 5, Acks = CK.Acks.All }).Build();
        long checksum = 0;
        for (var i = 0; i < records; i++)
        {
            var value = new byte[100];
            BinaryPrimitives.WriteInt64LittleEndian(value, i);
            checksum += i;
            while (true)
            {
                try
                {
                    producer.Produce(new CK.TopicPartition(topic, new CK.Partition(i % Partitions)), new Message<Null, byte[]> { Value = value });
                    break;
                }
                catch (ProduceException<Null, byte[]> e) when (e.Error.Code == CK.ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(50));
                }
            }
        }
        if (producer.Flush(TimeSpan.FromMinutes(2)) != 0) throw new InvalidOperationException("The topic was not filled in 2 minutes.");
        return checksum;
    }

    /// <summary>
    /// Fails the run when the cluster no longer holds every record it was filled with: the librdkafka mock drops a
    /// partition's oldest message sets past a size limit (about 47,000 records of 100 B per partition were kept when
    /// 2,000,000 were written), and a drain that waits for every record index would then never end.
    /// </summary>
    private static async Task CheckRetainedAsync(string bootstrap, string topic, int records)
    {
        await using var consumer = new KielConsumer<byte[]?, byte[]?>(new KielConsumerOptions { BootstrapServers = bootstrap }, Deserializers.Bytes, Deserializers.Bytes);
        using var timeout = new CancellationTokenSource(StepDeadline);
        long retained = 0;
        for (var p = 0; p < Partitions; p++)
        {
            var (low, high) = await consumer.QueryWatermarkOffsetsAsync(new Kiel.TopicPartition(topic, p), timeout.Token);
            if (low != 0)
                throw new InvalidOperationException($"The cluster dropped the first {low:N0} records of partition {p} (it keeps a bounded log per partition), " +
                    $"so a drain of all {records:N0} records could never finish. Run with fewer --records (under about {Partitions * (high - low):N0}).");
            retained += high - low;
        }
        if (retained != records) throw new InvalidOperationException($"The topic holds {retained:N0} records after the fill, not {records:N0}.");
    }

    /// <summary>One repetition for one client: join, clean leave, SIGKILL, then a 2-member drain in a fresh group.
    /// Returns [join s, leave s, kill s, records/s].</summary>
    private static async Task<double[]> RunRepAsync(EmbeddedKafkaCluster cluster, string topic, string client, int records, long expectedChecksum)
    {
        var group = "bench-g-" + Guid.NewGuid().ToString("N")[..10];
        await using var a = Member.Start(client, cluster.BootstrapServers, topic, group);
        await a.UntilAsync(() => a.Assigned == Partitions, "the first member owning all 12 partitions");

        var sw = Stopwatch.StartNew();
        var b = Member.Start(client, cluster.BootstrapServers, topic, group);
        await b.UntilAsync(() => a.Assigned == Partitions / 2 && b.Assigned == Partitions / 2, "6 + 6 after a join");
        var join = sw.Elapsed.TotalSeconds;
        var joinJit = b.FirstAssignmentJit;

        sw.Restart();
        b.Close();
        await a.UntilAsync(() => a.Assigned == Partitions, "12 on the survivor after a clean leave");
        var leave = sw.Elapsed.TotalSeconds;
        await b.DisposeAsync();

        b = Member.Start(client, cluster.BootstrapServers, topic, group);
        await b.UntilAsync(() => a.Assigned == Partitions / 2 && b.Assigned == Partitions / 2, "6 + 6 after the second join");
        sw.Restart();
        b.Kill();
        await a.UntilAsync(() => a.Assigned == Partitions, "12 on the survivor after a SIGKILL");
        var kill = sw.Elapsed.TotalSeconds;
        await b.DisposeAsync();

        // Throughput of a settled group: two members of a fresh group join holding back (they start at the end of every
        // partition, where there is nothing to read), and once each owns 6 partitions both are told to seek their
        // partitions to the beginning and read. The drain is timed from that word until every record index has been
        // seen; the members mark the indices they see in a shared one-byte-per-record map.
        var drainGroup = "bench-d-" + Guid.NewGuid().ToString("N")[..10];
        var mapPath = Path.Combine(Path.GetTempPath(), drainGroup + ".map");
        double rate;
        long delivered;
        try
        {
            using (var file = new FileStream(mapPath, FileMode.CreateNew)) file.SetLength(records);
            using var map = MemoryMappedFile.CreateFromFile(mapPath, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
            using var view = map.CreateViewAccessor(0, records, MemoryMappedFileAccess.Read);
            var seen = new byte[records];
            int Seen()
            {
                view.ReadArray(0, seen, 0, records);
                return records - seen.AsSpan().Count((byte)0);
            }
            await using var d1 = Member.Start(client, cluster.BootstrapServers, topic, drainGroup, mapPath);
            await using var d2 = Member.Start(client, cluster.BootstrapServers, topic, drainGroup, mapPath);
            await d1.UntilAsync(() => d1.Assigned == Partitions / 2 && d2.Assigned == Partitions / 2, "6 + 6 in the drain group");
            if (Seen() != 0) throw new InvalidOperationException($"{client}: the drain members read {Seen()} records while holding back.");
            sw.Restart();
            d1.Go();
            d2.Go();
            await d1.UntilAsync(() => Seen() == records, $"2 members draining {records} records", TimeSpan.FromMinutes(10));
            rate = records / sw.Elapsed.TotalSeconds;
            d1.Close();
            d2.Close();
            var (c1, s1) = await d1.FinalAsync();
            var (c2, s2) = await d2.FinalAsync();
            delivered = c1 + c2;
            if (delivered != records || s1 + s2 != expectedChecksum)
                throw new InvalidOperationException($"{client}: delivered {delivered} records (expected {records}), checksum {s1 + s2} (expected {expectedChecksum}).");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# {client}: join {join:F2} s (the new member had JIT-compiled {joinJit.Methods:N0} methods in {joinJit.Ms:F0} ms by its first assignment), leave {leave:F2} s, kill {kill:F2} s, drain {rate:N0} records/s ({c1} + {c2} delivered)"));
        }
        finally
        {
            File.Delete(mapPath);
        }
        return [join, leave, kill, rate];
    }

    /// <summary>A member process; its stdout lines are "assigned N", "jit METHODS MS" (once, before its first assignment),
    /// "progress COUNT SUM" and "final COUNT SUM".</summary>
    private sealed class Member : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Task _reader;
        private readonly TaskCompletionSource<(long, long)> _final = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly System.Text.StringBuilder _stderr = new();
        private volatile int _assigned = -1;
        private long _count;

        private Member(Process process)
        {
            _process = process;
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
            _process.BeginErrorReadLine();
            _reader = Task.Run(ReadAsync);
        }

        public int Assigned => _assigned;

        /// <summary>Methods the member's process had JIT-compiled, and the time it spent on them, when it was first assigned partitions.</summary>
        public (long Methods, double Ms) FirstAssignmentJit { get; private set; }

        public long Count => Interlocked.Read(ref _count);

        public static Member Start(string client, string bootstrap, string topic, string group, string map = "")
        {
            var self = typeof(GroupRunner).Assembly.Location;
            var host = Environment.ProcessPath!;
            var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(host) == "dotnet") psi.ArgumentList.Add(self);
            foreach (var arg in new[] { "group-member", client, bootstrap, topic, group, map }) psi.ArgumentList.Add(arg);
            return new Member(Process.Start(psi)!);
        }

        private async Task ReadAsync()
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                var f = line.Split(' ');
                switch (f[0])
                {
                    case "assigned": _assigned = int.Parse(f[1], CultureInfo.InvariantCulture); break;
                    case "jit": FirstAssignmentJit = (long.Parse(f[1], CultureInfo.InvariantCulture), double.Parse(f[2], CultureInfo.InvariantCulture)); break;
                    case "progress": Interlocked.Exchange(ref _count, long.Parse(f[1], CultureInfo.InvariantCulture)); break;
                    case "final": _final.TrySetResult((long.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture))); break;
                }
            }
            _final.TrySetException(new InvalidOperationException("The member exited without a final line: " + StdErr));
        }

        private string StdErr { get { lock (_stderr) return _stderr.ToString(); } }

        public async Task UntilAsync(Func<bool> condition, string what, TimeSpan? deadline = null)
        {
            var sw = Stopwatch.StartNew();
            while (!condition())
            {
                if (sw.Elapsed > (deadline ?? StepDeadline)) throw new TimeoutException($"No {what} within {(deadline ?? StepDeadline).TotalSeconds} s. {StdErr}");
                if (_process.HasExited && _reader.IsCompleted) throw new InvalidOperationException($"A member exited ({_process.ExitCode}) waiting for {what}: {StdErr}");
                await Task.Delay(5);
            }
        }

        public void Close() => Say("close");

        /// <summary>Tells a drain member (started with a map) to seek its partitions to the beginning and read.</summary>
        public void Go() => Say("go");

        private void Say(string word)
        {
            _process.StandardInput.WriteLine(word);
            _process.StandardInput.Flush();
        }

        public void Kill() => _process.Kill(entireProcessTree: true);

        public async Task<(long Count, long Sum)> FinalAsync() => await _final.Task.WaitAsync(StepDeadline);

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                try { Close(); } catch (IOException) { }
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try { await _process.WaitForExitAsync(timeout.Token); }
                catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); await _process.WaitForExitAsync(); }
            }
            try { await _reader; } catch (Exception) { }
            _final.Task.Exception?.Handle(_ => true);
            _process.Dispose();
        }
    }

    /// <summary>
    /// One group member: subscribes, consumes, reports its assignment and its progress until "close" on stdin. A drain
    /// member (given a map) starts at the end of its partitions and reads nothing until "go", when it seeks every
    /// partition it owns to the beginning.
    /// </summary>
    [BenchRunner("group-member")]
    public static async Task<int> RunMember(string[] args)
    {
        long count = 0, sum = 0;
        var (client, bootstrap, topic, group) = (args[0], args[1], args[2], args[3]);
        using var map = args.Length > 4 && args[4].Length > 0 ? MemoryMappedFile.CreateFromFile(args[4], FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite) : null;
        using var seen = map?.CreateViewAccessor();
        void See(byte[]? value)
        {
            var index = BinaryPrimitives.ReadInt64LittleEndian(value);
            sum += index;
            seen?.Write(index, (byte)1);
        }
        var drain = map is not null;
        using var stop = new CancellationTokenSource();
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            while (await Console.In.ReadLineAsync() is { } line)
            {
                if (line == "go") go.TrySetResult();
                if (line == "close") break;
            }
            await stop.CancelAsync();
        });
        var jitReported = 0;
        void Assigned(int count)
        {
            // How much of a fresh process's way to its first assignment was compiling code: the runtime's own counters.
            if (count > 0 && Interlocked.Exchange(ref jitReported, 1) == 0)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"jit {System.Runtime.JitInfo.GetCompiledMethodCount()} {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:F1}"));
            Console.WriteLine($"assigned {count}");
        }
        using var progress = new Timer(_ => Console.WriteLine($"progress {Interlocked.Read(ref count)}"), null, 20, 20);
        if (client == "kiel")
        {
            await using var consumer = new KielConsumer<byte[]?, byte[]?>(new KielConsumerOptions
            {
                BootstrapServers = bootstrap,
                GroupId = group,
                SessionTimeout = TimeSpan.FromSeconds(6),
                HeartbeatInterval = TimeSpan.FromSeconds(1),
                PartitionAssignmentStrategy = [PartitionAssignor.Range],
                AutoOffsetReset = drain ? OffsetResetPolicy.Latest : OffsetResetPolicy.Earliest,
                EnableAutoCommit = false,
            }, Deserializers.Bytes, Deserializers.Bytes);
            // The handlers may be given the whole assignment (eager) or the partitions that move: track the owned set.
            var owned = new HashSet<Kiel.TopicPartition>();
            consumer.PartitionsAssignedHandler = (partitions, _) =>
            {
                lock (owned) { owned.UnionWith(partitions); Assigned(owned.Count); }
                return ValueTask.CompletedTask;
            };
            consumer.PartitionsRevokedHandler = (partitions, _) =>
            {
                lock (owned) { owned.ExceptWith(partitions); Assigned(owned.Count); }
                return ValueTask.CompletedTask;
            };
            consumer.Subscribe([topic]);
            // The records stream waits for records; the seeks come from the word's own task.
            var seeks = go.Task.ContinueWith(async _ =>
            {
                foreach (var tp in consumer.Assignment) await consumer.SeekAsync(tp, StartPosition.Beginning, stop.Token);
            }, TaskScheduler.Default).Unwrap();
            try
            {
                await foreach (var result in consumer.ConsumeAsync(stop.Token))
                {
                    See(result.Value);
                    Interlocked.Increment(ref count);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
            if (seeks.IsCompleted) await seeks;
            await consumer.CloseAsync();
        }
        else
        {
            RdKafkaNative.PinAssembly(typeof(Library).Assembly);
            using var consumer = new ConsumerBuilder<Ignore, byte[]>(new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = group,
                SessionTimeoutMs = 6000,
                HeartbeatIntervalMs = 1000,
                PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range,
                AutoOffsetReset = drain ? AutoOffsetReset.Latest : AutoOffsetReset.Earliest,
                EnableAutoCommit = false,
            })
                .SetPartitionsAssignedHandler((_, partitions) => Assigned(partitions.Count))
                .SetPartitionsRevokedHandler((_, _) => Console.WriteLine("assigned 0"))
                .SetPartitionsLostHandler((_, _) => Console.WriteLine("assigned 0"))
                .Build();
            consumer.Subscribe(topic);
            var sought = false;
            while (!stop.IsCancellationRequested)
            {
                if (!sought && go.Task.IsCompleted)
                {
                    foreach (var tp in consumer.Assignment) consumer.Seek(new CK.TopicPartitionOffset(tp, CK.Offset.Beginning));
                    sought = true;
                }
                var result = consumer.Consume(100);
                if (result is null || result.IsPartitionEOF) continue;
                See(result.Message.Value);
                Interlocked.Increment(ref count);
            }
            consumer.Close();
        }
        Console.WriteLine($"final {Interlocked.Read(ref count)} {sum}");
        return 0;
    }
}
