using System.Diagnostics;
using System.Globalization;
using Kiel.Cli.Demo;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;
using Microsoft.Extensions.Logging;

namespace Kiel.Cli.Chaos;

/// <summary>What a campaign runs: seed, length, coordination, load and fault rate.</summary>
internal sealed record ChaosSettings(
    int Seed,
    TimeSpan Duration,
    bool Kafka,
    int Members,
    int Partitions,
    int Rate,
    bool Soak,
    TimeSpan FaultEvery,
    TimeSpan SampleEvery,
    bool Verbose);

/// <summary>
/// One campaign: an embedded 3-broker cluster behind a <see cref="FaultProxy"/>, (for ZooKeeper coordination) a
/// 3-server ensemble, consumer members as <c>kiel demo-member</c> child processes, an idempotent producer as a
/// <c>kiel chaos-producer</c> child process (this process keeps the bookkeeping of every record it reports), and a
/// fault schedule drawn from the seed. At the end every fault is healed, the consumers catch up, and
/// the checks run: acked ⊆ consumed, duplicates only after crashes/expiries, per-partition order of the acked
/// records, and no call longer than its timeout plus a margin: <see cref="DeliveryMargin"/> for the producer's delivery
/// reports and calls, <see cref="Margin"/> for consume calls.
/// </summary>
internal sealed class ChaosRun(ChaosSettings settings, ILoggerFactory? loggerFactory, TextWriter output)
{
    /// <summary>A call may overrun its configured timeout by this much before it counts as a hang.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A delivery report may come this much after DeliveryTimeout: the producer expires queued and in-flight batches at
    /// the deadline (a request in flight is abandoned then), so what is left is the send loop's pass and a loaded
    /// machine's scheduling. Below RequestTimeout (10 s) on purpose: a batch in flight reported only when its request
    /// timed out would fail the run.
    /// </summary>
    public static readonly TimeSpan DeliveryMargin = TimeSpan.FromSeconds(5);

    private const string Topic = "kiel-chaos";
    private const string Group = "kiel-chaos-group";
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PollTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CatchUpBound = TimeSpan.FromSeconds(120);

    private readonly Random _random = new(settings.Seed);
    private readonly SortedDictionary<string, int> _faults = new(StringComparer.Ordinal);
    private readonly List<DemoMemberProcess> _members = [];
    private readonly List<Task> _heals = [];
    private readonly Lock _producedGate = new();
    private readonly List<(int Partition, long Offset)> _acked = [];
    private readonly DemoTracker _tracker = new(settings.Partitions);
    private EmbeddedKafkaCluster? _cluster;
    private FaultProxy? _proxy;
    private EmbeddedZooKeeperEnsemble? _ensemble;
    private ChaosProducerProcess? _producer;
    private string? _producerProblem;
    private long _reports;
    private List<string> _memberArgs = [];
    private int _nextMember;
    private long _ackedCount;
    private long _failedCount;
    private string? _firstError;
    private long _longestDeliveryMs;
    private long _longestProduceCallMs;
    private int _brokerDown = -1;
    private int _zkDown = -1;
    private DemoMemberProcess? _frozen;

    private TimeSpan SessionTimeout => settings.Kafka ? TimeSpan.FromSeconds(6) : TimeSpan.FromSeconds(4);

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var mode = settings.Kafka ? "KielConsumer members in a Kafka group" : "GroupedConsumer members over a 3-server ZooKeeper ensemble";
        Say(FormattableString.Invariant(
            $"kiel chaos{(settings.Soak ? " --soak" : "")}: seed {settings.Seed}, {settings.Duration.TotalSeconds:F0} s, {settings.Members} {mode}, {settings.Partitions} partitions, {settings.Rate} records/s, a fault every {settings.FaultEvery.TotalSeconds:F1} s on average."));
        try
        {
            _cluster = await EmbeddedStart.KafkaAsync(Topic, settings.Partitions, 3, loggerFactory, ct);
            _proxy = FaultProxy.Start(_cluster.BootstrapServers, settings.Seed, loggerFactory);
            if (!settings.Kafka)
            {
                // A loaded machine (the campaign runs for a long time beside other work) can take minutes to start three JVMs.
                _ensemble = await EmbeddedZooKeeperEnsemble.StartAsync(3, new EmbeddedZooKeeperOptions { StartTimeout = TimeSpan.FromMinutes(3) }, ct);
            }

            Say($"  Kafka {_cluster.BootstrapServers} behind the fault proxy {_proxy.BootstrapServers}{(_ensemble is null ? "" : $", ZooKeeper {_ensemble.ConnectString}")}");
            _memberArgs =
            [
                "--brokers", _proxy.BootstrapServers, "--group", Group, "--topic", Topic,
                "--coordination", settings.Kafka ? "kafka-consumer" : "zookeeper",
                "--session-timeout-ms", ((int)SessionTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
                "--poll-timeout-ms", ((int)PollTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            ];
            if (_ensemble is not null)
            {
                _memberArgs.AddRange(["--zookeeper", _ensemble.ConnectString]);
            }

            if (settings.Soak)
            {
                _memberArgs.AddRange(["--sample-ms", ((int)Math.Max(1000, settings.SampleEvery.TotalMilliseconds / 2)).ToString(CultureInfo.InvariantCulture)]);
            }

            if (settings.Verbose)
            {
                _memberArgs.Add("--verbose");
            }

            for (var i = 0; i < settings.Members; i++)
            {
                StartMember();
            }

            try
            {
                await Task.WhenAll(_members.Select(m => m.Joined)).WaitAsync(TimeSpan.FromSeconds(180), ct);
            }
            catch (TimeoutException)
            {
                throw new CliFailureException("The members did not join within 180 s; run with --verbose to see their logs.");
            }

            await WaitUntil(_tracker.FullyAllocated, TimeSpan.FromSeconds(60), ct);
            Say("  Members joined; producing under faults...");

            var sampler = settings.Soak ? new SoakSampler(settings, output) : null;
            using var faultsStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var faults = Task.Run(() => FaultLoopAsync(faultsStop.Token), CancellationToken.None);
            var sampling = sampler is null ? Task.CompletedTask : Task.Run(() => sampler.RunAsync(LiveProcesses, faultsStop.Token), CancellationToken.None);
            var producing = ProduceAsync(ct);
            try
            {
                await producing;
            }
            finally
            {
                await faultsStop.CancelAsync();
                await faults.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await sampling.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await HealAllAsync();
            }

            Say("  Faults healed; waiting for the consumers to catch up...");
            await WaitUntil(() => Unconsumed() == 0, CatchUpBound, ct);
            await Task.WhenAll(_members.Select(m => m.StopAsync(TimeSpan.FromSeconds(20))));
            LogCheck.Result? audit = null;
            using (var auditBound = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                (int, long)[] acked;
                lock (_producedGate)
                {
                    acked = [.. _acked];
                }

                // The bound grows with the run (the verdict states it): a soak's read-back of many tiny batches is slow.
                auditBound.CancelAfter(ReadBackBound.For(acked.Length));

                try
                {
                    audit = await LogAudit.RunAsync(_cluster.BootstrapServers, Topic, settings.Partitions, acked, loggerFactory, auditBound.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    // Reported as a failure by the verdict, which still prints (and the soak its samples).
                }
            }

            var ok = Verdict(audit);
            if (sampler is not null)
            {
                ok &= sampler.Report();
            }

            return ok ? ExitCodes.Ok : ExitCodes.Failure;
        }
        finally
        {
            foreach (var m in _members)
            {
                Signals.Continue(m);
                await m.DisposeAsync();
            }

            if (_producer is not null)
            {
                await _producer.DisposeAsync();
            }

            if (_proxy is not null)
            {
                await _proxy.DisposeAsync();
            }

            if (_ensemble is not null)
            {
                await _ensemble.DisposeAsync();
            }

            if (_cluster is not null)
            {
                await _cluster.DisposeAsync();
            }
        }
    }

    private IEnumerable<(string Label, int Pid, long? GcHeap, bool Judged)> LiveProcesses()
    {
        // This process holds the embedded cluster (its in-memory log grows with every record), the proxy and the
        // verdict's record of every record sent, so it is reported but not judged; the producer has a process of its own.
        yield return ("kiel (cluster, proxy, bookkeeping)", Environment.ProcessId, GC.GetTotalMemory(false), false);
        if (_producer is { HasExited: false } producer)
        {
            yield return ("producer", producer.Pid, producer.GcHeapBytes, true);
        }

        foreach (var m in _members.ToArray())
        {
            if (m.State.Alive && !m.HasExited)
            {
                yield return (m.State.Label, m.Pid, m.State.GcHeapBytes == 0 ? null : m.State.GcHeapBytes, true);
            }
        }
    }

    private void Say(string text)
    {
        lock (output)
        {
            output.WriteLine(text);
            output.Flush();
        }
    }

    private void StartMember()
    {
        var label = $"member-{++_nextMember}";
        var member = DemoMemberProcess.Start(_tracker, label, _memberArgs, forwardLog: settings.Verbose);
        lock (_members)
        {
            _members.Add(member);
        }
    }

    private void Count(string kind)
    {
        lock (_faults)
        {
            _faults[kind] = _faults.GetValueOrDefault(kind) + 1;
        }
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan bound, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition() && deadline.Elapsed < bound)
        {
            await Task.Delay(200, ct);
        }
    }

    private long Unconsumed()
    {
        (int Partition, long Offset)[] acked;
        lock (_producedGate)
        {
            acked = [.. _acked.Where(a => a.Partition >= 0)];
        }

        return acked.LongCount(a => _tracker.TimesConsumed(a.Partition, a.Offset) == 0);
    }

    private async Task ProduceAsync(CancellationToken ct)
    {
        List<string> args =
        [
            "--brokers", _proxy!.BootstrapServers, "--topic", Topic,
            "--rate", settings.Rate.ToString(CultureInfo.InvariantCulture),
            "--duration-ms", ((long)settings.Duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            "--delivery-timeout-ms", ((int)DeliveryTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            "--request-timeout-ms", "10000",
            // Every record ends within the delivery timeout: delivered or failed.
            "--flush-bound-ms", ((int)(DeliveryTimeout + DeliveryMargin).TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
        ];
        if (settings.Soak)
        {
            args.AddRange(["--sample-ms", ((int)Math.Max(1000, settings.SampleEvery.TotalMilliseconds / 2)).ToString(CultureInfo.InvariantCulture)]);
        }

        if (settings.Verbose)
        {
            args.Add("--verbose");
        }

        _producer = ChaosProducerProcess.Start(args, Delivered, Failed, ms => Max(ref _longestProduceCallMs, ms), settings.Verbose);
        // Production, the final flush, and a loaded machine's start of a .NET process.
        var bound = settings.Duration + DeliveryTimeout + DeliveryMargin + TimeSpan.FromSeconds(60);
        ProducerEnd end;
        try
        {
            end = await _producer.Ended.WaitAsync(bound, ct);
        }
        catch (TimeoutException)
        {
            end = new ProducerEnd(-1, -1, false, FormattableString.Invariant($"the producer did not finish within {bound.TotalSeconds:F0} s"));
        }

        await _producer.StopAsync(TimeSpan.FromSeconds(10));
        if (end.Error is not null)
        {
            _producerProblem = end.Error;
            return;
        }

        Max(ref _longestProduceCallMs, end.FlushMs);
        if (end.FlushTimedOut)
        {
            Say("  the producer's flush did not end within the delivery timeout plus the margin");
        }

        lock (_producedGate)
        {
            Grow(end.Produced - 1);
            if (_reports != end.Produced)
            {
                _producerProblem = FormattableString.Invariant($"{end.Produced - _reports} of {end.Produced} record(s) got no delivery report");
            }
        }
    }

    /// <summary>Makes room for record <paramref name="seq"/> in the bookkeeping (reports arrive out of order across partitions).</summary>
    private void Grow(long seq)
    {
        while (_acked.Count <= seq)
        {
            _acked.Add((-1, -1));
        }
    }

    private void Delivered(long seq, int partition, long offset, long ms)
    {
        Max(ref _longestDeliveryMs, ms);
        lock (_producedGate)
        {
            Grow(seq);
            _acked[(int)seq] = (partition, offset);
            _ackedCount++;
            _reports++;
        }

        _tracker.Delivered(partition, offset);
    }

    private void Failed(long seq, long ms, string reason)
    {
        Max(ref _longestDeliveryMs, ms);
        lock (_producedGate)
        {
            Grow(seq);
            _failedCount++;
            _reports++;
            _firstError ??= reason;
        }
    }

    private static void Max(ref long field, long value)
    {
        long seen;
        while (value > (seen = Interlocked.Read(ref field)))
        {
            if (Interlocked.CompareExchange(ref field, value, seen) == seen)
            {
                return;
            }
        }
    }

    // ---- faults ----------------------------------------------------------------------------------------------------

    private int Next(int min, int maxExclusive)
    {
        lock (_random)
        {
            return _random.Next(min, maxExclusive);
        }
    }

    private TimeSpan Between(double minSeconds, double maxSeconds)
    {
        lock (_random)
        {
            return TimeSpan.FromSeconds(minSeconds + (_random.NextDouble() * (maxSeconds - minSeconds)));
        }
    }

    private string[] Kinds()
    {
        var kinds = new List<string>
        {
            "broker-down", "leader-move", "coordinator-move", "error-codes", "latency",
            "proxy-cut", "proxy-half-open", "proxy-stall", "proxy-slow", "member-stall", "session-expiry",
        };
        if (!settings.Kafka)
        {
            kinds.Add("zk-server-loss");
        }

        if (!settings.Soak)
        {
            kinds.Add("member-crash");
        }

        return [.. kinds];
    }

    private async Task FaultLoopAsync(CancellationToken ct)
    {
        var kinds = Kinds();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Between(settings.FaultEvery.TotalSeconds * 0.5, settings.FaultEvery.TotalSeconds * 1.5), ct);
                var kind = kinds[Next(0, kinds.Length)];
                if (await ApplyAsync(kind, ct))
                {
                    Count(kind);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Applies one fault; false when it does not apply now (one broker, one ZooKeeper server, one member frozen at a time).</summary>
    private async Task<bool> ApplyAsync(string kind, CancellationToken ct)
    {
        var cluster = _cluster!;
        var proxy = _proxy!;
        var broker = Next(1, 4);
        var listener = Next(0, proxy.ListenerCount);
        switch (kind)
        {
            case "broker-down":
                if (_brokerDown > 0)
                {
                    return false;
                }

                _brokerDown = broker;
                cluster.SetBrokerDown(broker);
                Later(Between(2, 6), () =>
                {
                    cluster.SetBrokerUp(broker);
                    _brokerDown = -1;
                });
                return true;
            case "leader-move":
                cluster.SetPartitionLeader(Topic, Next(0, settings.Partitions), broker);
                return true;
            case "coordinator-move":
                cluster.SetGroupCoordinator(Group, broker);
                return true;
            case "error-codes":
            {
                var (api, codes) = ErrorTable[Next(0, ErrorTable.Length)];
                var count = Next(1, 4);
                var pushed = new int[count];
                for (var i = 0; i < count; i++)
                {
                    pushed[i] = codes[Next(0, codes.Length)];
                }

                cluster.PushRequestErrors(api, pushed);
                return true;
            }

            case "latency":
                cluster.SetBrokerRtt(broker, Next(100, 800));
                Later(Between(2, 5), () => cluster.SetBrokerRtt(broker, 0));
                return true;
            case "proxy-cut":
                if (Next(0, 2) == 0)
                {
                    proxy.Cut();
                }
                else
                {
                    proxy.Cut(listener);
                }

                return true;
            case "proxy-half-open":
                proxy.Stall(Between(5, 12), listener);
                return true;
            case "proxy-stall":
                proxy.Stall(Between(0.5, 2), Next(0, 2) == 0 ? null : listener);
                return true;
            case "proxy-slow":
                proxy.Slow(TimeSpan.FromMilliseconds(Next(20, 100)), listener);
                Later(Between(3, 6), () => proxy.Slow(TimeSpan.Zero, listener));
                return true;
            case "zk-server-loss":
            {
                if (_zkDown >= 0 || _ensemble is null)
                {
                    return false;
                }

                var server = Next(0, _ensemble.Count);
                _zkDown = server;
                await _ensemble.StopServerAsync(server, ct);
                var ensemble = _ensemble;
                LaterAsync(Between(3, 8), async () =>
                {
                    await ensemble.StartServerAsync(server, CancellationToken.None);
                    _zkDown = -1;
                });
                return true;
            }

            case "member-stall":
            case "session-expiry":
            {
                if (_frozen is not null)
                {
                    return false;
                }

                var live = LiveMembers();
                if (live.Length == 0)
                {
                    return false;
                }

                var member = live[Next(0, live.Length)];
                _frozen = member;
                Signals.Stop(member);
                var frozenFor = kind == "session-expiry" ? SessionTimeout + Between(1, 3) : Between(0.3, 1.5);
                Later(frozenFor, () =>
                {
                    Signals.Continue(member);
                    _frozen = null;
                });
                return true;
            }

            case "member-crash":
            {
                var live = LiveMembers().Where(m => m != _frozen).ToArray();
                if (live.Length < 2)
                {
                    return false;
                }

                live[Next(0, live.Length)].Kill();
                StartMember();
                return true;
            }

            default:
                return false;
        }
    }

    private DemoMemberProcess[] LiveMembers()
    {
        lock (_members)
        {
            // Only members that joined: a crash or stall of one still starting would leave the group with nobody reading.
            return [.. _members.Where(m => m.State.Alive && !m.HasExited && m.Joined.IsCompletedSuccessfully)];
        }
    }

    /// <summary>Retriable errors on the APIs the clients use: Produce, Fetch, ListOffsets, Metadata, OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, SyncGroup, InitProducerId; and a dropped connection.</summary>
    private static readonly (short Api, int[] Codes)[] ErrorTable =
    [
        (0, [6, 7, 19, EmbeddedKafkaCluster.DisconnectErrorCode]),
        (1, [6, EmbeddedKafkaCluster.DisconnectErrorCode]),
        (2, [6, 5]),
        (3, [EmbeddedKafkaCluster.DisconnectErrorCode]),
        (8, [15, 16, EmbeddedKafkaCluster.DisconnectErrorCode]),
        (9, [14, 15, 16]),
        (10, [15]),
        (11, [16, 15]),
        (12, [16, 27]),
        (14, [16, 27]),
        (22, [15, 16]),
    ];

    private void Later(TimeSpan after, Action heal) => LaterAsync(after, () =>
    {
        heal();
        return Task.CompletedTask;
    });

    private void LaterAsync(TimeSpan after, Func<Task> heal)
    {
        var task = Task.Run(async () =>
        {
            await Task.Delay(after, CancellationToken.None);
            await heal();
        }, CancellationToken.None);
        lock (_heals)
        {
            _heals.Add(task);
        }
    }

    private async Task HealAllAsync()
    {
        Task[] heals;
        lock (_heals)
        {
            heals = [.. _heals];
        }

        try
        {
            await Task.WhenAll(heals).WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or IOException)
        {
            Say($"  a heal failed: {e.Message}");
        }

        _cluster!.SetBrokerUp(EmbeddedKafkaCluster.AllBrokers);
        _cluster.SetBrokerRtt(EmbeddedKafkaCluster.AllBrokers, 0);
        _proxy!.Heal();
        foreach (var m in LiveMembers())
        {
            Signals.Continue(m);
        }

        if (_ensemble is not null)
        {
            for (var i = 0; i < _ensemble.Count; i++)
            {
                if (!_ensemble.IsRunning(i))
                {
                    await _ensemble.StartServerAsync(i, CancellationToken.None);
                }
            }
        }
    }

    // ---- verdict ---------------------------------------------------------------------------------------------------

    private bool Verdict(LogCheck.Result? audit)
    {
        (int Partition, long Offset)[] acked;
        long produced;
        lock (_producedGate)
        {
            acked = [.. _acked];
            produced = _acked.Count;
        }

        var lost = new List<string>();
        long lostCount = 0;
        for (var seq = 0; seq < acked.Length; seq++)
        {
            var (p, o) = acked[seq];
            if (p >= 0 && _tracker.TimesConsumed(p, o) == 0 && lostCount++ < 20)
            {
                lost.Add(FormattableString.Invariant($"record {seq} at {p}/{o}"));
            }
        }

        // A retry's report may name the mock's second copy of a record, after later records (LogCheck's remarks).
        var orderViolations = LogCheck.ReportOrder(acked, settings.Partitions, audit?.AckedAtLaterCopy);

        var s = _tracker.Snapshot();
        var longestConsumeMs = _members.Count == 0 ? 0 : _members.Max(m => m.State.LongestCallMs);
        var maxStall = Math.Max(Math.Max(_longestDeliveryMs, _longestProduceCallMs), longestConsumeMs);
        string faults;
        lock (_faults)
        {
            faults = _faults.Count == 0 ? "none" : string.Join(", ", _faults.Select(kv => $"{kv.Key} {kv.Value}"));
        }

        var problems = new List<string>();
        if (_producerProblem is not null)
        {
            problems.Add(_producerProblem);
        }

        if (lostCount > 0)
        {
            problems.Add($"{lostCount} acknowledged record(s) never consumed, e.g. {string.Join("; ", lost)}");
        }

        if (orderViolations.Count > 0)
        {
            problems.Add($"per-partition order broken: {string.Join("; ", orderViolations)}");
        }

        if (_longestDeliveryMs > (DeliveryTimeout + DeliveryMargin).TotalMilliseconds)
        {
            problems.Add(FormattableString.Invariant($"a record waited {_longestDeliveryMs} ms for its delivery report (delivery timeout {DeliveryTimeout.TotalMilliseconds} ms + margin {DeliveryMargin.TotalMilliseconds} ms)"));
        }

        if (_longestProduceCallMs > (DeliveryTimeout + DeliveryMargin).TotalMilliseconds)
        {
            problems.Add(FormattableString.Invariant($"a Produce/Flush call took {_longestProduceCallMs} ms (bound {(DeliveryTimeout + DeliveryMargin).TotalMilliseconds} ms)"));
        }

        if (longestConsumeMs > (PollTimeout + Margin).TotalMilliseconds)
        {
            problems.Add(FormattableString.Invariant($"a consume call took {longestConsumeMs} ms (poll bound {PollTimeout.TotalMilliseconds} ms + margin {Margin.TotalMilliseconds} ms)"));
        }

        if (audit is null)
        {
            problems.Add(FormattableString.Invariant($"reading the topic back from the cluster did not finish within its bound, {ReadBackBound.Describe(acked.Length)}"));
        }
        else if (audit.MisplacedCount > 0)
        {
            problems.Add($"{audit.MisplacedCount} acknowledged record(s) not at their acked offset in the log, e.g. {string.Join("; ", audit.Misplaced)}");
        }

        if (audit is { OrderViolationCount: > 0 })
        {
            problems.Add($"the log breaks the producer's order {audit.OrderViolationCount} time(s), e.g. {string.Join("; ", audit.OrderViolations)}");
        }

        var excusing = DuplicateCauses();
        if (s.Duplicates > 0 && excusing == 0)
        {
            problems.Add($"{s.Duplicates} duplicate(s) without a member crash, stall or session expiry");
        }

        var line = FormattableString.Invariant(
            $"seed {settings.Seed}: {produced} produced, {_ackedCount} acked, {s.DistinctConsumed} consumed, {lostCount} lost, {s.Duplicates} duplicates, max stall {maxStall} ms, faults: {faults}");
        Say("");
        Say(line);
        Say(audit is null ? $"  log read back: did not finish within {ReadBackBound.Describe(acked.Length)}" : FormattableString.Invariant(
            $"  log read back (bound {ReadBackBound.Describe(acked.Length)}): {audit.Records} record(s), {audit.LogDuplicates} appended twice (retries the mock does not deduplicate; {audit.AckedAtLaterCopy.Count} reported at the second copy), {audit.MisplacedCount} acked record(s) misplaced, {audit.OrderViolationCount} order violation(s)"));
        Say(FormattableString.Invariant(
            $"  longest: delivery report {_longestDeliveryMs} ms, Produce/Flush call {_longestProduceCallMs} ms, consume call {longestConsumeMs} ms (frozen time left out); {_failedCount} record(s) failed to produce{(_firstError is null ? "" : $" (first: {_firstError})")}"));
        if (s.Duplicates > 0)
        {
            Say($"  duplicates: allowed after the run's {excusing} member crash(es), stall(s), session expiries{(settings.Kafka ? " and group disruptions" : " and ZooKeeper server losses")}; at-least-once.");
        }

        if (problems.Count == 0)
        {
            Say("verdict: OK, nothing acknowledged lost, no call hung, order held.");
            return true;
        }

        foreach (var p in problems)
        {
            Say($"  FAILED: {p}");
        }

        // What the members held when the consumers stopped, and how far each partition with a loss was read.
        Say("  members at the end: " + string.Join("; ", s.Members.Select(m =>
            FormattableString.Invariant($"{m.Label} {(m.Alive ? "alive" : "gone")} ({m.Status}) [{string.Join(',', m.Partitions)}] consumed {m.Consumed}"))));
        foreach (var m in _members.Where(m => m.State.Alive && !m.Joined.IsCompletedSuccessfully))
        {
            Say($"  {m.State.Label} never joined; its stderr: {(m.StdErrTail.Length == 0 ? "(empty)" : m.StdErrTail)}");
        }

        foreach (var p in acked.Where(a => a.Partition >= 0 && _tracker.TimesConsumed(a.Partition, a.Offset) == 0).Select(a => a.Partition).Distinct().Order())
        {
            var firstLost = acked.Where(a => a.Partition == p && _tracker.TimesConsumed(p, a.Offset) == 0).Min(a => a.Offset);
            var lastAcked = acked.Where(a => a.Partition == p).Max(a => a.Offset);
            Say(FormattableString.Invariant(
                $"  partition {p}: first unconsumed acked offset {firstLost}, last acked {lastAcked}, held at the end by {string.Join(", ", s.Members.Where(m => m.Partitions.Contains(p)).Select(m => m.Label).DefaultIfEmpty("nobody"))}"));
        }

        Say($"verdict: FAILED (seed {settings.Seed}; replay: kiel chaos --seed {settings.Seed} --duration {settings.Duration.TotalSeconds:F0}s --coordination {(settings.Kafka ? "kafka" : "zookeeper")})");
        return false;
    }

    /// <summary>
    /// Faults after which a record may be handed out twice: a member crash (uncommitted records are read again),
    /// a stall or session expiry (the group moves on), a ZooKeeper server loss (a session may expire), and for a Kafka
    /// group anything that can cost a member its heartbeat (coordinator moves, broker loss, proxy faults, error codes).
    /// </summary>
    private int DuplicateCauses()
    {
        string[] causes = settings.Kafka
            ? ["member-crash", "member-stall", "session-expiry", "coordinator-move", "broker-down", "proxy-cut", "proxy-half-open", "proxy-stall", "error-codes", "latency"]
            : ["member-crash", "member-stall", "session-expiry", "zk-server-loss"];
        lock (_faults)
        {
            return causes.Sum(c => _faults.GetValueOrDefault(c));
        }
    }
}
