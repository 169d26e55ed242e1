using System.CommandLine;
using System.Globalization;
using Kiel.Cli.Chaos;
using static Kiel.Cli.CliOptions;

namespace Kiel.Cli.Commands;

/// <summary>
/// <c>kiel chaos</c>: a seeded fault campaign against the embedded cluster (see <see cref="ChaosRun"/>); with
/// <c>--soak</c>, steady load with periodic faults while every client process is sampled.
/// </summary>
internal static class ChaosCommand
{
    private static readonly Option<int?> Seed = new("--seed", "-s")
    {
        Description = "Seed of the fault schedule (printed in the verdict; pass it again to replay a run). Default: a random one.",
    };

    private static readonly Option<string> Duration = new("--duration", "-d")
    {
        Description = "How long to produce under faults: 90s, 5m, 1h or plain seconds. Default 60s.",
        DefaultValueFactory = _ => "60s",
    };

    private static readonly Option<string> Coordination = new("--coordination", "-c")
    {
        Description = "zookeeper: GroupedConsumer members over a 3-server ZooKeeper ensemble; kafka: KielConsumer members in a Kafka group.",
        DefaultValueFactory = _ => "zookeeper",
    };

    private static readonly Option<int> Members = new("--members", "-m")
    {
        Description = "Consumer members (child processes), 1-8.",
        DefaultValueFactory = _ => 3,
    };

    private static readonly Option<int> Partitions = new("--partitions", "-p")
    {
        Description = "Partitions of the topic, 1-64.",
        DefaultValueFactory = _ => 6,
    };

    private static readonly Option<int> Rate = new("--rate")
    {
        Description = "Records per second the producer offers, 1-100,000.",
        DefaultValueFactory = _ => 300,
    };

    private static readonly Option<bool> Soak = new("--soak")
    {
        Description = "Soak: steady load, a fault every --fault-every on average (no member crashes), and every client process sampled every --sample-every; fails when memory, handles, threads or connections grow after warm-up.",
    };

    private static readonly Option<string?> FaultEvery = new("--fault-every")
    {
        Description = "Average gap between faults (default 2s, with --soak 15s).",
    };

    private static readonly Option<string> SampleEvery = new("--sample-every")
    {
        Description = "With --soak: how often to sample each process. Default 10s.",
        DefaultValueFactory = _ => "10s",
    };

    public static Command Create()
    {
        var command = new Command("chaos", "Run a seeded fault campaign (brokers, leaders, coordinators, error codes, latency, TCP cuts, ZooKeeper, member crashes and stalls) and check that nothing acknowledged is lost and no call hangs.");
        command.Options.Add(Seed);
        command.Options.Add(Duration);
        command.Options.Add(Coordination);
        command.Options.Add(Members);
        command.Options.Add(Partitions);
        command.Options.Add(Rate);
        command.Options.Add(Soak);
        command.Options.Add(FaultEvery);
        command.Options.Add(SampleEvery);
        Coordination.AcceptOnlyFromAmong("zookeeper", "kafka");
        Range(Members, 1, 8);
        Range(Partitions, 1, 64);
        Range(Rate, 1, 100_000);
        command.SetAction((parse, ct) => KielApp.Guard(parse, ct, RunAsync));
        return command;
    }

    /// <summary>Parses <c>90s</c>, <c>5m</c>, <c>1h</c>, <c>250ms</c> or plain seconds.</summary>
    internal static TimeSpan ParseDuration(string text, string option)
    {
        var t = text.Trim();
        double factor = 1;
        if (t.EndsWith("ms", StringComparison.OrdinalIgnoreCase))
        {
            factor = 0.001;
            t = t[..^2];
        }
        else if (t.EndsWith('s') || t.EndsWith('S'))
        {
            t = t[..^1];
        }
        else if (t.EndsWith('m') || t.EndsWith('M'))
        {
            factor = 60;
            t = t[..^1];
        }
        else if (t.EndsWith('h') || t.EndsWith('H'))
        {
            factor = 3600;
            t = t[..^1];
        }

        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n <= 0 || n * factor > 7 * 24 * 3600)
        {
            throw new CliUsageException($"{option} '{text}' is not a duration; write e.g. 90s, 5m or 1h.");
        }

        return TimeSpan.FromSeconds(n * factor);
    }

    private static async Task<int> RunAsync(CommandContext context)
    {
        var parse = context.Parse;
        var soak = parse.GetValue(Soak);
        var settings = new ChaosSettings(
            Seed: parse.GetValue(Seed) ?? Random.Shared.Next(1, 1_000_000),
            Duration: ParseDuration(parse.GetValue(Duration)!, "--duration"),
            Kafka: parse.GetValue(Coordination) == "kafka",
            Members: parse.GetValue(Members),
            Partitions: parse.GetValue(Partitions),
            Rate: parse.GetValue(Rate),
            Soak: soak,
            FaultEvery: parse.GetValue(FaultEvery) is { } every ? ParseDuration(every, "--fault-every") : TimeSpan.FromSeconds(soak ? 15 : 2),
            SampleEvery: ParseDuration(parse.GetValue(SampleEvery)!, "--sample-every"),
            Verbose: parse.GetValue(KielApp.Verbose));
        return await new ChaosRun(settings, context.LoggerFactory, Console.Out).RunAsync(context.CancellationToken);
    }
}
