using System.CommandLine;
using Kiel.Cli.Cluster;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;
using Kiel;

namespace Kiel.Cli.Commands;

/// <summary><c>kiel cluster</c>: an embedded Kafka cluster (and optionally ZooKeeper) for local development.</summary>
internal static class ClusterCommand
{
    private static readonly Option<int> BrokersCount = new("--brokers-count", "-n")
    {
        Description = "Number of brokers (1-64).",
        DefaultValueFactory = _ => 3,
    };

    private static readonly Option<string[]> Topics = new("--topic", "-t")
    {
        Description = "Create a topic at start, as NAME[:PARTITIONS[:REPLICATION]] (default 1 partition, replication 1). Repeatable.",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private static readonly Option<bool> ZooKeeper = new("--zookeeper", "-z")
    {
        Description = "Also run an embedded ZooKeeper 3.8 server (needs java and libzookeeper-java).",
    };

    private static readonly Option<int> RebalanceDelay = new("--initial-rebalance-delay-ms")
    {
        Description = "The brokers' group.initial.rebalance.delay.ms (a real broker's default is 3000).",
        DefaultValueFactory = _ => 0,
    };

    private static readonly Option<bool> ControlStdin = new("--control-stdin")
    {
        Description = "Read fault-injection commands from stdin (type 'help'); end of input stops the cluster.",
    };

    private static readonly Option<string?> Security = new("--security")
    {
        Description = "Put a TLS and/or SASL front before the brokers: ssl, sasl_plaintext or sasl_ssl (default plaintext). Prints the CA, user, password and a client.properties.",
    };

    public static Command Create()
    {
        var command = new Command("cluster", "Run an embedded Kafka cluster (librdkafka's mock brokers) until Ctrl-C. Any Kafka client can use it, kcat included.");
        command.Options.Add(BrokersCount);
        command.Options.Add(Topics);
        command.Options.Add(ZooKeeper);
        command.Options.Add(RebalanceDelay);
        command.Options.Add(ControlStdin);
        command.Options.Add(Security);

        BrokersCount.Validators.Add(r =>
        {
            var n = r.GetValueOrDefault<int>();
            if (n is < 1 or > 64)
            {
                r.AddError($"--brokers-count must be between 1 and 64 (was {n}).");
            }
        });
        Topics.Validators.Add(r =>
        {
            foreach (var text in r.GetValueOrDefault<string[]>() ?? [])
            {
                try
                {
                    EmbeddedTopic.Parse(text);
                }
                catch (FormatException ex)
                {
                    r.AddError($"--topic: {ex.Message}");
                    return;
                }
            }
        });
        RebalanceDelay.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
            {
                r.AddError("--initial-rebalance-delay-ms must be 0 or more.");
            }
        });

        command.SetAction((parse, ct) => KielApp.Guard(parse, ct, RunAsync));
        return command;
    }

    private static async Task<int> RunAsync(CommandContext context)
    {
        var parse = context.Parse;
        var ct = context.CancellationToken;
        var brokers = parse.GetValue(BrokersCount);
        var topics = (parse.GetValue(Topics) ?? []).Select(EmbeddedTopic.Parse).ToArray();
        var tooWide = topics.FirstOrDefault(t => t.ReplicationFactor > brokers);
        if (tooWide is not null)
        {
            throw new CliUsageException($"--topic {tooWide.Name}: replication factor {tooWide.ReplicationFactor} exceeds the {brokers} brokers; lower it or raise --brokers-count.");
        }

        var duplicate = topics.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new CliUsageException($"--topic {duplicate.Key} is given twice; give each topic once.");
        }

        var options = new EmbeddedKafkaOptions
        {
            Brokers = brokers,
            Topics = topics,
            InitialRebalanceDelayMs = parse.GetValue(RebalanceDelay),
            LoggerFactory = context.LoggerFactory,
            Security = SecurityOptions(parse.GetValue(Security), parse.GetValue(KielApp.SaslMechanism)),
        };

        await using var cluster = await EmbeddedKafkaCluster.StartAsync(options, ct);
        EmbeddedZooKeeper? zookeeper = null;
        try
        {
            if (parse.GetValue(ZooKeeper))
            {
                zookeeper = await EmbeddedZooKeeper.StartAsync(cancellationToken: ct);
            }

            PrintBanner(cluster, topics, zookeeper);

            if (parse.GetValue(ControlStdin))
            {
                await new ClusterControl(cluster, Console.Out).RunAsync(Console.In, ct);
            }
            else
            {
                await WaitForCancellation(ct);
            }
        }
        finally
        {
            if (zookeeper is not null)
            {
                await zookeeper.DisposeAsync();
            }
        }

        await Console.Error.WriteLineAsync("kiel: cluster stopped.");
        return ExitCodes.Ok;
    }

    private static EmbeddedSecurityOptions? SecurityOptions(string? protocolText, string? mechanismText)
    {
        if (protocolText is null && mechanismText is null) return null;
        if (!SecurityNames.TryParseProtocol(protocolText ?? "sasl_plaintext", out var protocol))
            throw new CliUsageException($"--security '{protocolText}' is not plaintext, ssl, sasl_plaintext or sasl_ssl.");
        if (protocol == SecurityProtocol.Plaintext)
        {
            if (mechanismText is not null) throw new CliUsageException("--sasl-mechanism needs --security sasl_plaintext or sasl_ssl.");
            return null;
        }
        var options = new EmbeddedSecurityOptions { Protocol = protocol };
        if (mechanismText is null) return options;
        if (!SecurityNames.TryParseMechanism(mechanismText, out var mechanism))
            throw new CliUsageException($"--sasl-mechanism '{mechanismText}' is not PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER.");
        if (!protocol.UsesSasl()) throw new CliUsageException("--sasl-mechanism needs --security sasl_plaintext or sasl_ssl.");
        return options with { SaslMechanisms = [mechanism] };
    }

    private static async Task WaitForCancellation(CancellationToken ct)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C or SIGTERM: the normal way to stop.
        }
    }

    private static void PrintBanner(EmbeddedKafkaCluster cluster, IReadOnlyList<EmbeddedTopic> topics, EmbeddedZooKeeper? zookeeper)
    {
        var o = Console.Out;
        o.WriteLine(FormattableString.Invariant($"Embedded Kafka: {cluster.BrokerCount} brokers (librdkafka {RdKafkaNative.Version} mock cluster), process {Environment.ProcessId}"));
        var endpoints = cluster.BootstrapServers.Split(',');
        for (var i = 0; i < endpoints.Length; i++)
        {
            o.WriteLine(FormattableString.Invariant($"  broker {i + 1}  {endpoints[i]}"));
        }

        foreach (var t in topics)
        {
            o.WriteLine(FormattableString.Invariant($"  topic {t.Name}  {t.Partitions} partition(s), replication factor {t.ReplicationFactor}"));
        }

        if (zookeeper is not null)
        {
            o.WriteLine(FormattableString.Invariant($"Embedded ZooKeeper 3.8: {zookeeper.ConnectString}, java process {zookeeper.ProcessId}"));
        }

        // Stable, machine-readable lines (client property names), for scripts and tests.
        o.WriteLine($"bootstrap.servers={cluster.BootstrapServers}");
        if (zookeeper is not null)
        {
            o.WriteLine($"zookeeper.connect={zookeeper.ConnectString}");
        }

        if (cluster.Security is { } security)
        {
            o.WriteLine($"security.protocol={SecurityNames.Of(security.Protocol)}");
            if (security.Protocol.UsesSasl())
            {
                o.WriteLine($"sasl.mechanism={SecurityNames.Of(security.Options.SaslMechanisms[0])}");
                o.WriteLine($"sasl.username={security.Username}");
                o.WriteLine($"sasl.password={security.Password}");
            }

            if (security.Protocol.UsesTls())
            {
                o.WriteLine($"ssl.ca.location={security.CaPath}");
            }

            o.WriteLine($"client.properties={security.ClientPropertiesPath}");
        }

        o.WriteLine("Ready. Press Ctrl-C to stop.");
        o.Flush();
    }
}
