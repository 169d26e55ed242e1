using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Kiel.Consuming;

namespace Kiel.Cli.Commands;

/// <summary>
/// <c>kiel consume TOPIC</c>: prints records, as a plain consumer over every partition, with <c>--group</c> as a member
/// of a Kafka consumer group, or with <c>--group</c> and <c>--zookeeper</c> as one member of a GroupedConsumer group.
/// </summary>
internal static partial class ConsumeCommand
{
    private static readonly Argument<string> Topic = new("topic") { Description = "The topic to read." };
    private static readonly Option<string> Brokers = KafkaCommon.BrokersOption();
    private static readonly Option<string?> Group = new("--group", "-g") { Description = "Consume as a member of this Kafka consumer group (resuming from its committed offsets, committing what was printed), or with --zookeeper of this GroupedConsumer group." };
    private static readonly Option<string> ZooKeeper = KafkaCommon.ZooKeeperOption(required: false);

    private static readonly Option<string> From = new("--from")
    {
        Description = "Where to start: beginning, end, a timestamp (2026-01-31T12:00:00Z) or a duration ago (10m, 2h, 1d, 00:05:00). With --group it applies only to partitions without a committed offset.",
        DefaultValueFactory = _ => "beginning",
    };

    private static readonly Option<long?> Count = new("--count", "-n") { Description = "Stop after this many records." };

    private static readonly Option<string> Format = new("--format")
    {
        Description = "value (one value per line) or json (partition, offset, key, headers, timestamp and value, one object per line).",
        DefaultValueFactory = _ => "value",
    };

    private static readonly Option<string> Isolation = new("--isolation")
    {
        Description = "read_uncommitted (every record) or read_committed (only committed transactions' records, no aborted ones).",
        DefaultValueFactory = _ => "read_uncommitted",
    };

    public static Command Create()
    {
        var command = new Command("consume", "Print the records of a topic until Ctrl-C or --count.");
        command.Arguments.Add(Topic);
        command.Options.Add(Brokers);
        command.Options.Add(Group);
        command.Options.Add(ZooKeeper);
        command.Options.Add(From);
        command.Options.Add(Count);
        command.Options.Add(Format);
        command.Options.Add(Isolation);
        Isolation.AcceptOnlyFromAmong("read_uncommitted", "read_committed");
        AddKafkaGroupOptions(command);
        Format.AcceptOnlyFromAmong("value", "json");
        From.Validators.Add(r =>
        {
            if (!TryParseStart(r.GetValueOrDefault<string>() ?? "", out _))
            {
                r.AddError($"--from '{r.GetValueOrDefault<string>()}' is not beginning, end, a timestamp (2026-01-31T12:00:00Z) or a duration (10m, 2h, 1d).");
            }
        });
        Count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long?>() is < 1)
            {
                r.AddError("--count must be 1 or more.");
            }
        });
        command.SetAction((parse, ct) => KielApp.Guard(parse, ct, RunAsync));
        return command;
    }

    internal static bool TryParseStart(string text, out StartPosition start)
    {
        start = StartPosition.Beginning;
        switch (text.Trim().ToLowerInvariant())
        {
            case "beginning" or "earliest":
                return true;
            case "end" or "latest":
                start = StartPosition.End;
                return true;
        }

        if (text.Length >= 2 && char.IsAsciiDigit(text[0]) && "smhd".Contains(text[^1], StringComparison.Ordinal)
            && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount >= 0)
        {
            start = StartPosition.Before(text[^1] switch
            {
                's' => TimeSpan.FromSeconds(amount),
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                _ => TimeSpan.FromDays(amount),
            });
            return true;
        }

        if (text.Contains(':', StringComparison.Ordinal) && !text.Contains('T', StringComparison.Ordinal)
            && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var ago) && ago >= TimeSpan.Zero)
        {
            start = StartPosition.Before(ago);
            return true;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            start = StartPosition.At(at);
            return true;
        }

        return false;
    }

    private static async Task<int> RunAsync(CommandContext context)
    {
        var parse = context.Parse;
        var ct = context.CancellationToken;
        var topic = parse.GetValue(Topic)!;
        var brokers = KafkaCommon.ParseHosts(parse.GetValue(Brokers), "--brokers");
        var group = parse.GetValue(Group);
        var zk = parse.GetValue(ZooKeeper);
        CheckKafkaGroupOptions(parse, group, zk);
        if (group is null && zk is not null)
        {
            throw new CliUsageException("--zookeeper is only used with --group; add --group NAME or drop --zookeeper.");
        }

        TryParseStart(parse.GetValue(From)!, out var start);
        var count = parse.GetValue(Count) ?? long.MaxValue;
        var json = parse.GetValue(Format) == "json";

        await using (var cluster = await KafkaCommon.ConnectAsync(brokers, context))
        {
            await KafkaCommon.RequireTopicAsync(cluster, topic, ct);
        }

        var printer = new RecordPrinter(Console.Out, json);
        try
        {
            if (group is null)
            {
                await ConsumePlainAsync(topic, brokers, start, count, printer, context, IsolationOf(context));
            }
            else if (zk is null)
            {
                await ConsumeKafkaGroupAsync(topic, brokers, group, start, count, printer, context);
            }
            else
            {
                var hosts = KafkaCommon.ParseHosts(zk, "--zookeeper");
                // Fail fast with the one-line error: the GroupedConsumer would retry for its whole connect timeout.
                await (await KafkaCommon.ConnectZooKeeperAsync(hosts, context)).DisposeAsync();
                await ConsumeGroupedAsync(topic, brokers, group, hosts, start, count, printer, context, IsolationOf(context));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Ctrl-C is how a consume without --count ends.
        }

        Console.Out.Flush();
        await Console.Error.WriteLineAsync($"kiel: consumed {printer.Printed:N0} record(s) from {topic}.");
        return ExitCodes.Ok;
    }

    private static IsolationLevel IsolationOf(CommandContext context) =>
        context.Parse.GetValue(Isolation) == "read_committed" ? IsolationLevel.ReadCommitted : IsolationLevel.ReadUncommitted;

    private static async Task ConsumePlainAsync(string topic, IReadOnlyList<string> brokers, StartPosition start, long count, RecordPrinter printer, CommandContext context,
        IsolationLevel isolation)
    {
        await using var consumer = new KielConsumer<byte[]?, byte[]?>(
            KafkaCommon.Secure(new KielConsumerOptions { BootstrapServers = string.Join(',', brokers), ClientId = "kiel-cli", LoggerFactory = context.LoggerFactory, IsolationLevel = isolation, BrokerVersionFallback = KafkaCommon.BrokerVersionFallback(context) }, context),
            Deserializers.Bytes,
            Deserializers.Bytes);
        await consumer.AssignTopicAsync(topic, start, context.CancellationToken);
        await foreach (var record in consumer.ConsumeAsync(context.CancellationToken))
        {
            printer.Print(record);
            if (printer.Printed >= count)
            {
                return;
            }
        }
    }

    private static async Task ConsumeGroupedAsync(string topic, IReadOnlyList<string> brokers, string group, IReadOnlyList<string> zk, StartPosition start, long count,
        RecordPrinter printer, CommandContext context, IsolationLevel isolation)
    {
        await using var consumer = new GroupedConsumer<byte[]?>(
            KafkaCommon.Secure(new GroupedConsumerOptions
            {
                BootstrapServers = string.Join(',', brokers),
                Group = group,
                ZooKeeperHosts = zk,
                ZooKeeperTls = KafkaCommon.ZooKeeperSecurity(context).Tls,
                ZooKeeperAuth = KafkaCommon.ZooKeeperSecurity(context).Auth,
                ClientId = "kiel-cli",
                FetchMaxWait = TimeSpan.FromMilliseconds(500),
                IsolationLevel = isolation,
                LoggerFactory = context.LoggerFactory,
                BrokerVersionFallback = KafkaCommon.BrokerVersionFallback(context),
            }, context),
            Deserializers.Bytes);
        await consumer.ConnectAsync(context.CancellationToken);
        await Console.Error.WriteLineAsync($"kiel: joined group {group} as {consumer.Name}.");
        try
        {
            while (printer.Printed < count)
            {
                var batch = await consumer.ConsumeRecordsAsync(topic, start, context.CancellationToken);
                foreach (var record in batch)
                {
                    printer.Print(record);
                    if (printer.Printed >= count)
                    {
                        // What is past --count stays uncommitted only if it was not handed out; GroupedConsumer commits the
                        // whole batch, so say so rather than pretend otherwise.
                        if (batch.Count > 1 && (record.Partition, record.Offset) != (batch[^1].Partition, batch[^1].Offset))
                        {
                            await Console.Error.WriteLineAsync($"kiel: stopped at --count; the rest of the last batch ({batch.Count} records) counts as consumed for the group.");
                        }

                        break;
                    }
                }

                Console.Out.Flush();
            }
        }
        finally
        {
            await consumer.WindDownAsync(CancellationToken.None);
        }
    }

    /// <summary>Writes records as plain values or JSON lines.</summary>
    internal sealed class RecordPrinter(TextWriter output, bool json)
    {
        public long Printed { get; private set; }

        public void Print<TKey>(ConsumeResult<TKey, byte[]?> record)
        {
            Printed++;
            if (!json)
            {
                output.WriteLine(record.Value is null ? "" : Encoding.UTF8.GetString(record.Value));
                return;
            }

            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("topic", record.Topic);
                w.WriteNumber("partition", record.Partition);
                w.WriteNumber("offset", record.Offset);
                w.WriteString("timestamp", record.Timestamp.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
                WriteBytes(w, "key", record.Key as byte[]);
                w.WriteStartObject("headers");
                foreach (var h in record.Headers)
                {
                    if (h.Value is { } v)
                    {
                        w.WriteString(h.Key, Encoding.UTF8.GetString(v.Span));
                    }
                    else
                    {
                        w.WriteNull(h.Key);
                    }
                }

                w.WriteEndObject();
                WriteBytes(w, "value", record.Value);
                w.WriteEndObject();
            }

            output.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        }

        private static void WriteBytes(Utf8JsonWriter w, string name, byte[]? value)
        {
            if (value is null)
            {
                w.WriteNull(name);
            }
            else
            {
                w.WriteString(name, Encoding.UTF8.GetString(value));
            }
        }
    }
}
