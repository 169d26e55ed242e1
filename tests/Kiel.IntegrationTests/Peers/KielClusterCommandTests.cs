using Confluent.Kafka;
using Kiel.IntegrationTests.Fixtures;

namespace Kiel.IntegrationTests.Peers;

/// <summary><c>kiel cluster</c> as a separate process, checked with Confluent.Kafka's admin client.</summary>
public sealed class KielClusterCommandTests
{
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopBound = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Serves_its_brokers_and_topics_and_stops_cleanly_on_sigint()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // SIGINT is a POSIX notion
        }

        await using var kiel = KielCliProcess.Start("cluster", "--topic", "cli:4", "--topic", "other");
        var bootstrap = (await kiel.WaitForLineAsync(l => l.StartsWith("bootstrap.servers=", StringComparison.Ordinal), StartBound))["bootstrap.servers=".Length..];
        await kiel.WaitForLineAsync(l => l.StartsWith("Ready.", StringComparison.Ordinal), StartBound);

        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            var md = admin.GetMetadata(TimeSpan.FromSeconds(10));
            Assert.Equal([1, 2, 3], md.Brokers.Select(b => b.BrokerId).Order());
            Assert.Equal(4, md.Topics.Single(t => t.Topic == "cli").Partitions.Count);
            Assert.Single(md.Topics.Single(t => t.Topic == "other").Partitions);
        }

        kiel.Interrupt();
        Assert.True(await kiel.WaitForExitAsync(StopBound), $"kiel did not exit within {StopBound} of SIGINT (SIGINT ignored: {SigIntIgnored(kiel.Pid)}); stderr: {kiel.StdErr}");
        Assert.Equal(0, kiel.ExitCode);
        Assert.Contains("cluster stopped", kiel.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Control_commands_on_stdin_inject_faults_and_end_of_input_stops_it()
    {
        await using var kiel = KielCliProcess.Start("cluster", "--brokers-count", "2", "--topic", "ctl:2", "--control-stdin");
        var bootstrap = (await kiel.WaitForLineAsync(l => l.StartsWith("bootstrap.servers=", StringComparison.Ordinal), StartBound))["bootstrap.servers=".Length..];
        await kiel.WaitForLineAsync(l => l.StartsWith("Ready.", StringComparison.Ordinal), StartBound);

        async Task<string> Send(string command)
        {
            await kiel.StandardInput.WriteLineAsync(command);
            await kiel.StandardInput.FlushAsync();
            return await kiel.WaitForLineAsync(l => l == "ok" || l.StartsWith("err ", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        }

        Assert.Equal("ok", await Send("leader ctl 0 2"));
        Assert.Equal("ok", await Send("down 1"));
        Assert.StartsWith("err ", await Send("leader"), StringComparison.Ordinal);
        Assert.StartsWith("err ", await Send("topic bad:zero"), StringComparison.Ordinal);

        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            var md = admin.GetMetadata("ctl", TimeSpan.FromSeconds(10));
            Assert.Equal([2], md.Brokers.Select(b => b.BrokerId)); // a down broker leaves Metadata's broker list
            Assert.Equal(2, md.Topics[0].Partitions.Single(p => p.PartitionId == 0).Leader);
        }

        Assert.Equal("ok", await Send("up 1"));
        kiel.StandardInput.Close();
        Assert.True(await kiel.WaitForExitAsync(StopBound), $"kiel did not exit at end of input; stderr: {kiel.StdErr}");
        Assert.Equal(0, kiel.ExitCode);
    }

    [ZooKeeperFact]
    public async Task With_zookeeper_it_prints_a_connect_string_that_answers_and_stops_the_server_on_sigint()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        await using var kiel = KielCliProcess.Start("cluster", "--zookeeper", "--brokers-count", "1");
        var connect = (await kiel.WaitForLineAsync(l => l.StartsWith("zookeeper.connect=", StringComparison.Ordinal), StartBound))["zookeeper.connect=".Length..];
        await kiel.WaitForLineAsync(l => l.StartsWith("Ready.", StringComparison.Ordinal), StartBound);
        var port = int.Parse(connect.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.StartsWith("127.0.0.1:", connect, StringComparison.Ordinal);
        Assert.True(await Kiel.Testing.ZooKeeper.FourLetterWords.IsOkAsync(port), "ZooKeeper did not answer ruok");
        var javaPid = kiel.StdOutSoFar.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"java process (\d+)")).First(m => m.Success).Groups[1].Value;

        kiel.Interrupt();
        Assert.True(await kiel.WaitForExitAsync(StopBound), $"kiel did not exit within {StopBound} of SIGINT; stderr: {kiel.StdErr}");
        Assert.Equal(0, kiel.ExitCode);
        Assert.False(await Kiel.Testing.ZooKeeper.FourLetterWords.IsOkAsync(port), "ZooKeeper still answers after kiel stopped");
        Assert.False(Directory.Exists($"/proc/{javaPid}"), $"the ZooKeeper java process {javaPid} outlived kiel");
    }

    [Theory]
    [InlineData("cluster --topic x:0", "PARTITIONS")]
    [InlineData("cluster --brokers-count 0", "--brokers-count")]
    [InlineData("cluster --topic a:1:4", "replication factor 4")]
    [InlineData("clusterx", "clusterx")]
    public async Task A_bad_option_is_one_line_on_stderr_with_exit_code_2(string args, string mentions)
    {
        await using var kiel = KielCliProcess.Start(args.Split(' '));
        Assert.True(await kiel.WaitForExitAsync(StartBound), "kiel did not exit on a bad option");
        Assert.Equal(2, kiel.ExitCode);
        var stderr = kiel.StdErr.Trim();
        Assert.Single(stderr.Split('\n'));
        Assert.Contains(mentions, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", stderr, StringComparison.Ordinal);
    }

    private static string SigIntIgnored(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
            return line is null ? "unknown" : ((Convert.ToUInt64(line[7..].Trim(), 16) & 2) != 0).ToString();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
