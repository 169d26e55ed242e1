using System.Text.RegularExpressions;
using Kiel.IntegrationTests.Fixtures;

namespace Kiel.IntegrationTests.Cli;

/// <summary>
/// The short chaos campaign CI runs: <c>kiel chaos</c> with a fixed seed for a short time, once per coordination. The
/// verdict must report nothing lost, no hang and order held, the exit code 0, and nothing left running or in its
/// temp folder (members are SIGKILLed and SIGSTOPped on purpose).
/// </summary>
public sealed partial class ChaosCommandTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(4);

    [ZooKeeperFact]
    public Task ZooKeeper_campaign_loses_nothing() => RunAsync("zookeeper");

    [Fact]
    public Task Kafka_group_campaign_loses_nothing() => RunAsync("kafka");

    private static async Task RunAsync(string coordination)
    {
        var tmp = Directory.CreateTempSubdirectory("kiel-chaos-test-");
        var marker = $"kiel-chaos-test-{Guid.NewGuid():N}";
        try
        {
            string verdict;
            string output;
            await using (var kiel = KielCliProcess.Start(
                new Dictionary<string, string?> { ["TMPDIR"] = tmp.FullName, ["KIEL_TEST_MARKER"] = marker },
                "chaos", "--seed", "19", "--duration", "10s", "--coordination", coordination, "--fault-every", "1s"))
            {
                verdict = await kiel.WaitForLineAsync(l => l.StartsWith("seed 19: ", StringComparison.Ordinal), Bound);
                Assert.True(await kiel.WaitForExitAsync(TimeSpan.FromSeconds(60)), "kiel chaos did not exit after its verdict");
                output = string.Join('\n', kiel.StdOutSoFar);
                Assert.True(kiel.ExitCode == 0, $"exit code {kiel.ExitCode}:\n{output}\n{kiel.StdErr}");
            }

            var m = VerdictLine().Match(verdict);
            Assert.True(m.Success, verdict);
            Assert.True(long.Parse(m.Groups["acked"].Value) > 0, verdict);
            Assert.True(long.Parse(m.Groups["consumed"].Value) >= long.Parse(m.Groups["acked"].Value), verdict);
            Assert.Equal("0", m.Groups["lost"].Value);
            Assert.NotEqual("none", m.Groups["faults"].Value);
            Assert.Contains("verdict: OK", output);
            Assert.Contains(" 0 order violation(s)", output);

            var left = tmp.EnumerateFileSystemInfos("*", SearchOption.AllDirectories).Select(f => f.FullName).ToList();
            Assert.True(left.Count == 0, "kiel chaos left in its temp folder: " + string.Join(", ", left.Take(10)));
            Assert.Empty(DemoCommandTests.ProcessesWithMarker(marker));
        }
        finally
        {
            tmp.Delete(recursive: true);
        }
    }

    [GeneratedRegex(@"^seed 19: (?<produced>\d+) produced, (?<acked>\d+) acked, (?<consumed>\d+) consumed, (?<lost>\d+) lost, (?<duplicates>\d+) duplicates, max stall (?<stall>\d+) ms, faults: (?<faults>.+)$")]
    private static partial Regex VerdictLine();
}
