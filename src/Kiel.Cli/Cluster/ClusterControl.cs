using System.Globalization;
using Kiel.Testing;

namespace Kiel.Cli.Cluster;

/// <summary>
/// Line-oriented fault-injection commands for a running <see cref="EmbeddedKafkaCluster"/> (<c>kiel cluster --control-stdin</c>).
/// Every command is answered with <c>ok</c> or <c>err &lt;reason&gt;</c> on its own line, so a script can drive it.
/// </summary>
internal sealed class ClusterControl(EmbeddedKafkaCluster cluster, TextWriter output)
{
    public const string Help = """
        commands (answered with 'ok' or 'err <reason>'):
          down <broker|all>                      take a broker down (connections refused; leadership stays)
          up <broker|all>                        bring it back up
          rtt <broker|all> <ms>                  delay every response of a broker
          leader <topic> <partition> <broker>    move a partition's leadership
          err <apikey> <code>...                 fail the next requests of an API, any broker (-195 disconnects)
          berr <broker> <apikey> <code>[@ms]...  the same for one broker, each after an optional delay
          perr <topic> <partition> <apikey> <code>...   partition-level errors
          clear <apikey>                         drop queued cluster-wide errors of an API
          coord group|transaction <key> <broker> set a coordinator
          topic <name>[:partitions[:replication]] create a topic
          deltopic <name>                        delete a topic
          topicerr <topic> <code>                error that Metadata reports for a topic (0 clears)
          apiver <apikey> <min> <max>            cap advertised versions (-1 -1 removes the API)
          delrecords <topic> <partition> <offset> delete records below an offset
          track start|stop|clear|show            request tracking; show lists 'request <broker> <apikey>'
          stop                                   stop the cluster (like Ctrl-C or end of input)
        """;

    /// <summary>Reads commands until end of input, <c>stop</c>, or cancellation.</summary>
    public async Task RunAsync(TextReader input, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            string? line;
            try
            {
                line = await input.ReadLineAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (line is null)
            {
                return; // end of input: whoever drives us is gone, so stop rather than linger
            }

            line = line.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (line == "stop")
            {
                await WriteAsync("ok");
                return;
            }

            await WriteAsync(Execute(line));
        }
    }

    /// <summary>Runs one command line and returns the reply (one or more lines, the last being ok/err).</summary>
    public string Execute(string line)
    {
        var w = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        try
        {
            switch (w[0])
            {
                case "help":
                    return Help + "ok";
                case "down" when w.Length == 2:
                    cluster.SetBrokerDown(Broker(w[1]));
                    break;
                case "up" when w.Length == 2:
                    cluster.SetBrokerUp(Broker(w[1]));
                    break;
                case "rtt" when w.Length == 3:
                    cluster.SetBrokerRtt(Broker(w[1]), Int(w[2]));
                    break;
                case "leader" when w.Length == 4:
                    cluster.SetPartitionLeader(w[1], Int(w[2]), Int(w[3]));
                    break;
                case "err" when w.Length >= 3:
                    cluster.PushRequestErrors(Short(w[1]), w[2..].Select(Int).ToArray());
                    break;
                case "berr" when w.Length >= 4:
                    cluster.PushBrokerRequestErrors(Int(w[1]), Short(w[2]), w[3..].Select(ErrorWithRtt).ToArray());
                    break;
                case "perr" when w.Length >= 5:
                    cluster.PushPartitionRequestErrors(w[1], Int(w[2]), Short(w[3]), w[4..].Select(Int).ToArray());
                    break;
                case "clear" when w.Length == 2:
                    cluster.ClearRequestErrors(Short(w[1]));
                    break;
                case "coord" when w.Length == 4 && w[1] == "group":
                    cluster.SetGroupCoordinator(w[2], Int(w[3]));
                    break;
                case "coord" when w.Length == 4 && w[1] == "transaction":
                    cluster.SetTransactionCoordinator(w[2], Int(w[3]));
                    break;
                case "topic" when w.Length == 2:
                    var topic = EmbeddedTopic.Parse(w[1]);
                    cluster.CreateTopic(topic.Name, topic.Partitions, topic.ReplicationFactor);
                    break;
                case "deltopic" when w.Length == 2:
                    cluster.DeleteTopic(w[1]);
                    break;
                case "topicerr" when w.Length == 3:
                    cluster.SetTopicError(w[1], Int(w[2]));
                    break;
                case "apiver" when w.Length == 4:
                    cluster.SetApiVersion(Short(w[1]), Short(w[2]), Short(w[3]));
                    break;
                case "delrecords" when w.Length == 4:
                    cluster.DeleteRecords(w[1], Int(w[2]), long.Parse(w[3], CultureInfo.InvariantCulture));
                    break;
                case "track" when w.Length == 2:
                    return Track(w[1]);
                default:
                    return $"err unknown or malformed command '{line}'; type 'help'";
            }

            return "ok";
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException or EmbeddedKafkaException or PlatformNotSupportedException)
        {
            return $"err {ex.Message.ReplaceLineEndings(" ")}";
        }
    }

    private string Track(string what)
    {
        switch (what)
        {
            case "start":
                cluster.StartRequestTracking();
                return "ok";
            case "stop":
                cluster.StopRequestTracking();
                return "ok";
            case "clear":
                cluster.ClearRequests();
                return "ok";
            case "show":
                var lines = cluster.GetRequests().Select(r => FormattableString.Invariant($"request {r.BrokerId} {r.ApiKey}"));
                return string.Join('\n', lines.Append("ok"));
            default:
                return "err track takes start, stop, clear or show";
        }
    }

    private async Task WriteAsync(string reply)
    {
        await output.WriteLineAsync(reply);
        await output.FlushAsync();
    }

    private static int Broker(string text) => text == "all" ? EmbeddedKafkaCluster.AllBrokers : Int(text);

    private static int Int(string text) => int.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    private static short Short(string text) => short.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    private static (int ErrorCode, int RttMs) ErrorWithRtt(string text)
    {
        var at = text.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? (Int(text), 0) : (Int(text[..at]), Int(text[(at + 1)..]));
    }
}
