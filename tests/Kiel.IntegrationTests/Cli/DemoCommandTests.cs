using Kiel.IntegrationTests.Fixtures;

namespace Kiel.IntegrationTests.Cli;

/// <summary><c>kiel demo</c> in its small form, as CI runs it: the verdict must say nothing was lost and the exit code 0.</summary>
public sealed class DemoCommandTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    [ZooKeeperFact]
    public async Task SmallDemoKillsAMemberAndLosesNothing()
    {
        // The demo and everything it starts (members, ZooKeeper) get a temp folder of their own, so that what they leave
        // behind can be seen without racing other tests over /tmp. (The build's own MSBuild sockets are not the demo's.)
        var tmp = Directory.CreateTempSubdirectory("kiel-demo-test-");
        var marker = $"kiel-demo-test-{Guid.NewGuid():N}";
        try
        {
            await RunSmallDemo(new Dictionary<string, string?> { ["TMPDIR"] = tmp.FullName, ["KIEL_TEST_MARKER"] = marker });
            var left = tmp.EnumerateFileSystemInfos("*", SearchOption.AllDirectories).Select(f => f.FullName).ToList();
            Assert.True(left.Count == 0, "the demo left in its temp folder: " + string.Join(", ", left.Take(10)));
            Assert.Empty(ProcessesWithMarker(marker));
        }
        finally
        {
            tmp.Delete(recursive: true);
        }
    }

    /// <summary>Ids of live processes whose environment carries <paramref name="marker"/> (what the demo started inherits it).</summary>
    internal static List<int> ProcessesWithMarker(string marker)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var environ = File.ReadAllText(Path.Combine(dir, "environ"));
                if (environ.Contains("KIEL_TEST_MARKER=" + marker, StringComparison.Ordinal) && !File.ReadAllText(Path.Combine(dir, "stat")).Contains(") Z ", StringComparison.Ordinal))
                    found.Add(pid);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return found;
    }

    private static async Task RunSmallDemo(IReadOnlyDictionary<string, string?> environment)
    {
        await using var kiel = KielCliProcess.Start(environment, "demo", "--records", "5000");
        var verdict = await kiel.WaitForLineAsync(l => l.Contains(" produced, ", StringComparison.Ordinal), Bound);
        Assert.True(await kiel.WaitForExitAsync(TimeSpan.FromSeconds(60)), "kiel demo did not exit after its verdict");

        var output = string.Join('\n', kiel.StdOutSoFar);
        Assert.Matches(@"^5000 produced, 5000 consumed, 0 lost, \d+ duplicates, 1 rebalance$", verdict);
        Assert.Contains("member-2 killed (SIGKILL)", output);
        Assert.Contains("verdict: OK, nothing lost.", output);
        // Without a terminal the demo prints plain lines, no ANSI escapes.
        Assert.DoesNotContain('\u001b', output);
        Assert.Equal(0, kiel.ExitCode);
    }

    [Fact]
    public async Task SmallDemoAsAKafkaGroupKillsAMemberAndLosesNothingWithoutZooKeeper()
    {
        var tmp = Directory.CreateTempSubdirectory("kiel-demo-test-");
        var marker = $"kiel-demo-test-{Guid.NewGuid():N}";
        try
        {
            await using (var kiel = KielCliProcess.Start(new Dictionary<string, string?> { ["TMPDIR"] = tmp.FullName, ["KIEL_TEST_MARKER"] = marker },
                "demo", "--records", "5000", "--coordination", "kafka"))
            {
                var verdict = await kiel.WaitForLineAsync(l => l.Contains(" produced, ", StringComparison.Ordinal), Bound);
                Assert.True(await kiel.WaitForExitAsync(TimeSpan.FromSeconds(60)), "kiel demo did not exit after its verdict");
                var output = string.Join('\n', kiel.StdOutSoFar);
                Assert.Matches(@"^5000 produced, 5000 consumed, 0 lost, \d+ duplicates, 1 rebalance$", verdict);
                Assert.Contains("in a Kafka group", output);
                Assert.DoesNotContain("ZooKeeper 127.0.0.1", output);
                Assert.Contains("member-2 killed (SIGKILL)", output);
                Assert.Contains("(Kafka group session timeout", output);
                Assert.Contains("verdict: OK, nothing lost.", output);
                Assert.Equal(0, kiel.ExitCode);
            }
            Assert.Empty(ProcessesWithMarker(marker));
        }
        finally
        {
            tmp.Delete(recursive: true);
        }
    }

    [ZooKeeperFact]
    public async Task NoKillMeansNoRebalance()
    {
        await using var kiel = KielCliProcess.Start("demo", "--records", "2000", "--members", "2", "--partitions", "4", "--no-kill", "--rate", "0");
        var verdict = await kiel.WaitForLineAsync(l => l.Contains(" produced, ", StringComparison.Ordinal), Bound);
        Assert.True(await kiel.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("2000 produced, 2000 consumed, 0 lost, 0 duplicates, 0 rebalances", verdict);
        Assert.Equal(0, kiel.ExitCode);
    }

    [Fact]
    public async Task BadOptionValueIsOneLineAndExitCode2()
    {
        var result = await ProcessRunner.RunAsync("dotnet", [KielCliProcess.KielDll(), "demo", "--records", "0"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("--records must be between 1 and 10,000,000 (was 0)", line);
    }
}
