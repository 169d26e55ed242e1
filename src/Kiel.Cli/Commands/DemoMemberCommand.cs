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
/// </summary>
internal static class DemoMemberCommand
{
    private static readonly Option<string> Brokers = new("--brokers", "-b") { Required = true };
    private static readonly Option<string> ZooKeeper = new("--zookeeper", "-z");
    private static readonly Option<string> Coordination = new("--coordination") { DefaultValueFactory = _ => "zookeeper" };
    private static readonly Option<string> Group = new("--group") { Required = true };
    private static readonly Option<string> Topic = new("--topic") { Required = true };
    private static readonly Option<int> SessionTimeoutMs = new("--session-timeout-ms") { DefaultValueFactory = _ => 3000 };

    public static Command Create()
    {
        var command = new Command("demo-member", "One member of kiel demo (internal).") { Hidden = true };
        command.Options.Add(Brokers);
        command.Options.Add(ZooKeeper);
        command.Options.Add(Group);
        command.Options.Add(Topic);
        command.Options.Add(SessionTimeoutMs);
        command.Options.Add(Coordination);
        Coordination.AcceptOnlyFromAmong("zookeeper", "kafka");
        command.SetAction((parse, ct) => KielApp.Guard(parse, ct, RunAsync));
        return command;
    }

    private static async Task<int> RunAsync(CommandContext context)
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
            ZooKeeperSessionTimeout = TimeSpan.FromMilliseconds(parse.GetValue(SessionTimeoutMs)),
            FetchMaxWait = TimeSpan.FromMilliseconds(200),
            LoggerFactory = context.LoggerFactory,
        };

        var stdout = Console.Out;
        await using var consumer = new GroupedConsumer<byte[]?>(options, Deserializers.Bytes);
        consumer.AllocationChanged += e =>
        {
            stdout.WriteLine(AllocationLine(e.Allocation, topic));
            stdout.Flush();
            return Task.CompletedTask;
        };

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        // The parent closes our stdin to ask for a clean stop.
        _ = Task.Run(() =>
        {
            try
            {
                while (Console.In.ReadLine() is not null)
                {
                }
            }
            finally
            {
                stop.Cancel();
            }
        }, CancellationToken.None);

        await consumer.ConnectAsync(stop.Token);
        stdout.WriteLine($"N {consumer.Name}");
        stdout.WriteLine(AllocationLine(consumer.Allocation, topic));
        stdout.Flush();

        var line = new StringBuilder();
        while (!stop.IsCancellationRequested)
        {
            IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> batch;
            try
            {
                batch = await consumer.ConsumeRecordsAsync(topic, StartPosition.Beginning, stop.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }

            if (batch.Count == 0)
            {
                continue;
            }

            line.Clear();
            AppendRuns(batch, line);
            stdout.Write(line.ToString());
            stdout.Flush();
        }

        // A clean stop commits what was handed out (autocommit) and leaves the group.
        await consumer.WindDownAsync(CancellationToken.None);
        return ExitCodes.Ok;
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
