using System.Text;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;
using Kiel.IntegrationTests.Producing;
using Kiel.IntegrationTests.ZooKeeper;
using Kiel.Producing;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;
using Kiel.ZooKeeper;
using Microsoft.Extensions.Logging;

namespace Kiel.IntegrationTests.Security;

/// <summary>The real ZooKeeper 3.8 server with a JAAS file of DIGEST-MD5 users, and a Kafka cluster for the GroupedConsumer.</summary>
public sealed class SaslZooKeeperEnvironment : IAsyncLifetime
{
    public const string User = "kielsasl";
    public const string Password = "zk-sasl-password-41";

    public EmbeddedZooKeeper ZooKeeper { get; private set; } = null!;

    public EmbeddedKafkaCluster Kafka { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var zk = EmbeddedZooKeeper.StartAsync(new EmbeddedZooKeeperOptions { SaslUsers = new Dictionary<string, string> { [User] = Password, ["other"] = "other-pw" } });
        Kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        ZooKeeper = await zk;
    }

    public async Task DisposeAsync()
    {
        if (Kafka is not null) await Kafka.DisposeAsync();
        if (ZooKeeper is not null) await ZooKeeper.DisposeAsync();
    }

    public ZooKeeperClientOptions Options(ZooKeeperAuth? auth) => new()
    {
        ConnectString = ZooKeeper.ConnectString,
        SessionTimeout = TimeSpan.FromSeconds(6),
        Auth = auth is null ? [] : [auth],
    };
}

/// <summary>ZooKeeper SASL DIGEST-MD5: kazoo proves the server first, then Kiel's client and the GroupedConsumer use it under sasl ACLs.</summary>
[Trait("Category", "Security")]
public sealed class ZooKeeperSaslTests(SaslZooKeeperEnvironment env) : IClassFixture<SaslZooKeeperEnvironment>
{
    private const string User = SaslZooKeeperEnvironment.User;
    private const string Password = SaslZooKeeperEnvironment.Password;
    private static readonly ZooKeeperAcl SaslAll = new(ZooKeeperPermissions.All, "sasl", User);

    [Fact]
    public async Task Kazoo_with_sasl_digest_md5_writes_under_a_sasl_acl_that_kiel_with_the_same_user_reads_and_an_anonymous_session_cannot()
    {
        Assert.True(KazooProcess.IsAvailable, "install python3-kazoo");
        var path = StandaloneZooKeeperFixture.UniqueRoot("kazoo-sasl");
        var lines = await KazooProcess.RunAsync("""
            import sys
            from kazoo.client import KazooClient
            from kazoo.security import make_acl
            zk = KazooClient(hosts=sys.argv[1], timeout=10, sasl_options={"mechanism": "DIGEST-MD5", "username": sys.argv[3], "password": sys.argv[4]})
            zk.start(timeout=15)
            zk.create(sys.argv[2], b"from kazoo", acl=[make_acl("sasl", sys.argv[3], all=True)])
            print(zk.get(sys.argv[2])[0].decode())
            zk.stop()
            """, env.ZooKeeper.ConnectString, path, User, Password);
        Assert.Equal(["from kazoo"], lines);

        await using (var anonymous = await StandaloneZooKeeperFixture.ConnectAsync(env.Options(null)))
            await Assert.ThrowsAsync<NoAuthException>(() => anonymous.GetDataAsync(path));
        await using (var other = await StandaloneZooKeeperFixture.ConnectAsync(env.Options(ZooKeeperAuth.Sasl("other", "other-pw"))))
            await Assert.ThrowsAsync<NoAuthException>(() => other.GetDataAsync(path));
        await using var kiel = await StandaloneZooKeeperFixture.ConnectAsync(env.Options(ZooKeeperAuth.Sasl(User, Password)));
        Assert.Equal("from kazoo", Encoding.UTF8.GetString((await kiel.GetDataAsync(path)).Data));
        Assert.Equal([SaslAll], (await kiel.GetAclAsync(path)).Acl);
        await kiel.DeleteAsync(path);
    }

    [Fact]
    public async Task Kiel_with_sasl_writes_under_a_sasl_acl_that_kazoo_with_the_same_user_reads_and_survives_a_reconnect()
    {
        var path = StandaloneZooKeeperFixture.UniqueRoot("kiel-sasl");
        var logs = new ReauthenticationTests.CapturingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        await using var kiel = await StandaloneZooKeeperFixture.ConnectAsync(env.Options(ZooKeeperAuth.Sasl(User, Password)) with { DefaultAcl = [SaslAll], LoggerFactory = factory });
        await kiel.CreateAsync(path, "from kiel"u8.ToArray());
        Assert.Contains(logs.Entries.Select(e => e.Message), l => l.Contains($"authenticated with SASL DIGEST-MD5 as {User}", StringComparison.Ordinal));

        Assert.True(KazooProcess.IsAvailable, "install python3-kazoo");
        var lines = await KazooProcess.RunAfterAnonymousReadAsync("""
            zk = KazooClient(hosts=sys.argv[1], timeout=10, sasl_options={"mechanism": "DIGEST-MD5", "username": sys.argv[3], "password": sys.argv[4]})
            zk.start(timeout=15)
            print(zk.get(sys.argv[2])[0].decode())
            acl = zk.get_acls(sys.argv[2])[0][0]
            print(acl.id.scheme + ":" + acl.id.id)
            zk.stop()
            """, env.ZooKeeper.ConnectString, path, User, Password);
        Assert.Equal(["anonymous refused", "from kiel", $"sasl:{User}"], lines);

        // A reconnect (the server restarted) authenticates again before any request: the node stays readable.
        await env.ZooKeeper.StopAsync();
        await env.ZooKeeper.RestartAsync();
        using var cts = TestTimeouts.After(30);
        Assert.Equal("from kiel", Encoding.UTF8.GetString((await kiel.GetDataAsync(path).WaitAsync(cts.Token)).Data));
        Assert.True(logs.Entries.Select(e => e.Message).Count(l => l.Contains("authenticated with SASL DIGEST-MD5", StringComparison.Ordinal)) >= 2);
        Assert.DoesNotContain(logs.Entries.Select(e => e.Message), l => l.Contains(Password, StringComparison.Ordinal));
        await kiel.DeleteAsync(path);
    }

    [Fact]
    public async Task A_wrong_password_or_unknown_user_is_a_clear_error_within_the_wait_and_names_no_secret()
    {
        foreach (var auth in new[] { ZooKeeperAuth.Sasl(User, "not-the-password"), ZooKeeperAuth.Sasl("nobody", "whatever-pw") })
        {
            var client = new ZooKeeperClient(env.Options(auth) with { ConnectionWaitTimeout = TimeSpan.FromSeconds(5) });
            await using (client)
            {
                using var cts = TestTimeouts.After(30);
                var e = await Assert.ThrowsAsync<ConnectionLossException>(() => client.ConnectAsync(cts.Token));
                Assert.Contains("SASL DIGEST-MD5", e.Message, StringComparison.Ordinal);
                Assert.Contains(auth.SplitUserPassword().User, e.Message, StringComparison.Ordinal);
                Assert.DoesNotContain(auth.SplitUserPassword().Password, e.ToString(), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task The_grouped_consumer_moves_every_record_with_its_znodes_under_a_sasl_acl()
    {
        var topic = GroupEnvironment.Unique("zksasl");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 2);
        const int Count = 1000;
        await using (var producer = new KielProducer<string, string>(ProducerTestKit.Options(env.Kafka.BootstrapServers)))
            await Task.WhenAll(Enumerable.Range(0, Count).Select(i => producer.ProduceAsync(topic, $"{i}", $"{{\"n\": {i}}}").AsTask()));
        var options = new GroupedConsumerOptions
        {
            BootstrapServers = env.Kafka.BootstrapServers,
            Group = group,
            ZooKeeperHosts = [env.ZooKeeper.ConnectString],
            ZooKeeperAuth = ZooKeeperAuth.Sasl(User, Password),
            ZooKeeperAcl = [SaslAll],
            AutoOffsetReset = OffsetResetPolicy.Earliest,
            FetchMaxWait = TimeSpan.FromMilliseconds(100),
            ZooKeeperSessionTimeout = TimeSpan.FromSeconds(4),
        };
        Assert.DoesNotContain(Password, options.ToString(), StringComparison.Ordinal);
        var seen = new List<int>();
        await using (var consumer = new GroupedConsumer(options))
        {
            using var cts = TestTimeouts.After(90);
            await consumer.ConnectAsync(cts.Token);
            while (seen.Count < Count && !cts.IsCancellationRequested)
                seen.AddRange((await consumer.ConsumeAsync(topic, null, cts.Token)).Select(e => e.GetProperty("n").GetInt32()));
        }
        Assert.Equal(Enumerable.Range(0, Count), seen.Order());

        var root = $"/kiel/groups/{group}";
        await using (var anonymous = await StandaloneZooKeeperFixture.ConnectAsync(env.Options(null)))
            await Assert.ThrowsAsync<NoAuthException>(() => anonymous.GetChildrenAsync(root));
        await using (var authenticated = await StandaloneZooKeeperFixture.ConnectAsync(env.Options(ZooKeeperAuth.Sasl(User, Password))))
            Assert.Equal([SaslAll], (await authenticated.GetAclAsync(root + "/partitions")).Acl);
    }
}
