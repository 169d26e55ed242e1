using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Cli;

/// <summary><c>kiel produce</c>, <c>consume</c> and <c>topics</c> as processes against an embedded cluster; each error case is one line and an exit code.</summary>
public sealed class CliCommandTests(KafkaClusterFixture fixture) : IClassFixture<KafkaClusterFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static Task<ProcessRunner.Result> Kiel(params string[] args)
        => ProcessRunner.RunAsync("dotnet", [KielCliProcess.KielDll(), .. args], Bound);

    private static async Task<ProcessRunner.Result> KielWithInput(string input, params string[] args)
    {
        // ProcessRunner closes stdin at once; produce reads its lines from a file instead.
        var file = Path.Combine(Path.GetTempPath(), $"kiel-cli-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(file, input);
        try
        {
            return await Kiel([.. args, "--file", file]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string OneLine(ProcessRunner.Result r)
    {
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return Assert.Single(lines);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public async Task ProduceThenConsumeAsJsonCarriesKeysHeadersAndValues()
    {
        var topic = KafkaClusterFixture.UniqueTopic("cli");
        fixture.Cluster.CreateTopic(topic, 2);
        var produced = await KielWithInput("a|one\nb|two\nthree\n", "produce", topic, "-b", fixture.BootstrapServers,
            "--key-separator", "|", "--header", "source=test", "--compression", "lz4", "--acks", "1");
        Assert.Equal(0, produced.ExitCode);
        Assert.Contains("produced 3 record(s)", produced.StdErr);

        var consumed = await Kiel("consume", topic, "-b", fixture.BootstrapServers, "--count", "3", "--format", "json");
        Assert.Equal(0, consumed.ExitCode);
        var records = consumed.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, records.Count);
        Assert.Equal(["one", "three", "two"], records.Select(r => r.GetProperty("value").GetString()).Order());
        var one = records.Single(r => r.GetProperty("value").GetString() == "one");
        Assert.Equal("a", one.GetProperty("key").GetString());
        Assert.Equal("test", one.GetProperty("headers").GetProperty("source").GetString());
        Assert.True(one.GetProperty("offset").GetInt64() >= 0);
        Assert.Equal(JsonValueKind.Null, records.Single(r => r.GetProperty("value").GetString() == "three").GetProperty("key").ValueKind);
    }

    [Fact]
    public async Task HelpAndErrorsNameTheToolKielNotItsAssembly()
    {
        var help = await Kiel("--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("Usage:\n  kiel [command] [options]", help.StdOut.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("Kiel.Cli", help.StdOut);
        var sub = await Kiel("consume", "--help");
        Assert.Contains("kiel consume <topic> [options]", sub.StdOut);
        var version = await Kiel("--version");
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", version.StdOut.Trim());
    }

    [Fact]
    public async Task TopicsListAndDescribeShowTheTopic()
    {
        var topic = KafkaClusterFixture.UniqueTopic("cli");
        fixture.Cluster.CreateTopic(topic, 3);
        var list = await Kiel("topics", "list", "-b", fixture.BootstrapServers);
        Assert.Equal(0, list.ExitCode);
        Assert.Contains($"{topic}\t3 partition(s)", list.StdOut);
        var describe = await Kiel("topics", "describe", topic, "-b", fixture.BootstrapServers);
        Assert.Equal(0, describe.ExitCode);
        Assert.Contains("3 partition(s)", describe.StdOut);
    }

    [Fact]
    public async Task TopicsCreateOnTheEmbeddedClusterPointsToKielClusterTopic()
    {
        var r = await Kiel("topics", "create", "newtopic", "-b", fixture.BootstrapServers);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no admin API", OneLine(r));
        Assert.Contains("kiel cluster --topic newtopic:PARTITIONS", OneLine(r));
    }

    [Fact]
    public async Task UnreachableBrokerIsOneLineAndExitCode1()
    {
        var port = FreePort();
        var r = await Kiel("consume", "t", "-b", $"127.0.0.1:{port}");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"kiel: error: cannot reach any broker at 127.0.0.1:{port}; check --brokers (kiel cluster prints bootstrap.servers=...) and that Kafka is running.", OneLine(r));
    }

    [Fact]
    public async Task UnknownTopicIsOneLineAndExitCode1()
    {
        var r = await Kiel("consume", "no-such-topic", "-b", fixture.BootstrapServers);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("kiel: error: unknown topic 'no-such-topic'; list topics with 'kiel topics list'", OneLine(r));
    }

    [Fact]
    public async Task UnreachableZooKeeperIsOneLineAndExitCode1()
    {
        var port = FreePort();
        var r = await Kiel("groups", "list", "--zookeeper", $"127.0.0.1:{port}");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"kiel: error: cannot reach ZooKeeper at 127.0.0.1:{port}; check --zookeeper", OneLine(r));
    }

    [Fact]
    public async Task BadOptionValueIsOneLineAndExitCode2()
    {
        var r = await Kiel("consume", "t", "-b", fixture.BootstrapServers, "--from", "yesterdayish");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("kiel: --from 'yesterdayish' is not beginning, end, a timestamp", OneLine(r));

        var brokers = await Kiel("topics", "list", "-b", "localhost");
        Assert.Equal(2, brokers.ExitCode);
        Assert.Equal("kiel: --brokers 'localhost' is not HOST:PORT (port 1-65535).", OneLine(brokers));
    }

    [Fact]
    public async Task GroupsOffsetsWithoutBrokersSaysWhatToAdd()
    {
        var r = await Kiel("groups", "offsets", "g", "--zookeeper", "127.0.0.1:2181");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("kiel: kiel groups offsets needs --brokers HOST:PORT,... (committed offsets live in Kafka).", OneLine(r));
    }

    [Fact]
    public async Task ConsumeWithAGroupJoinsAKafkaGroupCommitsWhatItPrintedAndResumesThere()
    {
        var topic = KafkaClusterFixture.UniqueTopic("cli-kg");
        var group = KafkaClusterFixture.UniqueTopic("g");
        fixture.Cluster.CreateTopic(topic, 2);
        fixture.Cluster.SetInitialRebalanceDelay(0);
        await Consuming.ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 10);

        // A 6 s session: the mock holds a join into a group its last member just left for the session less a second
        // (a broker rebalances at once), so the default 45 s would make the second run wait 44 s.
        var first = await Kiel("consume", topic, "-b", fixture.BootstrapServers, "--group", group, "--count", "6", "--format", "json", "--assignor", "roundrobin",
            "--session-timeout-ms", "6000");
        Assert.True(first.ExitCode == 0, first.StdErr);
        var firstOffsets = first.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => (e.GetProperty("partition").GetInt32(), e.GetProperty("offset").GetInt64())).ToList();
        Assert.Equal(6, firstOffsets.Count);
        Assert.Contains("joining Kafka group", first.StdErr);

        var offsets = await Kiel("groups", "offsets", group, "-b", fixture.BootstrapServers);
        Assert.True(offsets.ExitCode == 0, offsets.StdErr);
        Assert.True(offsets.StdOut.Contains("total lag 4", StringComparison.Ordinal), offsets.StdOut);

        var second = await Kiel("consume", topic, "-b", fixture.BootstrapServers, "--group", group, "--count", "4", "--format", "json",
            "--session-timeout-ms", "6000");
        Assert.True(second.ExitCode == 0, second.StdErr);
        var secondOffsets = second.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => (e.GetProperty("partition").GetInt32(), e.GetProperty("offset").GetInt64())).ToList();
        Assert.Equal(10, firstOffsets.Concat(secondOffsets).Distinct().Count());
    }

    [Fact]
    public async Task AssignorWithoutGroupSaysWhatToAdd()
    {
        var r = await Kiel("consume", "t", "-b", fixture.BootstrapServers, "--assignor", "range");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("kiel: --assignor, --group-protocol and --session-timeout-ms are used with --group", OneLine(r));
    }

    [Fact]
    public async Task SessionTimeoutWithZooKeeperOrNotPositiveSaysWhatIsWrong()
    {
        var r = await Kiel("consume", "t", "-b", fixture.BootstrapServers, "--group", "g", "--zookeeper", "127.0.0.1:1", "--session-timeout-ms", "6000");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("kiel: --assignor, --group-protocol and --session-timeout-ms are for Kafka groups", OneLine(r));
        r = await Kiel("consume", "t", "-b", fixture.BootstrapServers, "--group", "g", "--session-timeout-ms", "0");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--session-timeout-ms must be a positive number of milliseconds", r.StdErr);
    }

    [Fact]
    public async Task VerboseShowsTheStackTrace()
    {
        var r = await Kiel("consume", "t", "-b", $"127.0.0.1:{FreePort()}", "--verbose");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("   at ", r.StdErr);
    }
}
