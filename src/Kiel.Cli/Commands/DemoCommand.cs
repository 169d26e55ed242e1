using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kiel.Cli.Demo;
using Kiel.Producing;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;
using Spectre.Console;
using static Kiel.Cli.CliOptions;

namespace Kiel.Cli.Commands;

/// <summary>
/// <c>kiel demo</c>: an embedded 3-broker cluster and ZooKeeper, a topic, a producer and a GroupedConsumer group whose
/// members are child processes; midway one member is killed (SIGKILL) and the others take over its partitions. It
/// ends with a verdict (produced, consumed, lost, duplicates, rebalances) and exits 0 only when nothing was lost.
/// </summary>
internal static class DemoCommand
{
    private const string Topic = "kiel-demo";
    private const string Group = "kiel-demo-group";
    private const int SessionTimeoutMs = 3000;

    private static readonly Option<int> Members = new("--members", "-m")
    {
        Description = "GroupedConsumer members (child processes), 1-16.",
        DefaultValueFactory = _ => 3,
    };

    private static readonly Option<int> Records = new("--records", "-r")
    {
        Description = "Records to produce, 1-10,000,000.",
        DefaultValueFactory = _ => 100_000,
    };

    private static readonly Option<int> Partitions = new("--partitions", "-p")
    {
        Description = "Partitions of the demo topic, 1-1000.",
        DefaultValueFactory = _ => 12,
    };

    private static readonly Option<bool> NoKill = new("--no-kill")
    {
        Description = "Do not kill a member midway.",
    };

    private static readonly Option<string> Coordination = new("--coordination")
    {
        Description = "How the members share the partitions: zookeeper (kiel's GroupedConsumer) or kafka (the GroupedConsumer as a Kafka consumer group, no ZooKeeper).",
        DefaultValueFactory = _ => "zookeeper",
    };

    private static readonly Option<int> Rate = new("--rate")
    {
        Description = "Produce at most this many records per second so the rebalance happens while records flow; 0 = as fast as possible.",
        DefaultValueFactory = _ => 20_000,
    };

    public static Command Create()
    {
        var command = new Command("demo", "Produce records while GroupedConsumer members share a topic; kill one midway and check that nothing is lost.");
        command.Options.Add(Members);
        command.Options.Add(Records);
        command.Options.Add(Partitions);
        command.Options.Add(NoKill);
        command.Options.Add(Rate);
        command.Options.Add(Coordination);
        Coordination.AcceptOnlyFromAmong("zookeeper", "kafka");
        Range(Members, 1, 16);
        Range(Records, 1, 10_000_000);
        Range(Partitions, 1, 1000);
        Range(Rate, 0, int.MaxValue);
        command.SetAction((parse, ct) => KielApp.Guard(parse, ct, RunAsync));
        return command;
    }

    private static async Task<int> RunAsync(CommandContext context)
    {
        var parse = context.Parse;
        var ct = context.CancellationToken;
        var memberCount = parse.GetValue(Members);
        var records = parse.GetValue(Records);
        var partitions = parse.GetValue(Partitions);
        var kill = !parse.GetValue(NoKill);
        var rate = parse.GetValue(Rate);
        var kafka = parse.GetValue(Coordination) == "kafka";
        if (kill && memberCount < 2)
        {
            throw new CliUsageException("--members 1 leaves nobody to take over from the killed member; use --members 2 or more, or --no-kill.");
        }

        var live = DemoView.UseLiveWidgets;
        var o = Console.Out;
        void Say(string text)
        {
            if (live)
            {
                AnsiConsole.MarkupLine($"[grey]{Markup.Escape(text)}[/]");
            }
            else
            {
                o.WriteLine(text);
                o.Flush();
            }
        }

        Say($"kiel demo: {records:N0} records, {partitions} partitions, {memberCount} GroupedConsumer member(s){(kafka ? " in a Kafka group" : "")}{(kill ? ", one killed midway" : "")}.");
        Say(kafka ? "Starting an embedded 3-broker Kafka cluster..." : "Starting an embedded 3-broker Kafka cluster and ZooKeeper...");
        await using var cluster = await EmbeddedStart.KafkaAsync(Topic, partitions, 1, context.LoggerFactory, ct);
        // A Kafka group needs no ZooKeeper; the mock's first join would otherwise wait 3 s for more members.
        await using var zookeeper = kafka ? null : await EmbeddedZooKeeper.StartAsync(cancellationToken: ct);
        if (kafka)
        {
            cluster.SetInitialRebalanceDelay(0);
        }

        Say($"  Kafka {cluster.BootstrapServers}, {(zookeeper is null ? "Kafka group coordination" : $"ZooKeeper {zookeeper.ConnectString}")}, topic {Topic} ({partitions} partitions)");

        var tracker = new DemoTracker(partitions);
        if (!live)
        {
            tracker.OnEvent = text => Say($"  * {text}");
        }

        var memberArgs = new List<string>
        {
            "--brokers", cluster.BootstrapServers, "--group", Group, "--topic", Topic,
            "--session-timeout-ms", SessionTimeoutMs.ToString(CultureInfo.InvariantCulture),
        };
        memberArgs.AddRange(zookeeper is null ? ["--coordination", "kafka"] : ["--zookeeper", zookeeper.ConnectString]);
        if (parse.GetValue(KielApp.Verbose))
        {
            memberArgs.Add("--verbose");
        }

        var members = new List<DemoMemberProcess>();
        try
        {
            Say($"Starting {memberCount} member process(es)...");
            for (var i = 0; i < memberCount; i++)
            {
                members.Add(DemoMemberProcess.Start(tracker, $"member-{i + 1}", memberArgs));
            }

            try
            {
                await Task.WhenAll(members.Select(m => m.Joined)).WaitAsync(TimeSpan.FromSeconds(90), ct);
            }
            catch (TimeoutException)
            {
                throw new InvalidOperationException("The members did not join the group within 90 s; run with --verbose to see their logs.");
            }

            await WaitUntil(tracker.FullyAllocated, TimeSpan.FromSeconds(30), ct);
            foreach (var m in members)
            {
                Say($"  {m.State.Label} ({m.State.Name}) reads {DemoMemberProcess.Describe(m.State.Partitions)}");
            }

            var run = new DemoRun(tracker, members, records, kill, live);
            var stopwatch = Stopwatch.StartNew();
            var produce = Task.Run(() => ProduceAsync(cluster.BootstrapServers, tracker, records, rate, context, ct), ct);
            if (live)
            {
                await AnsiConsole.Live(DemoView.Render(tracker.Snapshot(), records, "starting"))
                    .AutoClear(false)
                    .StartAsync(async ctx => await run.MonitorAsync(produce, stopwatch, r => { ctx.UpdateTarget(r); ctx.Refresh(); }, ct));
            }
            else
            {
                await run.MonitorAsync(produce, stopwatch, null, ct);
            }

            var producedIn = await produce;
            var consumedIn = run.AllConsumedAt ?? stopwatch.Elapsed;
            Say("Stopping the members (wind-down commits and leaves the group)...");
            await Task.WhenAll(members.Select(m => m.StopAsync(TimeSpan.FromSeconds(15))));

            var s = tracker.Snapshot();
            foreach (var m in members.Where(m => m.State.Alive && m.HasExited == false))
            {
                Say($"  {m.State.Label} did not stop: {m.StdErrTail}");
            }

            var rebalances = run.RebalancedAfter is null ? 0 : 1;
            var verdict = FormattableString.Invariant(
                $"{s.Produced} produced, {s.DistinctConsumed} consumed, {s.Lost} lost, {s.Duplicates} duplicates, {rebalances} rebalance{(rebalances == 1 ? "" : "s")}");
            o.WriteLine();
            o.WriteLine(verdict);
            o.WriteLine(FormattableString.Invariant(
                $"throughput: produced {PerSecond(s.Produced, producedIn)} records/s over {producedIn.TotalSeconds:F1} s{(rate > 0 ? FormattableString.Invariant($" (paced at {rate:N0}/s; --rate 0 for full speed)") : "")}, consumed {PerSecond(s.DistinctConsumed, consumedIn)} records/s end to end"));
            if (run.RebalancedAfter is { } took)
            {
                o.WriteLine(FormattableString.Invariant(
                    $"rebalance: {run.KilledLabel} was killed (SIGKILL); its partitions moved to the survivors {took.TotalSeconds:F1} s later ({(kafka ? "Kafka group" : "ZooKeeper")} session timeout {SessionTimeoutMs} ms)."));
            }
            else if (kill)
            {
                o.WriteLine("rebalance: the killed member's partitions were not taken over in time.");
            }

            if (s.Duplicates > 0)
            {
                o.WriteLine("duplicates: records the killed member had read but not yet committed were read again by their new owner; GroupedConsumer is at-least-once.");
            }

            if (s.Failed > 0)
            {
                o.WriteLine(FormattableString.Invariant($"failed to produce: {s.Failed} ({s.FirstError})"));
            }

            var ok = s.Lost == 0 && s.Failed == 0 && s.Produced == records;
            o.WriteLine(ok ? "verdict: OK, nothing lost." : "verdict: FAILED, records were lost.");
            o.Flush();
            return ok ? ExitCodes.Ok : ExitCodes.Failure;
        }
        finally
        {
            foreach (var m in members)
            {
                await m.DisposeAsync();
            }
        }
    }

    private static string PerSecond(long count, TimeSpan elapsed)
        => (elapsed.TotalSeconds <= 0 ? 0 : count / elapsed.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture);

    private static async Task WaitUntil(Func<bool> condition, TimeSpan bound, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition() && deadline.Elapsed < bound)
        {
            await Task.Delay(100, ct);
        }
    }

    private static async Task<TimeSpan> ProduceAsync(string bootstrap, DemoTracker tracker, int records, int rate, CommandContext context, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        await using (var producer = new KielProducer<byte[], byte[]>(
            new KielProducerOptions { BootstrapServers = bootstrap, ClientId = "kiel-demo", LoggerFactory = context.LoggerFactory },
            Serializers.Bytes,
            Serializers.Bytes))
        {
            DeliveryHandler onDelivery = (in DeliveryReport r) =>
            {
                if (r.IsDelivered)
                {
                    tracker.Delivered(r.Partition, r.Offset);
                }
                else
                {
                    tracker.Failed(r.Error?.Message ?? "unknown error");
                }
            };
            var payload = new byte[100];
            for (var i = 0; i < records; i++)
            {
                ct.ThrowIfCancellationRequested();
                if (rate > 0 && i % 100 == 0)
                {
                    var due = TimeSpan.FromSeconds((double)i / rate);
                    if (due > stopwatch.Elapsed)
                    {
                        await Task.Delay(due - stopwatch.Elapsed, ct);
                    }
                }

                var key = Encoding.ASCII.GetBytes(i.ToString(CultureInfo.InvariantCulture));
                var value = new byte[payload.Length];
                key.CopyTo(value, 0);
                producer.Produce(Topic, key, value, onDelivery: onDelivery);
            }

            await producer.FlushAsync(ct);
        }

        return stopwatch.Elapsed;
    }
}
