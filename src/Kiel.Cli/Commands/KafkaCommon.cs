using System.CommandLine;
using System.Globalization;
using Kiel.Cluster;
using Kiel.ZooKeeper;

namespace Kiel.Cli.Commands;

/// <summary>Options and helpers every command that talks to Kafka or ZooKeeper shares; errors become one line that says what to fix.</summary>
internal static class KafkaCommon
{
    public static Option<string> BrokersOption() => new("--brokers", "-b")
    {
        Description = "Bootstrap brokers as HOST:PORT,... (the line bootstrap.servers=... that kiel cluster prints).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("KIEL_BROKERS") ?? "127.0.0.1:9092",
    };

    public static Option<string> ZooKeeperOption(bool required) => new("--zookeeper", "-z")
    {
        Description = "ZooKeeper ensemble as HOST:PORT,... (the line zookeeper.connect=... that kiel cluster --zookeeper prints).",
        Required = required,
    };

    public static IReadOnlyList<string> ParseHosts(string? text, string option)
    {
        var hosts = (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (hosts.Length == 0)
        {
            throw new CliUsageException($"{option} is empty; give HOST:PORT[,HOST:PORT...].");
        }

        foreach (var h in hosts)
        {
            var colon = h.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(h[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw new CliUsageException($"{option} '{h}' is not HOST:PORT (port 1-65535).");
            }
        }

        return hosts;
    }

    /// <summary>The <c>--broker-version-fallback</c> release, checked; null when not given (old brokers are detected).</summary>
    public static string? BrokerVersionFallback(CommandContext context)
    {
        var release = context.Parse.GetValue(KielApp.BrokerVersionFallback);
        if (release is not null && !Kiel.Network.BrokerVersionFallback.TryGet(release, out _))
        {
            throw new CliUsageException($"--broker-version-fallback '{release}' is not a known Kafka release; use one of {string.Join(", ", Kiel.Network.BrokerVersionFallback.KnownReleases)}, or leave it out to detect the release.");
        }

        return release;
    }

    /// <summary>Connects to the cluster and reads its metadata, bounded; an unreachable cluster is one clear error.</summary>
    public static async Task<KafkaCluster> ConnectAsync(IReadOnlyList<string> brokers, CommandContext context)
    {
        var cluster = new KafkaCluster(new ClusterOptions
        {
            BootstrapServers = brokers,
            ClientId = "kiel-cli",
            BrokerVersionFallback = BrokerVersionFallback(context),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            RequestTimeout = TimeSpan.FromSeconds(10),
            Retry = new RetryPolicy { MaxAttempts = 2, Backoff = TimeSpan.FromMilliseconds(200) },
            LoggerFactory = context.LoggerFactory,
        });
        try
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
            bound.CancelAfter(TimeSpan.FromSeconds(15));
            await cluster.StartAsync(bound.Token);
            return cluster;
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.CancellationToken.IsCancellationRequested)
        {
            await cluster.DisposeAsync();
            throw new CliFailureException(
                $"cannot reach any broker at {string.Join(',', brokers)}; check --brokers (kiel cluster prints bootstrap.servers=...) and that Kafka is running.", e);
        }
    }

    /// <summary>The topic's metadata, or a clear error naming the topics that do exist.</summary>
    public static async Task<TopicMetadata> RequireTopicAsync(KafkaCluster cluster, string topic, CancellationToken ct)
    {
        var metadata = await cluster.RefreshMetadataAsync([topic], ct);
        if (metadata.TryGetTopic(topic, out var t) && t.ErrorCode == 0 && t.Partitions.Count > 0)
        {
            return t;
        }

        throw new CliFailureException($"unknown topic '{topic}'; list topics with 'kiel topics list', or create it (kiel topics create, or kiel cluster --topic {topic}:PARTITIONS).");
    }

    /// <summary>Connects to ZooKeeper, bounded; an unreachable ensemble is one clear error.</summary>
    public static async Task<ZooKeeperClient> ConnectZooKeeperAsync(IReadOnlyList<string> hosts, CommandContext context)
    {
        var client = new ZooKeeperClient(new ZooKeeperClientOptions
        {
            ConnectString = string.Join(',', hosts),
            SessionTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            ReconnectAfterExpiry = false,
            LoggerFactory = context.LoggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
        });
        try
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
            bound.CancelAfter(TimeSpan.FromSeconds(8));
            await client.ConnectAsync(bound.Token);
            return client;
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.CancellationToken.IsCancellationRequested)
        {
            await client.DisposeAsync();
            throw new CliFailureException($"cannot reach ZooKeeper at {string.Join(',', hosts)}; check --zookeeper (kiel cluster --zookeeper prints zookeeper.connect=...) and that ZooKeeper is running.", e);
        }
    }
}
