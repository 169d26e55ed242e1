using Kiel.IntegrationTests.Fixtures;

namespace Kiel.IntegrationTests.Cli;

/// <summary>
/// Drives <c>kiel consume</c> and <c>kiel groups describe</c> in a real terminal (tmux, on a private socket) against a
/// <c>kiel cluster --zookeeper</c> process, and checks what the screen shows.
/// </summary>
public sealed class TerminalTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [ToolFact("tmux", "tmux")]
    public async Task ConsumeAndGroupsDescribeUnderTmux()
    {
        Assert.True(ZooKeeperFactAttributeAvailable(), "java and the ZooKeeper jar are needed");
        await using var cluster = KielCliProcess.Start("cluster", "--topic", "screen:3", "--zookeeper");
        var bootstrap = (await cluster.WaitForLineAsync(l => l.StartsWith("bootstrap.servers=", StringComparison.Ordinal), Bound))["bootstrap.servers=".Length..];
        var zookeeper = (await cluster.WaitForLineAsync(l => l.StartsWith("zookeeper.connect=", StringComparison.Ordinal), Bound))["zookeeper.connect=".Length..];

        var input = Path.Combine(Path.GetTempPath(), $"kiel-tmux-{Guid.NewGuid():N}.txt");
        await File.WriteAllLinesAsync(input, Enumerable.Range(1, 30).Select(i => $"k{i}:screen-value-{i}"));
        // A socket path of our own (not -L, whose socket tmux leaves in $TMPDIR/tmux-UID after kill-server).
        var socket = Path.Combine(Path.GetTempPath(), $"kiel-test-{Guid.NewGuid():N}"[..20]);
        var kiel = $"dotnet {KielCliProcess.KielDll()}";
        try
        {
            var produced = await ProcessRunner.RunAsync("dotnet", [KielCliProcess.KielDll(), "produce", "screen", "-b", bootstrap, "-f", input, "--key-separator", ":"], Bound);
            Assert.Equal(0, produced.ExitCode);

            await Tmux(socket, "new-session", "-d", "-s", "consume", "-x", "160", "-y", "50",
                $"{kiel} consume screen -b {bootstrap} --group screen-group --zookeeper {zookeeper}; echo CONSUME-EXITED $?; sleep 60");
            var screen = await WaitForScreen(socket, "consume", s => Enumerable.Range(1, 30).All(i => s.Contains($"screen-value-{i}\n", StringComparison.Ordinal)
                || s.EndsWith($"screen-value-{i}", StringComparison.Ordinal)));
            Assert.Contains("joined group screen-group", screen);

            await Tmux(socket, "new-window", "-d", "-n", "describe",
                $"{kiel} groups describe screen-group --zookeeper {zookeeper} -b {bootstrap}; echo DESCRIBE-EXITED $?; sleep 60");
            var described = await WaitForScreen(socket, "describe", s => s.Contains("DESCRIBE-EXITED", StringComparison.Ordinal));
            Assert.Contains("DESCRIBE-EXITED 0", described);
            Assert.Contains("group screen-group: 1 member(s)", described);
            Assert.Contains("owns 3: screen:0 screen:1 screen:2", described);
            Assert.Contains("total lag 0", described);

            // Ctrl-C ends the consumer cleanly: it winds down and says how many records it printed.
            await Tmux(socket, "send-keys", "-t", "consume", "C-c");
            var after = await WaitForScreen(socket, "consume", s => s.Contains("CONSUME-EXITED", StringComparison.Ordinal));
            Assert.Contains("consumed 30 record(s) from screen", after);
            Assert.Contains("CONSUME-EXITED 0", after);
        }
        finally
        {
            await ProcessRunner.RunAsync("tmux", ["-S", socket, "kill-server"], Bound);
            File.Delete(socket);
            File.Delete(input);
        }
    }

    private static bool ZooKeeperFactAttributeAvailable() => Kiel.Testing.ZooKeeper.ZooKeeperInstallation.IsAvailable;

    private static async Task Tmux(string socket, params string[] args)
    {
        var r = await ProcessRunner.RunAsync("env", ["TERM=xterm-256color", "tmux", "-S", socket, .. args], Bound);
        Assert.True(r.ExitCode == 0, $"tmux {string.Join(' ', args)}: {r.StdErr}");
    }

    private static async Task<string> WaitForScreen(string socket, string target, Func<string, bool> done)
    {
        var deadline = DateTime.UtcNow + Bound;
        var screen = "";
        while (DateTime.UtcNow < deadline)
        {
            var r = await ProcessRunner.RunAsync("tmux", ["-S", socket, "capture-pane", "-p", "-J", "-t", target, "-S", "-200"], Bound);
            screen = r.StdOut;
            if (done(screen))
            {
                return screen;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"The screen of '{target}' never showed what was expected. Last screen:\n{screen}");
    }
}
