using System.CommandLine;
using Kiel.Consuming;

namespace Kiel.Cli.Commands;

/// <summary><c>kiel consume TOPIC --group G</c> without <c>--zookeeper</c>: a member of Kafka consumer group G.</summary>
internal static partial class ConsumeCommand
{
    private static readonly Option<string?> Assignor = new("--assignor")
    {
        Description = "With --group (Kafka groups): the assignors to offer, in order, as NAME[,NAME]: range, roundrobin, cooperative-sticky, kiel-naive, kiel-balanced. Default range,roundrobin (what librdkafka offers by default).",
    };

    private static readonly Option<string> GroupProtocolOption = new("--group-protocol")
    {
        Description = "With --group (Kafka groups): classic (JoinGroup/SyncGroup) or consumer (KIP-848).",
        DefaultValueFactory = _ => "classic",
    };

    private static readonly Option<int?> SessionTimeoutMs = new("--session-timeout-ms")
    {
        Description = "With --group (Kafka groups): how long the coordinator keeps this member without a heartbeat, in ms. Default 45000; heartbeats go every third of it, at most every 3 s.",
    };

    private static void AddKafkaGroupOptions(Command command)
    {
        command.Options.Add(Assignor);
        command.Options.Add(GroupProtocolOption);
        command.Options.Add(SessionTimeoutMs);
        SessionTimeoutMs.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is <= 0)
            {
                r.AddError("--session-timeout-ms must be a positive number of milliseconds (brokers accept 6000 to 1800000 by default).");
            }
        });
        GroupProtocolOption.AcceptOnlyFromAmong("classic", "consumer");
        Assignor.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } text && !TryParseAssignors(text, out _, out var bad))
            {
                r.AddError($"--assignor: '{bad}' is not an assignor; choose from {string.Join(", ", KnownAssignors.Keys)}.");
            }
        });
    }

    private static readonly Dictionary<string, PartitionAssignor> KnownAssignors = new(StringComparer.Ordinal)
    {
        ["range"] = PartitionAssignor.Range,
        ["roundrobin"] = PartitionAssignor.RoundRobin,
        ["cooperative-sticky"] = PartitionAssignor.CooperativeSticky,
        ["kiel-naive"] = PartitionAssignor.Naive,
        ["kiel-balanced"] = PartitionAssignor.Balanced,
    };

    internal static bool TryParseAssignors(string text, out List<PartitionAssignor> assignors, out string? bad)
    {
        assignors = [];
        bad = null;
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!KnownAssignors.TryGetValue(name, out var a))
            {
                bad = name;
                return false;
            }

            if (!assignors.Contains(a))
            {
                assignors.Add(a);
            }
        }

        bad = text;
        return assignors.Count > 0;
    }

    private static void CheckKafkaGroupOptions(System.CommandLine.ParseResult parse, string? group, string? zk)
    {
        var kafkaGroupOptionGiven = parse.GetResult(Assignor) is { Implicit: false } || parse.GetResult(GroupProtocolOption) is { Implicit: false }
            || parse.GetResult(SessionTimeoutMs) is { Implicit: false };
        if (group is null && kafkaGroupOptionGiven)
        {
            throw new CliUsageException("--assignor, --group-protocol and --session-timeout-ms are used with --group; add --group NAME.");
        }

        if (zk is not null && kafkaGroupOptionGiven)
        {
            throw new CliUsageException("--assignor, --group-protocol and --session-timeout-ms are for Kafka groups; drop --zookeeper, or drop them for a GroupedConsumer group.");
        }
    }

    private static async Task ConsumeKafkaGroupAsync(string topic, IReadOnlyList<string> brokers, string group, StartPosition start, long count,
        RecordPrinter printer, CommandContext context)
    {
        var parse = context.Parse;
        var assignors = parse.GetValue(Assignor) is { } text && TryParseAssignors(text, out var chosen, out _)
            ? chosen
            : [PartitionAssignor.Range, PartitionAssignor.RoundRobin];
        var protocol = parse.GetValue(GroupProtocolOption) == "consumer" ? GroupProtocol.Consumer : GroupProtocol.Classic;
        var defaults = new KielConsumerOptions();
        var session = parse.GetValue(SessionTimeoutMs) is { } ms ? TimeSpan.FromMilliseconds(ms) : defaults.SessionTimeout;
        var heartbeat = TimeSpan.FromTicks(Math.Min(defaults.HeartbeatInterval.Ticks, session.Ticks / 3));
        await using var consumer = new KielConsumer<byte[]?, byte[]?>(
            KafkaCommon.Secure(new KielConsumerOptions
            {
                BootstrapServers = string.Join(',', brokers),
                ClientId = "kiel-cli",
                GroupId = group,
                GroupProtocol = protocol,
                PartitionAssignmentStrategy = assignors,
                SessionTimeout = session,
                HeartbeatInterval = heartbeat,
                AutoOffsetReset = start.Kind == StartPositionKind.End ? OffsetResetPolicy.Latest : OffsetResetPolicy.Earliest,
                IsolationLevel = IsolationOf(context),
                LoggerFactory = context.LoggerFactory,
            }, context),
            Deserializers.Bytes,
            Deserializers.Bytes);

        // What was printed, per partition: committed when partitions are revoked and before exit.
        var printed = new Dictionary<TopicPartition, long>();
        async ValueTask CommitPrintedAsync(IEnumerable<TopicPartition>? only, CancellationToken ct)
        {
            List<KeyValuePair<TopicPartition, long>> offsets;
            lock (printed)
            {
                offsets = [.. printed.Where(kv => only is null || only.Contains(kv.Key))];
            }

            if (offsets.Count > 0)
            {
                await consumer.CommitAsync(offsets, ct);
            }
        }

        consumer.PartitionsAssignedHandler = async (partitions, ct) =>
        {
            await Console.Error.WriteLineAsync($"kiel: assigned {string.Join(",", partitions)}.");
            if (start.Kind is not (StartPositionKind.Beginning or StartPositionKind.End))
            {
                // --from a time applies where the group has nothing committed.
                var committed = await consumer.CommittedAsync(partitions, ct);
                foreach (var (tp, offset) in committed)
                {
                    if (offset is null)
                    {
                        await consumer.SeekAsync(tp, start, ct);
                    }
                }
            }
        };
        consumer.PartitionsRevokedHandler = async (partitions, ct) =>
        {
            await CommitPrintedAsync(partitions, ct);
            lock (printed)
            {
                foreach (var tp in partitions)
                {
                    printed.Remove(tp);
                }
            }
        };
        consumer.PartitionsLostHandler = (partitions, _) =>
        {
            lock (printed)
            {
                foreach (var tp in partitions)
                {
                    printed.Remove(tp);
                }
            }

            return ValueTask.CompletedTask;
        };
        consumer.Subscribe([topic]);
        await Console.Error.WriteLineAsync($"kiel: joining Kafka group {group} ({string.Join(",", assignors.Select(a => a.Name))}).");
        try
        {
            await foreach (var record in consumer.ConsumeAsync(context.CancellationToken))
            {
                printer.Print(record);
                lock (printed)
                {
                    printed[record.TopicPartition] = record.Offset + 1;
                }

                if (printer.Printed >= count)
                {
                    break;
                }
            }
        }
        finally
        {
            Console.Out.Flush();
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await CommitPrintedAsync(null, bound.Token);
            }
            catch (Exception e) when (e is KielException or OperationCanceledException)
            {
                await Console.Error.WriteLineAsync($"kiel: could not commit what was printed: {e.Message}");
            }
        }
    }
}
