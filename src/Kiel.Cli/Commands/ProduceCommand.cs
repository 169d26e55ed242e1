using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Kiel.Producing;
using Kiel.Protocol.Compression;
using Spectre.Console;

namespace Kiel.Cli.Commands;

/// <summary><c>kiel produce TOPIC</c>: one record per line of stdin or a file.</summary>
internal static class ProduceCommand
{
    private static readonly Argument<string> Topic = new("topic") { Description = "The topic to write to." };
    private static readonly Option<string> Brokers = KafkaCommon.BrokersOption();

    private static readonly Option<FileInfo?> File = new("--file", "-f") { Description = "Read lines from this file instead of stdin." };

    private static readonly Option<string?> KeySeparator = new("--key-separator", "-K")
    {
        Description = "Split each line at the first occurrence of this text into key and value (lines without it have no key).",
    };

    private static readonly Option<string[]> Header = new("--header", "-H")
    {
        Description = "Add a header KEY=VALUE to every record. Repeatable.",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private static readonly Option<string> Compression = new("--compression", "-c")
    {
        Description = "none, gzip, snappy, lz4 or zstd.",
        DefaultValueFactory = _ => "none",
    };

    private static readonly Option<string> AcksOption = new("--acks", "-a")
    {
        Description = "0 (no acknowledgement), 1 (the leader) or all (every in-sync replica).",
        DefaultValueFactory = _ => "all",
    };

    private static readonly Option<string?> TransactionalIdOption = new("--transactional-id")
    {
        Description = "Send the whole input as one transaction with this transactional id (read_committed consumers see it only once committed).",
    };

    private static readonly Option<bool> Abort = new("--abort")
    {
        Description = "With --transactional-id: abort the transaction instead of committing it (to test readers).",
    };

    public static Command Create()
    {
        var command = new Command("produce", "Produce one record per input line (stdin or --file) and print a summary.");
        command.Arguments.Add(Topic);
        command.Options.Add(Brokers);
        command.Options.Add(File);
        command.Options.Add(KeySeparator);
        command.Options.Add(Header);
        command.Options.Add(Compression);
        command.Options.Add(AcksOption);
        command.Options.Add(TransactionalIdOption);
        command.Options.Add(Abort);
        command.Validators.Add(r =>
        {
            var id = r.GetValue(TransactionalIdOption);
            if (r.GetValue(Abort) && id is null) r.AddError("--abort needs --transactional-id.");
            if (id is not null && id.Length == 0) r.AddError("--transactional-id must not be empty.");
            if (id is not null && r.GetValue(AcksOption) is "0" or "1") r.AddError("--transactional-id needs --acks all.");
        });
        Compression.AcceptOnlyFromAmong("none", "gzip", "snappy", "lz4", "zstd");
        AcksOption.AcceptOnlyFromAmong("0", "1", "all", "-1");
        Header.Validators.Add(r =>
        {
            foreach (var h in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (h.IndexOf('=', StringComparison.Ordinal) <= 0)
                {
                    r.AddError($"--header '{h}' is not KEY=VALUE.");
                    return;
                }
            }
        });
        command.SetAction((parse, ct) => KielApp.Guard(parse, ct, RunAsync));
        return command;
    }

    private static async Task<int> RunAsync(CommandContext context)
    {
        var parse = context.Parse;
        var ct = context.CancellationToken;
        var topic = parse.GetValue(Topic)!;
        var brokers = KafkaCommon.ParseHosts(parse.GetValue(Brokers), "--brokers");
        var file = parse.GetValue(File);
        if (file is not null && !file.Exists)
        {
            throw new CliUsageException($"--file {file.FullName} does not exist.");
        }

        var separator = parse.GetValue(KeySeparator);
        var headers = BuildHeaders(parse.GetValue(Header) ?? []);
        var acks = parse.GetValue(AcksOption) switch { "0" => Acks.None, "1" => Acks.Leader, _ => Acks.All };
        var compression = Enum.Parse<CompressionType>(parse.GetValue(Compression)!, ignoreCase: true);
        var transactionalId = parse.GetValue(TransactionalIdOption);
        var abort = parse.GetValue(Abort);

        int partitions;
        await using (var cluster = await KafkaCommon.ConnectAsync(brokers, context))
        {
            partitions = (await KafkaCommon.RequireTopicAsync(cluster, topic, ct)).Partitions.Count;
        }

        using var reader = file is null ? Console.In : new StreamReader(file.FullName, Encoding.UTF8);
        var delivered = 0L;
        var failed = 0L;
        string? firstError = null;
        var bytes = 0L;
        var outcome = "";
        var stopwatch = Stopwatch.StartNew();
        var producerOptions = new KielProducerOptions
        {
            BootstrapServers = string.Join(',', brokers),
            ClientId = "kiel-cli",
            Acks = acks,
            Compression = compression,
            LoggerFactory = context.LoggerFactory,
            BrokerVersionFallback = KafkaCommon.BrokerVersionFallback(context),
            TransactionalId = transactionalId,
        };
        producerOptions = KafkaCommon.Secure(producerOptions, context);
        // Idempotence needs acks=all; left at its default it is off with one warning on brokers before 0.11.
        if (acks != Acks.All) producerOptions = producerOptions with { EnableIdempotence = false };
        await using (var producer = new KielProducer<string, string>(
            producerOptions,
            Serializers.Utf8,
            Serializers.Utf8))
        {
            if (transactionalId is not null)
            {
                await producer.InitTransactionsAsync(ct);
                producer.BeginTransaction();
            }

            DeliveryHandler onDelivery = (in DeliveryReport r) =>
            {
                if (r.IsDelivered)
                {
                    Interlocked.Increment(ref delivered);
                }
                else
                {
                    Interlocked.Increment(ref failed);
                    Interlocked.CompareExchange(ref firstError, r.Error?.Message ?? "unknown error", null);
                }
            };

            var showProgress = !Console.IsErrorRedirected && AnsiConsole.Profile.Capabilities.Interactive;
            var lines = 0L;
            var lastProgress = 0L;
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                string? key = null;
                var value = line;
                if (separator is { Length: > 0 })
                {
                    var at = line.IndexOf(separator, StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        key = line[..at];
                        value = line[(at + separator.Length)..];
                    }
                }

                producer.Produce(topic, key, value, headers, onDelivery: onDelivery);
                lines++;
                bytes += Encoding.UTF8.GetByteCount(line);
                if (showProgress && stopwatch.ElapsedMilliseconds - lastProgress >= 200)
                {
                    lastProgress = stopwatch.ElapsedMilliseconds;
                    Console.Error.Write($"\r{lines:N0} records read, {Interlocked.Read(ref delivered):N0} delivered...");
                }
            }

            await producer.FlushAsync(ct);
            if (transactionalId is not null)
            {
                if (abort || failed > 0)
                {
                    await producer.AbortTransactionAsync(ct);
                    outcome = failed > 0 ? "; the transaction was aborted because records failed" : "; the transaction was aborted (--abort)";
                }
                else
                {
                    await producer.CommitTransactionAsync(ct);
                    outcome = $"; committed as one transaction ({transactionalId})";
                }
            }

            if (showProgress)
            {
                Console.Error.Write("\r");
            }
        }

        var seconds = Math.Max(stopwatch.Elapsed.TotalSeconds, 0.001);
        await Console.Error.WriteLineAsync(FormattableString.Invariant(
            $"produced {delivered:N0} record(s) ({bytes:N0} bytes of input) to {topic} ({partitions} partitions) in {seconds:F2} s, {delivered / seconds:N0} records/s; {failed:N0} failed{(firstError is null ? "" : $" (first: {firstError})")}{outcome}."));
        return failed == 0 ? ExitCodes.Ok : ExitCodes.Failure;
    }

    private static Headers? BuildHeaders(string[] pairs)
    {
        if (pairs.Length == 0)
        {
            return null;
        }

        var headers = new Headers();
        foreach (var pair in pairs)
        {
            var at = pair.IndexOf('=', StringComparison.Ordinal);
            headers.Add(pair[..at], pair[(at + 1)..]);
        }

        return headers;
    }
}
