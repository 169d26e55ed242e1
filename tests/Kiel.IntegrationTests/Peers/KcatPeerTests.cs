using System.Text.RegularExpressions;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Peers;

/// <summary>kcat (built on Debian's librdkafka 2.0.2, out of process) against the embedded cluster.</summary>
public sealed partial class KcatPeerTests
{
    [ToolFact("kcat", "kcat")]
    public async Task Kcat_lists_the_three_brokers_and_a_topic()
    {
        var kcat = ExternalTools.Require("kcat", "kcat");
        await using var cluster = EmbeddedKafkaCluster.Start(3, "listed:4");

        // -u: unbuffered, so nothing is lost if the bound below kills it.
        var result = await ProcessRunner.RunAsync(kcat, ["-u", "-L", "-b", cluster.BootstrapServers, "-m", "10"], TimeSpan.FromSeconds(30));

        Assert.True(result.ExitCode == 0, $"kcat exited {result.ExitCode}: {result.StdErr}");
        Assert.Contains(" 3 brokers:", result.StdOut, StringComparison.Ordinal);
        var ports = cluster.BootstrapServers.Split(',').Select(e => e.Split(':')[1]).ToHashSet();
        var listed = BrokerLine().Matches(result.StdOut).Select(m => (Id: int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Port: m.Groups[2].Value)).ToList();
        Assert.Equal([1, 2, 3], listed.Select(b => b.Id).Order());
        Assert.True(ports.SetEquals(listed.Select(b => b.Port)), $"kcat listed {string.Join(",", listed)} for {cluster.BootstrapServers}");
        Assert.Contains("topic \"listed\" with 4 partitions", result.StdOut, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"broker (\d+) at 127\.0\.0\.1:(\d+)")]
    private static partial Regex BrokerLine();
}
