using Kiel.Testing.ZooKeeper;

namespace Kiel.IntegrationTests.ZooKeeper;

public sealed class EmbeddedZooKeeperTests
{
    [Fact]
    public async Task Standalone_answers_ruok_stops_restarts_and_cleans_up()
    {
        string folder;
        int? pid;
        await using (var zk = await EmbeddedZooKeeper.StartAsync())
        {
            folder = zk.Folder;
            pid = zk.ProcessId;
            Assert.True(Directory.Exists(folder));
            Assert.StartsWith("127.0.0.1:", zk.ConnectString);
            Assert.Equal("standalone", await FourLetterWords.GetModeAsync(zk.Port));

            await zk.StopAsync();
            Assert.False(zk.IsRunning);
            Assert.False(await FourLetterWords.IsOkAsync(zk.Port));

            await zk.RestartAsync();
            Assert.True(await FourLetterWords.IsOkAsync(zk.Port));
            zk.Kill();
            Assert.False(zk.IsRunning);
            await zk.RestartAsync();
            pid = zk.ProcessId;
        }
        Assert.False(Directory.Exists(folder));
        Assert.False(Directory.Exists($"/proc/{pid}") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("zookeeper"));
    }

    [Fact]
    public void Options_validate_names_the_bad_setting()
    {
        var e = Assert.Throws<ArgumentException>(() => new EmbeddedZooKeeperOptions { MinSessionTimeoutMs = 5000, MaxSessionTimeoutMs = 1000 }.Validate());
        Assert.Contains("MaxSessionTimeoutMs", e.Message);
    }

    [Fact]
    public async Task Missing_jar_names_the_package_to_install()
    {
        var e = await Assert.ThrowsAsync<ZooKeeperNotInstalledException>(
            () => EmbeddedZooKeeper.StartAsync(new EmbeddedZooKeeperOptions { ServerJar = "/nonexistent/zookeeper.jar" }));
        Assert.Contains("libzookeeper-java", e.Message);
    }

    [Fact]
    public async Task Ensemble_serves_and_survives_one_member_stopping()
    {
        string folder;
        await using (var ensemble = await EmbeddedZooKeeperEnsemble.StartAsync(3))
        {
            folder = ensemble.Folder;
            var leader = await ensemble.GetLeaderAsync();
            Assert.InRange(leader, 0, 2);
            await ensemble.StopServerAsync(leader);
            await ensemble.WaitForQuorumAsync();
            Assert.NotEqual(-1, await ensemble.GetLeaderAsync());
            await ensemble.StartServerAsync(leader);
            Assert.NotNull(await ensemble.GetModeAsync(leader));
        }
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public async Task Missing_java_names_the_package_to_install()
    {
        var e = await Assert.ThrowsAsync<ZooKeeperNotInstalledException>(
            () => EmbeddedZooKeeperEnsemble.StartAsync(3, new EmbeddedZooKeeperOptions { JavaPath = "/nonexistent/bin/java" }));
        Assert.Contains("openjdk-17-jre-headless", e.Message);
    }

    [Fact]
    public async Task Leftovers_of_a_dead_test_host_are_killed_and_removed()
    {
        // A folder whose owner is not running (PID 0 never is a test host), with a child whose command line names the folder.
        var folder = Path.Combine(Path.GetTempPath(), $"kiel-zk-0-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "owner"), "0 1");
        using var orphan = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/usr/bin/python3")
        {
            ArgumentList = { "-c", "import time; time.sleep(60)", folder },
        })!;
        File.WriteAllText(Path.Combine(folder, "pids"), orphan.Id + "\n");
        try
        {
            Assert.True(EmbeddedZooKeeper.RemoveStaleInstances() >= 1);
            Assert.False(Directory.Exists(folder));
            Assert.True(orphan.WaitForExit(5000));
        }
        finally
        {
            if (!orphan.HasExited) orphan.Kill();
            if (Directory.Exists(folder)) Directory.Delete(folder, true);
        }
    }
}
