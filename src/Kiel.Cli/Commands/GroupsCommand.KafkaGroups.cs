using System.Globalization;
using Kiel.Cluster;
using Kiel.Consuming;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Spectre.Console;

namespace Kiel.Cli.Commands;

/// <summary><c>kiel groups offsets G --brokers B</c> without <c>--zookeeper</c>: a Kafka consumer group's committed offsets and lag.</summary>
internal static partial class GroupsCommand
{
    private static void RequireZooKeeper(CommandContext context, string subcommand)
    {
        if (context.Parse.GetValue(ZooKeeper) is null)
        {
            throw new CliUsageException($"kiel groups {subcommand} needs --zookeeper HOST:PORT (it reads GroupedConsumer groups); for a Kafka consumer group use 'kiel groups offsets GROUP --brokers HOST:PORT'.");
        }
    }

    private static async Task<int> KafkaGroupOffsetsAsync(CommandContext context)
    {
        var parse = context.Parse;
        var ct = context.CancellationToken;
        var group = parse.GetValue(Group)!;
        var brokers = KafkaCommon.ParseHosts(parse.GetValue(Brokers)
            ?? throw new CliUsageException("kiel groups offsets needs --brokers HOST:PORT,... (a Kafka group's offsets live in Kafka), or --zookeeper for a GroupedConsumer group."), "--brokers");
        await using var cluster = await KafkaCommon.ConnectAsync(brokers, context);
        // Every topic's partitions are asked for by name: some brokers (the librdkafka mock) cannot answer "all topics".
        var snapshot = await cluster.RefreshMetadataAsync(null, ct);
        var topics = snapshot.Topics.Values.Where(t => !t.IsInternal && t.ErrorCode == 0 && t.Partitions.Count > 0).ToList();
        var committed = await cluster.ExecuteOnCoordinatorAsync(CoordinatorType.Group, group, async (connection, token) =>
        {
            var version = connection.Versions.Choose(ApiKey.OffsetFetch, 1, 7);
            var response = await connection.SendAsync(new OffsetFetchRequest
            {
                GroupId = group,
                Topics = [.. topics.Select(t => new OffsetFetchRequest.OffsetFetchRequestTopic { Name = t.Name, PartitionIndexes = [.. t.Partitions.Select(p => p.Partition)] })],
            }, version, token);
            cluster.ThrowIfError(response.ErrorCode, $"OffsetFetch for group '{group}'");
            var all = response.Topics
                .SelectMany(t => t.Partitions.Select(p => (Tp: new TopicPartition(t.Name, p.PartitionIndex), Offset: p.ErrorCode == 0 ? p.CommittedOffset : -1)))
                .ToList();
            // Every partition of a topic the group committed to; "none" where that partition has no commit.
            var used = all.Where(x => x.Offset >= 0).Select(x => x.Tp.Topic).ToHashSet(StringComparer.Ordinal);
            return all.Where(x => used.Contains(x.Tp.Topic)).OrderBy(x => x.Tp).ToList();
        }, ct);
        if (committed.Count == 0)
        {
            await Console.Error.WriteLineAsync($"kiel: group '{group}' has no committed offsets.");
            return ExitCodes.Ok;
        }

        await using var consumer = new KielConsumer<byte[]?, byte[]?>(
            KafkaCommon.Secure(new KielConsumerOptions { BootstrapServers = string.Join(',', brokers), ClientId = "kiel-cli", LoggerFactory = context.LoggerFactory }, context),
            Deserializers.Bytes,
            Deserializers.Bytes);
        var table = new Table().Border(TableBorder.Simple);
        table.AddColumn("partition");
        table.AddColumn(new TableColumn("committed").RightAligned());
        table.AddColumn(new TableColumn("end").RightAligned());
        table.AddColumn(new TableColumn("lag").RightAligned());
        long totalLag = 0;
        foreach (var (tp, offset) in committed)
        {
            var high = (await consumer.QueryWatermarkOffsetsAsync(tp, ct)).High;
            var lag = offset >= 0 ? Math.Max(0, high - offset) : high;
            totalLag += lag;
            table.AddRow(Markup.Escape(tp.ToString()), offset >= 0 ? offset.ToString(CultureInfo.InvariantCulture) : "none", high.ToString(CultureInfo.InvariantCulture), lag.ToString(CultureInfo.InvariantCulture));
        }

        Console.Out.WriteLine($"Kafka group {group}");
        AnsiConsole.Write(table);
        Console.Out.WriteLine(FormattableString.Invariant($"total lag {totalLag}"));
        return ExitCodes.Ok;
    }
}
