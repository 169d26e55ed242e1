using System.CommandLine;
using System.CommandLine.Help;
using Kiel.Cli.Commands;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Kiel.Cli;

/// <summary>Builds the kiel command tree and runs it with one-line errors and clean Ctrl-C handling.</summary>
internal static class KielApp
{
    /// <summary><c>--verbose</c>: stack traces on errors and debug logs, for every command.</summary>
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Show debug logs and full stack traces on errors.",
        Recursive = true,
    };

    /// <summary>The name help and errors show: the tool's command, not the assembly (Kiel.Cli) that RootCommand would take.</summary>
    public const string CommandName = "kiel";

    /// <summary><c>--broker-version-fallback</c>: the Kafka release to assume for brokers that predate ApiVersions, for every command.</summary>
    public static readonly Option<string?> BrokerVersionFallback = new("--broker-version-fallback")
    {
        Description = "The Kafka release to assume for brokers that do not answer ApiVersions (0.8.2 or 0.9.0, as librdkafka's broker.version.fallback). Default: detected.",
        Recursive = true,
    };

    /// <summary><c>--command-config</c>: a Kafka client.properties file (security and connection settings), as Kafka's tools take it.</summary>
    public static readonly Option<FileInfo?> CommandConfig = new("--command-config")
    {
        Description = "A Kafka client.properties file (security.protocol, sasl.mechanism, sasl.jaas.config, ssl.truststore.location, ...), as Kafka's own tools take it. --brokers and the flags below win over it.",
        Recursive = true,
    };

    /// <summary><c>--security-protocol</c>: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.</summary>
    public static readonly Option<string?> SecurityProtocol = new("--security-protocol")
    {
        Description = "How to talk to brokers: PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL (Kafka's security.protocol).",
        Recursive = true,
    };

    /// <summary><c>--sasl-mechanism</c>: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.</summary>
    public static readonly Option<string?> SaslMechanism = new("--sasl-mechanism")
    {
        Description = "The SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (Kafka's sasl.mechanism); the password comes from KIEL_SASL_PASSWORD, or a prompt on a terminal. For kiel cluster: the mechanism the front enables (also OAUTHBEARER; default all four).",
        Recursive = true,
    };

    /// <summary><c>--sasl-username</c>: the SASL user; the password is never a flag (KIEL_SASL_PASSWORD or a prompt).</summary>
    public static readonly Option<string?> SaslUsername = new("--sasl-username")
    {
        Description = "The SASL user name. The password is read from KIEL_SASL_PASSWORD, or asked for when stdin is a terminal; it is never a flag.",
        Recursive = true,
    };

    /// <summary><c>--ssl-ca</c>: the PEM file of the CAs that sign the brokers' certificates.</summary>
    public static readonly Option<FileInfo?> SslCa = new("--ssl-ca")
    {
        Description = "PEM file of the CA(s) that signed the brokers' certificates (default: the system trust store).",
        Recursive = true,
    };

    /// <summary><c>--ssl-cert</c>: the client certificate for mutual TLS.</summary>
    public static readonly Option<FileInfo?> SslCert = new("--ssl-cert")
    {
        Description = "Client certificate for mutual TLS: PEM (key in --ssl-key or the same file) or PKCS#12.",
        Recursive = true,
    };

    /// <summary><c>--ssl-key</c>: the PEM key of <c>--ssl-cert</c>.</summary>
    public static readonly Option<FileInfo?> SslKey = new("--ssl-key")
    {
        Description = "PEM private key of --ssl-cert, when it is not in the same file.",
        Recursive = true,
    };

    /// <summary><c>--zookeeper-ssl-ca</c>: the PEM file of the CAs that sign the ZooKeeper servers' certificates; turns TLS on for ZooKeeper.</summary>
    public static readonly Option<FileInfo?> ZooKeeperSslCa = new("--zookeeper-ssl-ca")
    {
        Description = "Talk TLS to ZooKeeper (give the servers' secure client port in --zookeeper), trusting the CA(s) in this PEM file.",
        Recursive = true,
    };

    /// <summary><c>--zookeeper-ssl-cert</c>: the client certificate for mutual TLS with ZooKeeper.</summary>
    public static readonly Option<FileInfo?> ZooKeeperSslCert = new("--zookeeper-ssl-cert")
    {
        Description = "Client certificate for mutual TLS with ZooKeeper: PEM (key in --zookeeper-ssl-key or the same file) or PKCS#12.",
        Recursive = true,
    };

    /// <summary><c>--zookeeper-ssl-key</c>: the PEM key of <c>--zookeeper-ssl-cert</c>.</summary>
    public static readonly Option<FileInfo?> ZooKeeperSslKey = new("--zookeeper-ssl-key")
    {
        Description = "PEM private key of --zookeeper-ssl-cert, when it is not in the same file.",
        Recursive = true,
    };

    /// <summary><c>--zookeeper-sasl-username</c>: the ZooKeeper SASL (DIGEST-MD5) user; the password is never a flag (KIEL_ZOOKEEPER_PASSWORD).</summary>
    public static readonly Option<string?> ZooKeeperSaslUsername = new("--zookeeper-sasl-username")
    {
        Description = "Authenticate to ZooKeeper with SASL DIGEST-MD5 as this user. The password is read from KIEL_ZOOKEEPER_PASSWORD; it is never a flag.",
        Recursive = true,
    };

    public static Command Build()
    {
        // A plain Command named "kiel" with the options RootCommand would add (help, version): RootCommand names itself
        // after the entry assembly, and ours is Kiel.Cli so that it does not shadow the Kiel library.
        var root = new Command(CommandName, "kiel: a workbench for Kafka and ZooKeeper-coordinated consumer groups.")
        {
            new HelpOption(),
            new VersionOption(),
        };
        root.Options.Add(Verbose);
        root.Options.Add(BrokerVersionFallback);
        root.Options.Add(CommandConfig);
        root.Options.Add(SecurityProtocol);
        root.Options.Add(SaslMechanism);
        root.Options.Add(SaslUsername);
        root.Options.Add(SslCa);
        root.Options.Add(SslCert);
        root.Options.Add(SslKey);
        root.Options.Add(ZooKeeperSslCa);
        root.Options.Add(ZooKeeperSslCert);
        root.Options.Add(ZooKeeperSslKey);
        root.Options.Add(ZooKeeperSaslUsername);
        // One file per command under Commands/; later commands (demo, produce, consume, topics, groups) are added here.
        root.Subcommands.Add(ClusterCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(DemoMemberCommand.Create());
        root.Subcommands.Add(ChaosProducerCommand.Create());
        root.Subcommands.Add(ChaosCommand.Create());
        root.Subcommands.Add(ProduceCommand.Create());
        root.Subcommands.Add(ConsumeCommand.Create());
        root.Subcommands.Add(TopicsCommand.Create());
        root.Subcommands.Add(GroupsCommand.Create());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = Build();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var command = string.Join(' ', parse.CommandResult.Command.Name == root.Name ? ["kiel"] : new[] { "kiel", parse.CommandResult.Command.Name });
            // "Required command was not provided" also shows for a misspelt command; the unrecognized token says more.
            var error = parse.Errors.OrderBy(e => e.Message.StartsWith("Required command", StringComparison.Ordinal)).First();
            await Console.Error.WriteLineAsync($"kiel: {error.Message} See '{command} --help'.");
            return ExitCodes.Usage;
        }

        var config = new InvocationConfiguration
        {
            // Our actions report their own errors in one line; see Guard.
            EnableDefaultExceptionHandler = false,
            // Ctrl-C/SIGTERM cancel the action's token; give it time to stop what it started (ZooKeeper takes ~0.5 s).
            ProcessTerminationTimeout = TimeSpan.FromSeconds(20),
        };
        return await parse.InvokeAsync(config);
    }

    /// <summary>Runs a command body, turning exceptions into one line on stderr and an exit code.</summary>
    public static async Task<int> Guard(ParseResult parse, CancellationToken cancellationToken, Func<CommandContext, Task<int>> body)
    {
        var verbose = parse.GetValue(Verbose);
        using var loggerFactory = verbose
            ? LoggerFactory.Create(b =>
            {
                b.SetMinimumLevel(LogLevel.Debug).AddSimpleConsole(o => o.SingleLine = true).AddFilter("Microsoft", LogLevel.Warning);
                // Logs go to stderr: stdout carries the command's results (bootstrap.servers=..., control replies).
                b.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            })
            : null;
        try
        {
            return await body(new CommandContext(parse, loggerFactory, cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("kiel: interrupted.");
            return ExitCodes.Interrupted;
        }
        catch (CliUsageException ex)
        {
            await Console.Error.WriteLineAsync($"kiel: {ex.Message}");
            if (verbose && ex.InnerException is not null)
            {
                await Console.Error.WriteLineAsync(ex.InnerException.ToString());
            }

            return ExitCodes.Usage;
        }
        catch (CliFailureException ex)
        {
            await Console.Error.WriteLineAsync($"kiel: error: {ex.Message}");
            if (verbose && ex.InnerException is not null)
            {
                await Console.Error.WriteLineAsync(ex.InnerException.ToString());
            }

            return ExitCodes.Failure;
        }
        catch (Exception ex) when (KafkaCommon.AuthenticationFailure(ex) is { } auth)
        {
            // A refused credential or certificate says what to check; it needs no --verbose hint.
            await Console.Error.WriteLineAsync(verbose ? $"kiel: error: {ex}" : $"kiel: error: {OneLine(auth.Message)}");
            return ExitCodes.Failure;
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync(verbose
                ? $"kiel: error: {ex}"
                : $"kiel: error: {OneLine(ex.Message)} (run with --verbose for details)");
            return ExitCodes.Failure;
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}

/// <summary>What a command body gets: its parse result, an optional logger factory and the Ctrl-C token.</summary>
internal sealed record CommandContext(ParseResult Parse, ILoggerFactory? LoggerFactory, CancellationToken CancellationToken);
