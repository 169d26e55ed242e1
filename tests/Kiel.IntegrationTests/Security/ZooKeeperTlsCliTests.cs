using Kiel.IntegrationTests.Fixtures;
using Kiel.ZooKeeper;

namespace Kiel.IntegrationTests.Security;

/// <summary>
/// The <c>kiel</c> tool's ZooKeeper security flags against the embedded ZooKeeper with TLS: <c>--zookeeper-ssl-ca</c>
/// reaches the secure client port and reads the groups written there; without it the same port is one clear error; a
/// SASL user without <c>KIEL_ZOOKEEPER_PASSWORD</c> is a usage error that names the variable. And against the embedded
/// ZooKeeper with SASL DIGEST-MD5: <c>--zookeeper-sasl-username</c> with the password reads a group under a <c>sasl</c>
/// ACL; a wrong password is one clear error that does not print it.
/// </summary>
public sealed class ZooKeeperTlsCliTests(TlsZooKeeperEnvironment env) : IClassFixture<TlsZooKeeperEnvironment>
{
    private static Task<ProcessRunner.Result> Kiel(params string[] args)
        => ProcessRunner.RunAsync("dotnet", [KielCliProcess.KielDll(), .. args], TimeSpan.FromSeconds(60));

    [Fact]
    public async Task Groups_list_over_TLS_with_the_CA_flag_and_a_clear_error_without_it()
    {
        var group = $"cli-tls-{Guid.NewGuid():N}";
        await using (var client = new ZooKeeperClient(env.Options()))
        {
            await client.ConnectAsync();
            await client.EnsurePathAsync($"/kiel/groups/{group}/members");
            await client.CreateAsync($"/kiel/groups/{group}/members/m1");
        }

        var secure = env.ZooKeeper.SecureConnectString!;
        var ok = await Kiel("groups", "list", "--zookeeper", secure, "--zookeeper-ssl-ca", env.ZooKeeper.TlsCaPath!);
        Assert.True(ok.ExitCode == 0, ok.StdOut + ok.StdErr);
        Assert.Contains($"{group}\t1 member(s)", ok.StdOut.Split('\n').Select(l => l.TrimEnd('\r')));

        var plain = await Kiel("groups", "list", "--zookeeper", secure);
        Assert.Equal(1, plain.ExitCode);
        Assert.StartsWith($"kiel: error: cannot reach ZooKeeper at {secure}", plain.StdErr.Trim());

        var missingCa = await Kiel("groups", "list", "--zookeeper", secure, "--zookeeper-ssl-ca", "/nonexistent/ca.pem");
        Assert.Equal(2, missingCa.ExitCode);
        Assert.Contains("--zookeeper-ssl-ca '/nonexistent/ca.pem' does not exist", missingCa.StdErr);

        var noPassword = await Kiel("groups", "list", "--zookeeper", secure, "--zookeeper-ssl-ca", env.ZooKeeper.TlsCaPath!, "--zookeeper-sasl-username", "kiel");
        Assert.Equal(2, noPassword.ExitCode);
        Assert.Contains("KIEL_ZOOKEEPER_PASSWORD", noPassword.StdErr);
    }
}

public sealed class ZooKeeperSaslCliTests(SaslZooKeeperEnvironment env) : IClassFixture<SaslZooKeeperEnvironment>
{
    [Fact]
    public async Task Groups_list_with_the_SASL_user_and_the_password_from_the_environment()
    {
        var group = $"cli-sasl-{Guid.NewGuid():N}";
        var user = SaslZooKeeperEnvironment.User;
        await using (var client = new ZooKeeperClient(env.Options(ZooKeeperAuth.Sasl(user, SaslZooKeeperEnvironment.Password))))
        {
            await client.ConnectAsync();
            await client.EnsurePathAsync("/kiel/groups");
            var acl = new[] { new ZooKeeperAcl(ZooKeeperPermissions.All, "sasl", user) };
            await client.CreateAsync($"/kiel/groups/{group}", acl: acl);
            await client.CreateAsync($"/kiel/groups/{group}/members", acl: acl);
            await client.CreateAsync($"/kiel/groups/{group}/members/m1", acl: acl);
        }

        Task<ProcessRunner.Result> Kiel(string password) => ProcessRunner.RunAsync("dotnet",
            [KielCliProcess.KielDll(), "groups", "list", "--zookeeper", env.ZooKeeper.ConnectString, "--zookeeper-sasl-username", user],
            TimeSpan.FromSeconds(60), new Dictionary<string, string> { ["KIEL_ZOOKEEPER_PASSWORD"] = password });

        var ok = await Kiel(SaslZooKeeperEnvironment.Password);
        Assert.True(ok.ExitCode == 0, ok.StdOut + ok.StdErr);
        Assert.Contains($"{group}\t1 member(s)", ok.StdOut.Split('\n').Select(l => l.TrimEnd('\r')));

        var wrong = await Kiel("not-the-zk-password");
        Assert.Equal(1, wrong.ExitCode);
        Assert.StartsWith($"kiel: error: cannot reach ZooKeeper at {env.ZooKeeper.ConnectString}", wrong.StdErr.Trim());
        Assert.Contains("accepts the SASL user", wrong.StdErr);
        Assert.DoesNotContain("not-the-zk-password", wrong.StdOut + wrong.StdErr);
    }
}
