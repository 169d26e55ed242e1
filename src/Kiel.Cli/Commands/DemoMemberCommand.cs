using System.CommandLine;
using System.Globalization;
using System.Text;
using Kiel.Consuming;

namespace Kiel.Cli.Commands;

/// <summary>
/// <c>kiel demo-member</c> (hidden): one GroupedConsumer member of <c>kiel demo</c>, run as a child process so that the
/// demo can kill it for real (SIGKILL: no wind-down, no last commit, its ZooKeeper session left to expire).
/// It reports on stdout, one line each: <c>N name</c> once connected, <c>A p,p,...</c> on every allocation change and
/// <c>C partition first last</c> for every run of consecutive offsets it consumed. End of stdin winds it down.
/// With <c>--coordination kafka</c> the GroupedConsumer's group is a Kafka consumer group (no ZooKeeper; what
/// <c>kiel demo --coordination kafka</c> runs).
/// <c>kiel chaos</c> also runs it as a KielConsumer in a Kafka group (<c>--coordination kafka-consumer</c>), bounds every consume
/// call (<c>--poll-timeout-ms</c>; it then reports <c>T ms</c> whenever a call set a new longest duration, time the
/// process was frozen left out) and reports its GC heap as <c>S bytes</c> every <c>--sample-ms</c>.
/// </summary>
internal static class DemoMemberCommand
{
    private static readonly Option<string> Brokers = new("--brokers", "-b") { Required = true };
    private static readonly Option<string> ZooKeeper = new("--zookeeper", "-z");
    private static readonly Option<string> Coordination = new("--coordination") { DefaultValueFactory = _ => "zookeeper" };
    private static readonly Option<int> PollTimeoutMs = new("--poll-timeout-ms");
    private static readonly Option<int> SampleMs = new("--sample-ms");
    private static readonly Option<string> Group = new("--group") { Required = true };
    private static readonly Option<string> Topic = new("--topic") { Required = true };
    private static readonly Option<int> SessionTimeoutMs = new("--session-timeout-ms") { DefaultValueFactory = _ => 3000 };

    public static Command Create()
    {
        Coordination.AcceptOnlyFromAmong("zookeeper", "kafka", "kafka-consumer");
        return ChildCommand.Create(
            "demo-member",
            "One member of kiel demo (internal).",
            [Brokers, ZooKeeper, Group, Topic, SessionTimeoutMs, Coordination, PollTimeoutMs, SampleMs],
            RunAsync);
    }

    private static async Task<int> RunAsync(CommandContext context)
    {
        var parse = context.Parse;
        // The parent closes our stdin to ask for a clean stop.
        using var stop = ChildCommand.StopAtEndOfStdin(context.CancellationToken);

        using var timer = new CallTimer();
        using var sampler = ChildCommand.HeapSampler(parse.GetValue(SampleMs), Report);
        return parse.GetValue(Coordination) == "kafka-consumer"
            ? await RunKafkaAsync(context, timer, stop)
            : await RunGroupedAsync(context, timer, stop);
    }

    private static void Report(string text)
    {
        var stdout = Console.Out;
        lock (stdout)
        {
            stdout.Write(text);
            if (!text.EndsWith('\n'))
            {
                stdout.Write('\n');
            }

            stdout.Flush();
        }
    }

    /// <summary>A token that ends the call after the poll bound (none when the bound is 0), linked to the stop.</summary>
    private static CancellationTokenSource PollToken(CommandContext context, CancellationTokenSource stop)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        if (context.Parse.GetValue(PollTimeoutMs) is > 0 and var ms)
        {
            cts.CancelAfter(ms);
        }

        return cts;
    }

    private static async Task<int> RunGroupedAsync(CommandContext context, CallTimer timer, CancellationTokenSource stop)
    {
        var parse = context.Parse;
        var topic = parse.GetValue(Topic)!;
        var kafka = parse.GetValue(Coordination) == "kafka";
        var zookeeper = parse.GetValue(ZooKeeper);
        if (!kafka && string.IsNullOrEmpty(zookeeper))
        {
            throw new CliUsageException("--zookeeper is required unless --coordination kafka.");
        }

        var sessionMs = parse.GetValue(SessionTimeoutMs);
        var options = new GroupedConsumerOptions
        {
            BootstrapServers = parse.GetValue(Brokers)!,
            ZooKeeperHosts = kafka ? ["127.0.0.1:2181"] : zookeeper!.Split(',', StringSplitOptions.RemoveEmptyEntries),
            Coordination = kafka ? GroupCoordination.Kafka : GroupCoordination.ZooKeeper,
            SessionTimeout = kafka ? TimeSpan.FromMilliseconds(sessionMs) : TimeSpan.FromSeconds(45),
            HeartbeatInterval = kafka ? TimeSpan.FromMilliseconds(Math.Max(100, sessionMs / 10)) : TimeSpan.FromSeconds(3),
            Group = parse.GetValue(Group)!,
            AutoOffsetReset = OffsetResetPolicy.Earliest,
            ZooKeeperSessionTimeout = TimeSpan.FromMilliseconds(sessionMs),
            FetchMaxWait = TimeSpan.FromMilliseconds(200),
            LoggerFactory = context.LoggerFactory,
        };

        await using var consumer = new GroupedConsumer<byte[]?>(options, Deserializers.Bytes);
        consumer.AllocationChanged += e =>
        {
            Report(AllocationLine(e.Allocation, topic));
            return Task.CompletedTask;
        };

        await consumer.ConnectAsync(stop.Token);
        Report($"N {consumer.Name}");
        Report(AllocationLine(consumer.Allocation, topic));

        var line = new StringBuilder();
        while (!stop.IsCancellationRequested)
        {
            IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch;
            using var poll = PollToken(context, stop);
            var started = timer.Start();
            try
            {
                batch = await consumer.ConsumeRecordsAsync(topic, StartPosition.Beginning, poll.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (OperationCanceledException) when (poll.IsCancellationRequested)
            {
                batch = [];
            }
            finally
            {
                timer.Stop(started, Report);
            }

            if (batch.Count == 0)
            {
                continue;
            }

            line.Clear();
            AppendRuns(batch, line);
            Report(line.ToString());
        }

        // A clean stop commits what was handed out (autocommit) and leaves the group.
        await consumer.WindDownAsync(CancellationToken.None);
        return ExitCodes.Ok;
    }

    private static async Task<int> RunKafkaAsync(CommandContext context, CallTimer timer, CancellationTokenSource stop)
    {
        var parse = context.Parse;
        var topic = parse.GetValue(Topic)!;
        var sessionTimeout = TimeSpan.FromMilliseconds(parse.GetValue(SessionTimeoutMs));
        await using var consumer = new KielConsumer<byte[]?, byte[]?>(
            new KielConsumerOptions
            {
                BootstrapServers = parse.GetValue(Brokers)!,
                ClientId = "kiel-chaos-member",
                GroupId = parse.GetValue(Group)!,
                SessionTimeout = sessionTimeout,
                HeartbeatInterval = sessionTimeout / 4,
                AutoCommitInterval = TimeSpan.FromSeconds(1),
                AutoOffsetReset = OffsetResetPolicy.Earliest,
                FetchMaxWait = TimeSpan.FromMilliseconds(200),
                LoggerFactory = context.LoggerFactory,
            },
            Deserializers.Bytes,
            Deserializers.Bytes);
        var assigned = new SortedSet<int>();
        void Allocation()
        {
            lock (assigned)
            {
                Report("A " + string.Join(',', assigned));
            }
        }

        consumer.PartitionsAssignedHandler = (partitions, _) =>
        {
            lock (assigned)
            {
                assigned.UnionWith(partitions.Where(tp => tp.Topic == topic).Select(tp => tp.Partition));
            }

            Allocation();
            return ValueTask.CompletedTask;
        };
        consumer.PartitionsRevokedHandler = (partitions, _) =>
        {
            lock (assigned)
            {
                assigned.ExceptWith(partitions.Select(tp => tp.Partition));
            }

            Allocation();
            return ValueTask.CompletedTask;
        };
        consumer.PartitionsLostHandler = consumer.PartitionsRevokedHandler;
        consumer.Subscribe([topic]);
        Report($"N kafka-{Environment.ProcessId}");

        var line = new StringBuilder();
        while (!stop.IsCancellationRequested)
        {
            using var poll = PollToken(context, stop);
            var started = timer.Start();
            ConsumedBatch batch;
            try
            {
                batch = await consumer.ConsumeBatchAsync(poll.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (OperationCanceledException) when (poll.IsCancellationRequested)
            {
                continue;
            }
            finally
            {
                timer.Stop(started, Report);
            }

            using (batch)
            {
                line.Clear();
                long first = -1;
                long last = -1;
                var partition = batch.TopicPartition.Partition;
                while (batch.TryReadNext(out var record))
                {
                    if (first >= 0 && record.Offset == last + 1)
                    {
                        last = record.Offset;
                        continue;
                    }

                    if (first >= 0)
                    {
                        line.Append(CultureInfo.InvariantCulture, $"C {partition} {first} {last}\n");
                    }

                    first = last = record.Offset;
                }

                if (first >= 0)
                {
                    line.Append(CultureInfo.InvariantCulture, $"C {partition} {first} {last}\n");
                    Report(line.ToString());
                }
            }
        }

        // A clean stop commits what was handed out (autocommit on close) and leaves the group.
        await consumer.CloseAsync();
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Times consume calls on the monotonic clock, leaving out time the process was frozen (SIGSTOP) or not scheduled:
    /// a ticker notes every gap longer than 250 ms in its own 50 ms beat, and such gaps are subtracted.
    /// </summary>
    private sealed class CallTimer : IDisposable
    {
        private readonly Timer _ticker;
        private long _lastTick = System.Diagnostics.Stopwatch.GetTimestamp();
        private long _frozenTicks;
        private long _longestMs;

        public CallTimer()
        {
            _ticker = new Timer(_ =>
            {
                var now = System.Diagnostics.Stopwatch.GetTimestamp();
                var gap = now - Interlocked.Exchange(ref _lastTick, now);
                var beat = System.Diagnostics.Stopwatch.Frequency / 4;
                if (gap > beat)
                {
                    Interlocked.Add(ref _frozenTicks, gap);
                }
            }, null, 50, 50);
        }

        public void Dispose() => _ticker.Dispose();

        public (long At, long Frozen) Start() => (System.Diagnostics.Stopwatch.GetTimestamp(), Interlocked.Read(ref _frozenTicks));

        public void Stop((long At, long Frozen) started, Action<string> report)
        {
            var elapsed = System.Diagnostics.Stopwatch.GetTimestamp() - started.At - (Interlocked.Read(ref _frozenTicks) - started.Frozen);
            var ms = Math.Max(0, elapsed * 1000 / System.Diagnostics.Stopwatch.Frequency);
            if (ms > _longestMs)
            {
                _longestMs = ms;
                report(FormattableString.Invariant($"T {ms}"));
            }
        }
    }

    private static string AllocationLine(IReadOnlyDictionary<string, IReadOnlyList<int>> allocation, string topic)
        => "A " + (allocation.TryGetValue(topic, out var partitions) ? string.Join(',', partitions.Order()) : "");

    // Offsets of one partition arrive in order within a batch; runs keep the report small.
    private static void AppendRuns(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch, StringBuilder line)
    {
        var i = 0;
        while (i < batch.Count)
        {
            var partition = batch[i].Partition;
            var first = batch[i].Offset;
            var last = first;
            i++;
            while (i < batch.Count && batch[i].Partition == partition && batch[i].Offset == last + 1)
            {
                last++;
                i++;
            }

            line.Append(CultureInfo.InvariantCulture, $"C {partition} {first} {last}\n");
        }
    }
}
