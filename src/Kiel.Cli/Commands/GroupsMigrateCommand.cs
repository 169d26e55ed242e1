using System.CommandLine;
using System.Globalization;
using Kiel.Cluster;
using Kiel.Groups;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Spectre.Console;

namespace Kiel.Cli.Commands;

/// <summary>
/// kiel's offsets in Kafka's ZooKeeper (<c>/consumers/&lt;group&gt;/offsets/&lt;topic&gt;/&lt;partition&gt;</c>, where a
/// ZooKeeper-mode broker kept kiel's OffsetCommit v0 commits) beside the group's Kafka-stored offsets, and
/// <c>kiel groups migrate-offsets</c>, which copies the first into the second.
/// </summary>
internal static class GroupsMigrateCommand
{
    private static readonly Argument<string> Group = new("group") { Description = "The group name." };

    private static readonly Option<bool> Apply = new("--apply")
    {
        Description = "Commit the planned offsets to Kafka. Without it the plan is shown and nothing changes.",
    };

    private static readonly Option<bool> Overwrite = new("--overwrite")
    {
        Description = "Also replace offsets the group already has in Kafka (by default those partitions are left alone).",
    };

    /// <summary>The command; <paramref name="zooKeeper"/> and <paramref name="brokers"/> are the groups command's recursive options.</summary>
    public static Command Create(Option<string> zooKeeper, Option<string?> brokers)
    {
        var command = new Command("migrate-offsets",
            "Copy kiel's ZooKeeper-stored offsets (/consumers/GROUP/offsets, in Kafka's ZooKeeper: --zookeeper) into Kafka's offset store (--brokers). Shows the plan; --apply commits it.")
        {
            Group,
        };
        command.Options.Add(Apply);
        command.Options.Add(Overwrite);
        command.SetAction((parse, ct) => KielApp.Guard(parse, ct, c => MigrateAsync(c, zooKeeper, brokers)));
        return command;
    }

    /// <summary>kiel's ZooKeeper-stored offsets of <paramref name="group"/>: topic → partition → offset.</summary>
    public static async Task<Dictionary<TopicPartition, long>> ZooKeeperOffsetsAsync(Kiel.ZooKeeper.ZooKeeperClient zk, string group, CancellationToken ct)
    {
        await using var store = ZooKeeperOffsets.Shared(zk);
        var all = await store.ReadAllAsync(group, ct);
        return all.SelectMany(t => t.Value.Select(p => (tp: new TopicPartition(t.Key, p.Key), p.Value))).ToDictionary(x => x.tp, x => x.Value);
    }

    private static async Task<int> MigrateAsync(CommandContext context, Option<string> zooKeeperOption, Option<string?> brokersOption)
    {
        var parse = context.Parse;
        var ct = context.CancellationToken;
        var group = parse.GetValue(Group)!;
        var brokerText = parse.GetValue(brokersOption) ?? throw new CliUsageException("kiel groups migrate-offsets needs --brokers HOST:PORT,... (the offsets go to Kafka).");
        var brokers = KafkaCommon.ParseHosts(brokerText, "--brokers");
        Dictionary<TopicPartition, long> kiels;
        await using (var zk = await KafkaCommon.ConnectZooKeeperAsync(KafkaCommon.ParseHosts(parse.GetValue(zooKeeperOption), "--zookeeper"), context))
        {
            kiels = await ZooKeeperOffsetsAsync(zk, group, ct);
        }

        if (kiels.Count == 0)
        {
            await Console.Error.WriteLineAsync($"kiel: no offsets under /consumers/{group}/offsets in ZooKeeper; nothing to migrate.");
            return ExitCodes.Ok;
        }

        await using var cluster = await KafkaCommon.ConnectAsync(brokers, context);
        var connection = await cluster.GetCoordinatorConnectionAsync(CoordinatorType.Group, group, ct);
        var inKafka = await KafkaOffsetsAsync(connection, group, kiels.Keys, ct);
        var overwrite = parse.GetValue(Overwrite);
        var plan = new Dictionary<TopicPartition, long>();
        var table = new Table().Border(TableBorder.Simple);
        table.AddColumns("partition", "kiel (ZooKeeper)", "Kafka", "action");
        foreach (var (tp, offset) in kiels.OrderBy(kv => kv.Key.Topic, StringComparer.Ordinal).ThenBy(kv => kv.Key.Partition))
        {
            var kafka = inKafka.GetValueOrDefault(tp, -1);
            string action;
            if (kafka == offset) action = "same";
            else if (kafka >= 0 && !overwrite) action = "keep Kafka's (--overwrite to replace)";
            else
            {
                plan[tp] = offset;
                action = parse.GetValue(Apply) ? "copied" : "copy";
            }

            table.AddRow(Markup.Escape(tp.ToString()), offset.ToString(CultureInfo.InvariantCulture), kafka >= 0 ? kafka.ToString(CultureInfo.InvariantCulture) : "none", Markup.Escape(action));
        }

        if (!parse.GetValue(Apply))
        {
            AnsiConsole.Write(table);
            Console.Out.WriteLine(FormattableString.Invariant($"plan: copy {plan.Count} offset(s); run again with --apply to commit them"));
            return ExitCodes.Ok;
        }

        if (plan.Count > 0)
        {
            var version = connection.Versions.Choose(ApiKey.OffsetCommit, 1, 9);
            var response = await connection.SendAsync(
                OffsetCommits.Create(group, plan, "migrated from kiel's ZooKeeper offsets by kiel-cli"), version, ct);
            var failed = response.Topics.SelectMany(t => t.Partitions.Where(p => p.ErrorCode != 0).Select(p => $"{t.Name}:{p.PartitionIndex} ({((ErrorCode)p.ErrorCode).Name()})")).ToList();
            if (failed.Count > 0)
            {
                throw new CliFailureException($"the coordinator refused {failed.Count} offset(s): {string.Join(", ", failed)}; nothing else was changed for them.");
            }
        }

        AnsiConsole.Write(table);
        Console.Out.WriteLine(FormattableString.Invariant($"migrated {plan.Count} offset(s) to Kafka"));
        return ExitCodes.Ok;
    }

    /// <summary>The group's Kafka-stored offsets of <paramref name="partitions"/> (-1 where none).</summary>
    public static async Task<Dictionary<TopicPartition, long>> KafkaOffsetsAsync(Kiel.Network.BrokerConnection connection, string group, IEnumerable<TopicPartition> partitions, CancellationToken ct)
    {
        var result = new Dictionary<TopicPartition, long>();
        var version = connection.Versions.Choose(ApiKey.OffsetFetch, 1, 7);
        foreach (var byTopic in partitions.GroupBy(tp => tp.Topic))
        {
            var response = await connection.SendAsync(new OffsetFetchRequest
            {
                GroupId = group,
                Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = byTopic.Key, PartitionIndexes = byTopic.Select(tp => tp.Partition).ToList() }],
            }, version, ct);
            foreach (var t in response.Topics)
            {
                foreach (var p in t.Partitions)
                {
                    result[new TopicPartition(t.Name, p.PartitionIndex)] = p.ErrorCode == 0 ? p.CommittedOffset : -1;
                }
            }
        }

        return result;
    }
}
