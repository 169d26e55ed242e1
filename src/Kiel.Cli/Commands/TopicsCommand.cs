using System.CommandLine;
using Kiel.Cluster;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Spectre.Console;

namespace Kiel.Cli.Commands;

/// <summary><c>kiel topics list|describe|create|delete</c>.</summary>
internal static class TopicsCommand
{
    private static readonly Option<string> Brokers = KafkaCommon.BrokersOption();
    private static readonly Argument<string> Name = new("topic") { Description = "The topic." };
    private static readonly Option<int> PartitionsOption = new("--partitions", "-p") { Description = "Partitions of the new topic.", DefaultValueFactory = _ => 1 };
    private static readonly Option<short> Replication = new("--replication-factor", "-r") { Description = "Replicas of each partition.", DefaultValueFactory = _ => 1 };

    public static Command Create()
    {
        var command = new Command("topics", "List, describe, create or delete topics.");
        Brokers.Recursive = true;
        command.Options.Add(Brokers);

        var list = new Command("list", "List the topics with their partition counts.");
        list.SetAction((parse, ct) => KielApp.Guard(parse, ct, ListAsync));

        var describe = new Command("describe", "Show a topic's partitions: leader, replicas and in-sync replicas.") { Name };
        describe.SetAction((parse, ct) => KielApp.Guard(parse, ct, DescribeAsync));

        var create = new Command("create", "Create a topic through the brokers' admin API (CreateTopics).") { Name, PartitionsOption, Replication };
        PartitionsOption.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--partitions must be 1 or more.");
            }
        });
        create.SetAction((parse, ct) => KielApp.Guard(parse, ct, CreateAsync));

        var delete = new Command("delete", "Delete a topic through the brokers' admin API (DeleteTopics).") { Name };
        delete.SetAction((parse, ct) => KielApp.Guard(parse, ct, DeleteAsync));

        command.Subcommands.Add(list);
        command.Subcommands.Add(describe);
        command.Subcommands.Add(create);
        command.Subcommands.Add(delete);
        return command;
    }

    private static async Task<int> ListAsync(CommandContext context)
    {
        await using var cluster = await KafkaCommon.ConnectAsync(KafkaCommon.ParseHosts(context.Parse.GetValue(Brokers), "--brokers"), context);
        var metadata = await cluster.RefreshMetadataAsync(null, context.CancellationToken);
        foreach (var t in metadata.Topics.Values.Where(t => t.ErrorCode == 0).OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            var replication = t.Partitions.Count == 0 ? 0 : t.Partitions.Max(p => p.Replicas.Count);
            Console.Out.WriteLine(FormattableString.Invariant($"{t.Name}\t{t.Partitions.Count} partition(s)\treplication {replication}"));
        }

        return ExitCodes.Ok;
    }

    private static async Task<int> DescribeAsync(CommandContext context)
    {
        var topic = context.Parse.GetValue(Name)!;
        await using var cluster = await KafkaCommon.ConnectAsync(KafkaCommon.ParseHosts(context.Parse.GetValue(Brokers), "--brokers"), context);
        var t = await KafkaCommon.RequireTopicAsync(cluster, topic, context.CancellationToken);
        var table = new Table().Border(TableBorder.Simple).Title($"{Markup.Escape(t.Name)}: {t.Partitions.Count} partition(s)");
        table.AddColumns("partition", "leader", "replicas", "in-sync");
        foreach (var p in t.Partitions.OrderBy(p => p.Partition))
        {
            table.AddRow(p.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture), p.LeaderId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                string.Join(',', p.Replicas), string.Join(',', p.Isr));
        }

        AnsiConsole.Write(table);
        return ExitCodes.Ok;
    }

    private static async Task<int> CreateAsync(CommandContext context)
    {
        var parse = context.Parse;
        var topic = parse.GetValue(Name)!;
        var brokers = KafkaCommon.ParseHosts(parse.GetValue(Brokers), "--brokers");
        await using var cluster = await KafkaCommon.ConnectAsync(brokers, context);
        var connection = await AdminConnectionAsync(cluster, ApiKey.CreateTopics, brokers, topic, context.CancellationToken);
        var version = connection.Versions.Choose(ApiKey.CreateTopics, 0, CreateTopicsRequest.HighestSupportedVersion);
        var response = await connection.SendAsync(new CreateTopicsRequest
        {
            Topics = [new CreateTopicsRequest.CreatableTopic { Name = topic, NumPartitions = parse.GetValue(PartitionsOption), ReplicationFactor = parse.GetValue(Replication) }],
            timeoutMs = 30_000,
        }, version, context.CancellationToken);
        var result = response.Topics.FirstOrDefault(r => r.Name == topic);
        if (result is { ErrorCode: not 0 })
        {
            throw new CliFailureException($"cannot create topic '{topic}': {ErrorCodes.Info(result.ErrorCode).Name}: {ErrorCodes.Info(result.ErrorCode).Message}{(string.IsNullOrEmpty(result.ErrorMessage) ? "" : $" ({result.ErrorMessage})")}.");
        }

        Console.Out.WriteLine($"created topic {topic} ({parse.GetValue(PartitionsOption)} partition(s), replication {parse.GetValue(Replication)}).");
        return ExitCodes.Ok;
    }

    private static async Task<int> DeleteAsync(CommandContext context)
    {
        var topic = context.Parse.GetValue(Name)!;
        var brokers = KafkaCommon.ParseHosts(context.Parse.GetValue(Brokers), "--brokers");
        await using var cluster = await KafkaCommon.ConnectAsync(brokers, context);
        var connection = await AdminConnectionAsync(cluster, ApiKey.DeleteTopics, brokers, topic, context.CancellationToken);
        var version = connection.Versions.Choose(ApiKey.DeleteTopics, 0, DeleteTopicsRequest.HighestSupportedVersion);
        var request = new DeleteTopicsRequest { TimeoutMs = 30_000 };
        if (version >= 6)
        {
            request.Topics = [new DeleteTopicsRequest.DeleteTopicState { Name = topic }];
        }
        else
        {
            request.TopicNames = [topic];
        }

        var response = await connection.SendAsync(request, version, context.CancellationToken);
        var result = response.Responses.FirstOrDefault(r => r.Name == topic);
        if (result is { ErrorCode: not 0 })
        {
            throw new CliFailureException($"cannot delete topic '{topic}': {ErrorCodes.Info(result.ErrorCode).Name}: {ErrorCodes.Info(result.ErrorCode).Message}.");
        }

        Console.Out.WriteLine($"deleted topic {topic}.");
        return ExitCodes.Ok;
    }

    // The embedded cluster (librdkafka's mock brokers) has no admin API: say so and point to what works.
    private static async Task<BrokerConnection> AdminConnectionAsync(KafkaCluster cluster, ApiKey api, IReadOnlyList<string> brokers, string topic, CancellationToken ct)
    {
        var metadata = cluster.Metadata;
        var connection = metadata.Brokers.ContainsKey(metadata.ControllerId)
            ? await cluster.GetConnectionAsync(metadata.ControllerId, ConnectionPurpose.Group, ct)
            : await cluster.GetAnyConnectionAsync(ConnectionPurpose.Group, ct);
        if (!connection.Versions.Supports(api))
        {
            throw new CliFailureException(
                $"the brokers at {string.Join(',', brokers)} have no admin API ({api}); the embedded cluster is like that: give topics when starting it, e.g. kiel cluster --topic {topic}:PARTITIONS.");
        }

        return connection;
    }
}
