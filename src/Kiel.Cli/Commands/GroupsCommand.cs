using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Kiel.Cluster;
using Kiel.Consuming;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.ZooKeeper;
using Spectre.Console;

namespace Kiel.Cli.Commands;

/// <summary>
/// <c>kiel groups list|describe|offsets</c> for ZooKeeper-coordinated GroupedConsumer groups: members and partition
/// owners from ZooKeeper (<c>/kiel/groups/&lt;group&gt;</c>), committed offsets from the group coordinator in Kafka.
/// Without <c>--zookeeper</c>, <c>offsets</c> shows a Kafka consumer group's committed offsets and lag (GroupsCommand.KafkaGroups.cs).
/// </summary>
internal static partial class GroupsCommand
{
    private const string GroupsRoot = "/kiel/groups";
    private static readonly Option<string> ZooKeeper = KafkaCommon.ZooKeeperOption(required: false);
    private static readonly Option<string?> Brokers = new("--brokers", "-b")
    {
        Description = "Bootstrap brokers as HOST:PORT,...; with them describe also shows committed offsets and lag.",
    };

    private static readonly Argument<string> Group = new("group") { Description = "The group name." };

    public static Command Create()
    {
        var command = new Command("groups", "Inspect GroupedConsumer groups coordinated in ZooKeeper.");
        ZooKeeper.Recursive = true;
        Brokers.Recursive = true;
        command.Options.Add(ZooKeeper);
        command.Options.Add(Brokers);

        var list = new Command("list", "List the groups registered in ZooKeeper, with their member counts.");
        list.SetAction((parse, ct) => KielApp.Guard(parse, ct, ListAsync));
        var describe = new Command("describe", "Show a group's members and which member owns each partition (with --brokers also committed offsets and lag).") { Group };
        describe.SetAction((parse, ct) => KielApp.Guard(parse, ct, c => DescribeAsync(c, members: true)));
        var offsets = new Command("offsets", "Show a group's committed offset, high watermark and lag per partition (needs --brokers).") { Group };
        offsets.SetAction((parse, ct) => KielApp.Guard(parse, ct, c => DescribeAsync(c, members: false)));
        command.Subcommands.Add(list);
        command.Subcommands.Add(describe);
        command.Subcommands.Add(offsets);
        command.Subcommands.Add(GroupsMigrateCommand.Create(ZooKeeper, Brokers));
        return command;
    }

    private static async Task<int> ListAsync(CommandContext context)
    {
        RequireZooKeeper(context, "list");
        await using var zk = await KafkaCommon.ConnectZooKeeperAsync(KafkaCommon.ParseHosts(context.Parse.GetValue(ZooKeeper), "--zookeeper"), context);
        IReadOnlyList<string> groups;
        try
        {
            groups = await zk.GetChildrenAsync(GroupsRoot, null, context.CancellationToken);
        }
        catch (NoNodeException)
        {
            groups = [];
        }

        foreach (var g in groups.Order(StringComparer.Ordinal))
        {
            var members = await ChildrenOrEmpty(zk, $"{GroupsRoot}/{g}/members", context.CancellationToken);
            Console.Out.WriteLine(FormattableString.Invariant($"{g}\t{members.Count} member(s)"));
        }

        if (groups.Count == 0)
        {
            await Console.Error.WriteLineAsync($"kiel: no groups under {GroupsRoot}.");
        }

        return ExitCodes.Ok;
    }

    private static async Task<int> DescribeAsync(CommandContext context, bool members)
    {
        var parse = context.Parse;
        var ct = context.CancellationToken;
        var group = parse.GetValue(Group)!;
        var brokerText = parse.GetValue(Brokers);
        if (!members && parse.GetValue(ZooKeeper) is null)
        {
            return await KafkaGroupOffsetsAsync(context);
        }

        RequireZooKeeper(context, "describe");
        if (!members && brokerText is null)
        {
            throw new CliUsageException("kiel groups offsets needs --brokers HOST:PORT,... (committed offsets live in Kafka).");
        }

        var brokers = brokerText is null ? null : KafkaCommon.ParseHosts(brokerText, "--brokers");
        var root = $"{GroupsRoot}/{group}";
        await using var zk = await KafkaCommon.ConnectZooKeeperAsync(KafkaCommon.ParseHosts(parse.GetValue(ZooKeeper), "--zookeeper"), context);
        if (await zk.ExistsAsync(root, null, ct) is null)
        {
            throw new CliFailureException($"unknown group '{group}' (no {root} in ZooKeeper); list groups with 'kiel groups list'.");
        }

        var memberNames = await ChildrenOrEmpty(zk, root + "/members", ct);
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in await ChildrenOrEmpty(zk, root + "/owners", ct))
        {
            try
            {
                owners[p] = Encoding.UTF8.GetString((await zk.GetDataAsync($"{root}/owners/{p}", null, ct)).Data);
            }
            catch (NoNodeException)
            {
                // Released while we looked.
            }
        }

        var partitions = await SharedPartitionsAsync(zk, root, ct);
        // The offsets view also shows kiel's ZooKeeper-stored offsets (/consumers/<group>/offsets), side by side.
        var kiels = members ? [] : await GroupsMigrateCommand.ZooKeeperOffsetsAsync(zk, group, ct);
        partitions = [.. partitions.Union(kiels.Keys).OrderBy(tp => tp.Topic, StringComparer.Ordinal).ThenBy(tp => tp.Partition)];
        if (members)
        {
            Console.Out.WriteLine($"group {group}: {memberNames.Count} member(s)");
            foreach (var m in memberNames.Order(StringComparer.Ordinal))
            {
                var mine = owners.Where(o => o.Value == m).Select(o => o.Key).Order(StringComparer.Ordinal).ToList();
                Console.Out.WriteLine($"  member {m}  owns {mine.Count}: {string.Join(' ', mine)}");
            }
        }

        var committed = new Dictionary<TopicPartition, (long Committed, long High)>();
        if (brokers is not null)
        {
            committed = await OffsetsAsync(brokers, group, partitions, context);
        }

        var table = new Table().Border(TableBorder.Simple);
        table.AddColumns("partition", "owner");
        if (brokers is not null)
        {
            table.AddColumn(new TableColumn("committed").RightAligned());
            table.AddColumn(new TableColumn("end").RightAligned());
            table.AddColumn(new TableColumn("lag").RightAligned());
        }

        if (!members)
        {
            table.AddColumn(new TableColumn("kiel zk").RightAligned());
            table.AddColumn(new TableColumn("zk lag").RightAligned());
        }

        long totalLag = 0;
        foreach (var tp in partitions)
        {
            var key = tp.ToString();
            var row = new List<string> { Markup.Escape(key), Markup.Escape(owners.GetValueOrDefault(key, "-")) };
            if (brokers is not null && committed.TryGetValue(tp, out var c))
            {
                var lag = c.Committed >= 0 ? Math.Max(0, c.High - c.Committed) : c.High;
                totalLag += lag;
                row.Add(c.Committed >= 0 ? c.Committed.ToString(CultureInfo.InvariantCulture) : "none");
                row.Add(c.High.ToString(CultureInfo.InvariantCulture));
                row.Add(lag.ToString(CultureInfo.InvariantCulture));
            }
            else if (brokers is not null)
            {
                row.AddRange(["?", "?", "?"]);
            }

            if (!members)
            {
                var zkOffset = kiels.TryGetValue(tp, out var z) ? z : -1;
                row.Add(zkOffset >= 0 ? zkOffset.ToString(CultureInfo.InvariantCulture) : "none");
                row.Add(zkOffset >= 0 && committed.TryGetValue(tp, out var k) ? Math.Max(0, k.High - zkOffset).ToString(CultureInfo.InvariantCulture) : "-");
            }

            table.AddRow(row.ToArray());
        }

        AnsiConsole.Write(table);
        if (brokers is not null)
        {
            Console.Out.WriteLine(FormattableString.Invariant($"total lag {totalLag}"));
        }

        return ExitCodes.Ok;
    }

    private static async Task<List<TopicPartition>> SharedPartitionsAsync(ZooKeeperClient zk, string root, CancellationToken ct)
    {
        try
        {
            var json = (await zk.GetDataAsync(root + "/partitions", null, ct)).Data;
            var entries = json.Length == 0 ? [] : JsonSerializer.Deserialize<string[]>(json) ?? [];
            return entries
                .Select(e => (e, at: e.LastIndexOf(':')))
                .Where(x => x.at > 0 && int.TryParse(x.e[(x.at + 1)..], CultureInfo.InvariantCulture, out _))
                .Select(x => new TopicPartition(x.e[..x.at], int.Parse(x.e[(x.at + 1)..], CultureInfo.InvariantCulture)))
                // Kiel seeds the set with internal topics too (as kiel did); they are noise here.
                .Where(tp => !tp.Topic.StartsWith("__", StringComparison.Ordinal))
                .OrderBy(tp => tp.Topic, StringComparer.Ordinal).ThenBy(tp => tp.Partition)
                .ToList();
        }
        catch (NoNodeException)
        {
            return [];
        }
        catch (JsonException)
        {
            throw new CliFailureException($"{root}/partitions in ZooKeeper is not a JSON array of \"topic:partition\" strings.");
        }
    }

    private static async Task<Dictionary<TopicPartition, (long Committed, long High)>> OffsetsAsync(
        IReadOnlyList<string> brokers, string group, List<TopicPartition> partitions, CommandContext context)
    {
        var ct = context.CancellationToken;
        var result = new Dictionary<TopicPartition, (long, long)>();
        await using var cluster = await KafkaCommon.ConnectAsync(brokers, context);
        await using var consumer = new KielConsumer<byte[]?, byte[]?>(
            KafkaCommon.Secure(new KielConsumerOptions { BootstrapServers = string.Join(',', brokers), ClientId = "kiel-cli", LoggerFactory = context.LoggerFactory, BrokerVersionFallback = KafkaCommon.BrokerVersionFallback(context) }, context),
            Deserializers.Bytes,
            Deserializers.Bytes);
        var connection = await cluster.GetCoordinatorConnectionAsync(CoordinatorType.Group, group, ct);
        var version = connection.Versions.Choose(ApiKey.OffsetFetch, 1, 7);
        foreach (var byTopic in partitions.GroupBy(tp => tp.Topic))
        {
            var response = await connection.SendAsync(new OffsetFetchRequest
            {
                GroupId = group,
                Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = byTopic.Key, PartitionIndexes = byTopic.Select(tp => tp.Partition).ToList() }],
            }, version, ct);
            var committed = response.Topics.SelectMany(t => t.Partitions.Select(p => (tp: new TopicPartition(t.Name, p.PartitionIndex), p.CommittedOffset, p.ErrorCode)))
                .ToDictionary(x => x.tp, x => x.ErrorCode == 0 ? x.CommittedOffset : -1);
            foreach (var tp in byTopic)
            {
                var high = (await consumer.QueryWatermarkOffsetsAsync(tp, ct)).High;
                result[tp] = (committed.GetValueOrDefault(tp, -1), high);
            }
        }

        return result;
    }

    private static async Task<IReadOnlyList<string>> ChildrenOrEmpty(ZooKeeperClient zk, string path, CancellationToken ct)
    {
        try
        {
            return await zk.GetChildrenAsync(path, null, ct);
        }
        catch (NoNodeException)
        {
            return [];
        }
    }
}
