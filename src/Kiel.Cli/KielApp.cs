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
        // One file per command under Commands/; later commands (demo, produce, consume, topics, groups) are added here.
        root.Subcommands.Add(ClusterCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(DemoMemberCommand.Create());
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
