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

    /// <summary>
    /// A short soak: the producer runs in its own process (<c>kiel chaos-producer</c>) and is sampled beside the members
    /// and the kiel process (labelled as holding the cluster, the proxy and the bookkeeping); the verdict still sees
    /// every delivery the child reports, and nothing is left running or in the temp folder. Eight seconds say nothing
    /// about flatness, so only the exit code's agreement with the soak's own line is checked, not flatness itself.
    /// </summary>
    [Fact]
    public async Task Soak_samples_the_producer_in_its_own_process_and_leaves_nothing_behind()
    {
        var tmp = Directory.CreateTempSubdirectory("kiel-chaos-test-");
        var marker = $"kiel-chaos-test-{Guid.NewGuid():N}";
        try
        {
            string output;
            int? exitCode;
            await using (var kiel = KielCliProcess.Start(
                new Dictionary<string, string?> { ["TMPDIR"] = tmp.FullName, ["KIEL_TEST_MARKER"] = marker },
                "chaos", "--soak", "--seed", "23", "--duration", "8s", "--coordination", "kafka", "--members", "1",
                "--fault-every", "3s", "--sample-every", "1s"))
            {
                await kiel.WaitForLineAsync(l => l.StartsWith("soak: ", StringComparison.Ordinal) && !l.StartsWith("soak: warm-up", StringComparison.Ordinal), Bound);
                Assert.True(await kiel.WaitForExitAsync(TimeSpan.FromSeconds(60)), "kiel chaos --soak did not exit after its report");
                output = string.Join('\n', kiel.StdOutSoFar);
                exitCode = kiel.ExitCode;
            }

            var verdict = output.Split('\n').Single(l => l.StartsWith("seed 23: ", StringComparison.Ordinal));
            var m = VerdictLine().Match(verdict);
            Assert.True(m.Success, output);
            Assert.True(long.Parse(m.Groups["acked"].Value) > 0, output);
            Assert.Equal("0", m.Groups["lost"].Value);
            Assert.Contains("verdict: OK", output);
            // The producer child's samples: its GC heap (which it reports), RSS, handles, threads and connections.
            Assert.Matches(@"(?m)^  producer \(\d+ samples after warm-up\): gc heap MiB [\d.]+ -> [\d.]+.*, rss MiB .*, handles .*, threads .*, connections ", output);
            Assert.Matches(@"(?m)^  kiel \(cluster, proxy, bookkeeping\) \(\d+ samples after warm-up, reported, not judged\): ", output);
            Assert.Matches(@"(?m)^  member-1 \(\d+ samples after warm-up\): gc heap MiB ", output);
            Assert.True((exitCode == 0) == output.Contains("soak: flat after warm-up.", StringComparison.Ordinal), $"exit code {exitCode}:\n{output}");

            var left = tmp.EnumerateFileSystemInfos("*", SearchOption.AllDirectories).Select(f => f.FullName).ToList();
            Assert.True(left.Count == 0, "kiel chaos --soak left in its temp folder: " + string.Join(", ", left.Take(10)));
            Assert.Empty(DemoCommandTests.ProcessesWithMarker(marker));
        }
        finally
        {
            tmp.Delete(recursive: true);
        }
    }

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

    [GeneratedRegex(@"^seed \d+: (?<produced>\d+) produced, (?<acked>\d+) acked, (?<consumed>\d+) consumed, (?<lost>\d+) lost, (?<duplicates>\d+) duplicates, max stall (?<stall>\d+) ms, faults: (?<faults>.+)$")]
    private static partial Regex VerdictLine();
}
