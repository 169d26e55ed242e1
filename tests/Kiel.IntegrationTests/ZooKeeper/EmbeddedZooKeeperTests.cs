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
}
