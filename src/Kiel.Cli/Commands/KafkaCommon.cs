using System.CommandLine;
using System.Globalization;
using Kiel.Cluster;
using Kiel.Consuming;
using Kiel.Security;
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

    /// <summary>The environment variable the SASL password is read from (never a flag: flags land in shell history).</summary>
    public const string PasswordVariable = "KIEL_SASL_PASSWORD";

    /// <summary>
    /// <paramref name="options"/> with the security settings of the command line: <c>--command-config</c> first, then
    /// <c>--security-protocol</c>, <c>--sasl-mechanism</c>, <c>--sasl-username</c>, <c>--ssl-ca/-cert/-key</c>, and the
    /// password from <c>KIEL_SASL_PASSWORD</c> (or a prompt on a terminal). The options' bootstrap servers and client id
    /// are kept (<c>--brokers</c> wins over the file's <c>bootstrap.servers</c>). Problems are one usage error.
    /// </summary>
    public static T Secure<T>(T options, CommandContext context) where T : KielClientOptions, new()
    {
        var parse = context.Parse;
        var result = options;
        if (parse.GetValue(KielApp.CommandConfig) is { } config)
        {
            if (!config.Exists)
                throw new CliUsageException($"--command-config '{config.FullName}' does not exist; give a Kafka client.properties file.");
            try
            {
                result = KielClientOptions.FromProperties(config.FullName, options) with { BootstrapServers = options.BootstrapServers, ClientId = options.ClientId };
            }
            catch (ArgumentException e)
            {
                throw new CliUsageException($"--command-config: {e.Message}", e);
            }
        }

        if (parse.GetValue(KielApp.SecurityProtocol) is { } protocolText)
        {
            if (!SecurityNames.TryParseProtocol(protocolText, out var protocol))
                throw new CliUsageException($"--security-protocol '{protocolText}' is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.");
            result = result with { SecurityProtocol = protocol };
        }

        if (parse.GetValue(KielApp.SaslMechanism) is { } mechanismText)
        {
            if (!SecurityNames.TryParseMechanism(mechanismText, out var mechanism) || mechanism == Kiel.SaslMechanism.OAuthBearer)
                throw new CliUsageException($"--sasl-mechanism '{mechanismText}' is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (for OAUTHBEARER use --command-config with OAuthBearerLoginModule).");
            result = result with { SaslMechanism = mechanism };
        }

        if (parse.GetValue(KielApp.SaslUsername) is { } user) result = result with { SaslUsername = user };
        if (parse.GetValue(KielApp.SslCa) is { } ca) result = result with { SslCaLocation = ca.FullName };
        if (parse.GetValue(KielApp.SslCert) is { } cert) result = result with { SslCertificateLocation = cert.FullName };
        if (parse.GetValue(KielApp.SslKey) is { } key) result = result with { SslKeyLocation = key.FullName };

        if (result.SecurityProtocol.UsesSasl() && result.SaslMechanism != Kiel.SaslMechanism.OAuthBearer)
        {
            if (string.IsNullOrEmpty(result.SaslUsername))
                throw new CliUsageException($"{SecurityNames.Of(result.SecurityProtocol)} needs a user; give --sasl-username (or sasl.jaas.config in --command-config).");
            if (Environment.GetEnvironmentVariable(PasswordVariable) is { } password)
                result = result with { SaslPassword = password };
            else if (result.SaslPassword is null)
                result = result with { SaslPassword = PromptPassword(result.SaslUsername) };
        }

        var problem = SecurityProblem(result);
        return problem is null ? result : throw new CliUsageException(problem);
    }

    /// <summary>The first problem of the security settings (files that do not exist, a missing password), or null.</summary>
    private static string? SecurityProblem(KielClientOptions options)
    {
        try
        {
            // Any concrete options type checks the shared settings the same way; a consumer's has no other required setting.
            (new KielConsumerOptions() with
            {
                BootstrapServers = "127.0.0.1:9092",
                SecurityProtocol = options.SecurityProtocol,
                SslCaLocation = options.SslCaLocation,
                SslCaCertificates = options.SslCaCertificates,
                SslCertificateLocation = options.SslCertificateLocation,
                SslKeyLocation = options.SslKeyLocation,
                SslKeyPassword = options.SslKeyPassword,
                SaslMechanism = options.SaslMechanism,
                SaslUsername = options.SaslUsername,
                SaslPassword = options.SaslPassword,
                OAuthBearerTokenProvider = options.OAuthBearerTokenProvider,
            }).Validate();
            return null;
        }
        catch (ArgumentException e)
        {
            return e.Message.Replace(nameof(KielConsumerOptions) + ".", "", StringComparison.Ordinal);
        }
    }

    private static string? prompted;

    /// <summary>Asks once per run (a command may build several clients), without echo.</summary>
    private static string PromptPassword(string? user)
    {
        if (prompted is not null) return prompted;
        if (Console.IsInputRedirected)
            throw new CliUsageException($"no SASL password: set {PasswordVariable} (kiel never takes a password as a flag), or run on a terminal to be asked.");
        Console.Error.Write($"SASL password for {user}: ");
        var password = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (password.Length > 0) password.Length--;
                continue;
            }
            if (!char.IsControl(key.KeyChar)) password.Append(key.KeyChar);
        }
        Console.Error.WriteLine();
        return prompted = password.ToString();
    }

    /// <summary>The connection-level security of the command line for a <see cref="KafkaCluster"/>, or null for plaintext.</summary>
    public static ConnectionSecurity? ClusterSecurity(IReadOnlyList<string> brokers, CommandContext context)
    {
        var options = Secure(new KielConsumerOptions { BootstrapServers = string.Join(',', brokers) }, context);
        try
        {
            return ConnectionSecurity.Create(options);
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message, e);
        }
    }

    /// <summary>The authentication or TLS failure inside <paramref name="e"/>, if that is why it failed.</summary>
    public static Kiel.AuthenticationException? AuthenticationFailure(Exception? e)
    {
        for (var depth = 0; e is not null && depth < 16; depth++)
        {
            if (e is Kiel.AuthenticationException auth) return auth;
            if (e is AggregateException { InnerExceptions.Count: > 0 } aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                    if (AuthenticationFailure(inner) is { } found) return found;
                return null;
            }
            e = e.InnerException;
        }
        return null;
    }

    /// <summary>Connects to the cluster and reads its metadata, bounded; an unreachable cluster is one clear error.</summary>
    public static async Task<KafkaCluster> ConnectAsync(IReadOnlyList<string> brokers, CommandContext context)
    {
        var cluster = new KafkaCluster(new ClusterOptions
        {
            BootstrapServers = brokers,
            ClientId = "kiel-cli",
            BrokerVersionFallback = BrokerVersionFallback(context),
            Security = ClusterSecurity(brokers, context),
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
            if (AuthenticationFailure(e) is { } auth)
                throw new CliFailureException(auth.Message, e);
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

    /// <summary>The environment variable that holds the ZooKeeper SASL password of <c>--zookeeper-sasl-username</c>.</summary>
    public const string ZooKeeperPasswordVariable = "KIEL_ZOOKEEPER_PASSWORD";

    /// <summary>
    /// The ZooKeeper TLS settings (<c>--zookeeper-ssl-ca/-cert/-key</c>; null when none is given) and SASL credentials
    /// (<c>--zookeeper-sasl-username</c> with the password from <c>KIEL_ZOOKEEPER_PASSWORD</c>; null when no user is given).
    /// Problems are one usage error.
    /// </summary>
    public static (ZooKeeperTlsOptions? Tls, ZooKeeperAuth? Auth) ZooKeeperSecurity(CommandContext context)
    {
        var parse = context.Parse;
        ZooKeeperTlsOptions? tls = null;
        var ca = parse.GetValue(KielApp.ZooKeeperSslCa);
        var cert = parse.GetValue(KielApp.ZooKeeperSslCert);
        var key = parse.GetValue(KielApp.ZooKeeperSslKey);
        if (ca is not null || cert is not null || key is not null)
        {
            foreach (var (file, option) in new[] { (ca, "--zookeeper-ssl-ca"), (cert, "--zookeeper-ssl-cert"), (key, "--zookeeper-ssl-key") })
                if (file is { Exists: false })
                    throw new CliUsageException($"{option} '{file.FullName}' does not exist; give a PEM file.");
            tls = new ZooKeeperTlsOptions { SslCaLocation = ca?.FullName, SslCertificateLocation = cert?.FullName, SslKeyLocation = key?.FullName };
            try
            {
                tls.Validate();
            }
            catch (ArgumentException e)
            {
                throw new CliUsageException($"--zookeeper-ssl-*: {e.Message}", e);
            }
        }

        ZooKeeperAuth? auth = null;
        if (parse.GetValue(KielApp.ZooKeeperSaslUsername) is { } user)
        {
            var password = Environment.GetEnvironmentVariable(ZooKeeperPasswordVariable);
            if (string.IsNullOrEmpty(password))
                throw new CliUsageException($"--zookeeper-sasl-username needs a password: set {ZooKeeperPasswordVariable} (kiel never takes a password as a flag).");
            auth = ZooKeeperAuth.Sasl(user, password);
        }
        return (tls, auth);
    }

    /// <summary>Connects to ZooKeeper, bounded; an unreachable ensemble is one clear error.</summary>
    public static async Task<ZooKeeperClient> ConnectZooKeeperAsync(IReadOnlyList<string> hosts, CommandContext context)
    {
        var (tls, auth) = ZooKeeperSecurity(context);
        var client = new ZooKeeperClient(new ZooKeeperClientOptions
        {
            Tls = tls,
            Auth = auth is null ? [] : [auth],
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
            throw new CliFailureException($"cannot reach ZooKeeper at {string.Join(',', hosts)}; check --zookeeper (kiel cluster --zookeeper prints zookeeper.connect=...) and that ZooKeeper is running{(tls is null ? "" : " (with TLS: the secure client port, and the CA in --zookeeper-ssl-ca)")}{(auth is null ? "" : " and accepts the SASL user")}.", e);
        }
    }
}
