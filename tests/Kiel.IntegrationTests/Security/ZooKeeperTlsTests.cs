using System.Text;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;
using Kiel.IntegrationTests.Producing;
using Kiel.Producing;
using Kiel.IntegrationTests.ZooKeeper;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;
using Kiel.ZooKeeper;

namespace Kiel.IntegrationTests.Security;

/// <summary>The real ZooKeeper 3.8 server serving TLS on its secure client port (Netty), and a Kafka cluster for the GroupedConsumer.</summary>
public sealed class TlsZooKeeperEnvironment : IAsyncLifetime
{
    public EmbeddedZooKeeper ZooKeeper { get; private set; } = null!;

    public EmbeddedKafkaCluster Kafka { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var zk = EmbeddedZooKeeper.StartAsync(new EmbeddedZooKeeperOptions { Tls = true });
        Kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        ZooKeeper = await zk;
    }

    public async Task DisposeAsync()
    {
        if (Kafka is not null) await Kafka.DisposeAsync();
        if (ZooKeeper is not null) await ZooKeeper.DisposeAsync();
    }

    public ZooKeeperClientOptions Options(ZooKeeperTlsOptions? tls = null) => new()
    {
        ConnectString = ZooKeeper.SecureConnectString!,
        SessionTimeout = TimeSpan.FromSeconds(6),
        Tls = tls ?? new ZooKeeperTlsOptions { SslCaLocation = ZooKeeper.TlsCaPath },
    };
}

/// <summary>ZooKeeper over TLS: kazoo proves the server first, then Kiel's client and the GroupedConsumer use it, and certificate problems are clear errors.</summary>
[Trait("Category", "Security")]
public sealed class ZooKeeperTlsTests(TlsZooKeeperEnvironment env) : IClassFixture<TlsZooKeeperEnvironment>
{
    [Fact]
    public async Task Kazoo_over_tls_writes_and_reads_on_the_secure_port_and_kiel_reads_it_too()
    {
        Assert.True(KazooProcess.IsAvailable, "install python3-kazoo");
        var path = StandaloneZooKeeperFixture.UniqueRoot("kazoo-tls");
        var lines = await KazooProcess.RunAsync("""
            import sys
            from kazoo.client import KazooClient
            zk = KazooClient(hosts=sys.argv[1], timeout=10, use_ssl=True, ca=sys.argv[2], verify_certs=True)
            zk.start(timeout=15)
            zk.create(sys.argv[3], b"from kazoo over tls")
            data, _ = zk.get(sys.argv[3])
            print(data.decode())
            zk.stop()
            """, env.ZooKeeper.SecureConnectString!, env.ZooKeeper.TlsCaPath!, path);
        Assert.Equal(["from kazoo over tls"], lines);

        await using var client = await StandaloneZooKeeperFixture.ConnectAsync(env.Options());
        Assert.Equal("from kazoo over tls", Encoding.UTF8.GetString((await client.GetDataAsync(path)).Data));
        await client.DeleteAsync(path);
    }

    [Fact]
    public async Task Kiel_over_tls_creates_watches_and_reads_and_kazoo_over_tls_reads_what_kiel_wrote()
    {
        var path = StandaloneZooKeeperFixture.UniqueRoot("kiel-tls");
        await using var client = await StandaloneZooKeeperFixture.ConnectAsync(env.Options());
        Assert.Equal(env.ZooKeeper.SecureConnectString, client.CurrentServer);
        await client.CreateAsync(path, "v1"u8.ToArray());
        var changed = new TaskCompletionSource<WatchedEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        var (data, _) = await client.GetDataAsync(path, e => changed.TrySetResult(e));
        Assert.Equal("v1", Encoding.UTF8.GetString(data));
        // Many requests in flight over one TLS stream: replies matched, nothing lost.
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => client.CreateAsync($"{path}/c{i:D3}", Encoding.UTF8.GetBytes($"n{i}"))));
        Assert.Equal(200, (await client.GetChildrenAsync(path)).Count);
        await using (var other = await StandaloneZooKeeperFixture.ConnectAsync(env.Options()))
            await other.SetDataAsync(path, "v2"u8.ToArray());
        Assert.Equal(WatchEventType.NodeDataChanged, (await changed.Task.WaitAsync(TimeSpan.FromSeconds(20))).Type);

        Assert.True(KazooProcess.IsAvailable, "install python3-kazoo");
        var lines = await KazooProcess.RunAsync("""
            import sys
            from kazoo.client import KazooClient
            zk = KazooClient(hosts=sys.argv[1], timeout=10, use_ssl=True, ca=sys.argv[2], verify_certs=True)
            zk.start(timeout=15)
            print(zk.get(sys.argv[3])[0].decode())
            print(len(zk.get_children(sys.argv[3])))
            print(zk.get(sys.argv[3] + "/c123")[0].decode())
            zk.stop()
            """, env.ZooKeeper.SecureConnectString!, env.ZooKeeper.TlsCaPath!, path);
        Assert.Equal(["v2", "200", "n123"], lines);
    }

    [Fact]
    public async Task A_server_certificate_from_an_unknown_ca_is_a_clear_error_and_plaintext_to_the_tls_port_does_not_hang()
    {
        // The wrong CA: the certificate problem is named (and no session is made).
        var otherCa = Path.Combine(Path.GetTempPath(), $"kiel-zk-other-ca-{Guid.NewGuid():N}.pem");
        File.WriteAllText(otherCa, OtherCaPem());
        try
        {
            var wrongCa = new ZooKeeperClient(env.Options(new ZooKeeperTlsOptions { SslCaLocation = otherCa }) with { ConnectionWaitTimeout = TimeSpan.FromSeconds(4) });
            await using (wrongCa)
            {
                var e = await Assert.ThrowsAsync<ConnectionLossException>(() => wrongCa.ConnectAsync());
                Assert.Contains("unknown CA", e.Message, StringComparison.Ordinal);
                Assert.IsType<System.Security.Authentication.AuthenticationException>(e.InnerException);
                Assert.Equal(0, wrongCa.SessionId);
            }
        }
        finally
        {
            File.Delete(otherCa);
        }

        // A pinning callback that refuses: refused, and its refusal is named.
        var refusing = new ZooKeeperClient(env.Options(new ZooKeeperTlsOptions { SslCaLocation = env.ZooKeeper.TlsCaPath, SslCertificateValidation = (_, _, _) => false })
            with { ConnectionWaitTimeout = TimeSpan.FromSeconds(4) });
        await using (refusing)
            Assert.Contains("SslCertificateValidation", (await Assert.ThrowsAsync<ConnectionLossException>(() => refusing.ConnectAsync())).Message, StringComparison.Ordinal);

        // A plaintext client on the TLS port gets no session, within its wait, and does not hang.
        var plain = new ZooKeeperClient(env.Options() with { Tls = null, ConnectionWaitTimeout = TimeSpan.FromSeconds(4), ConnectTimeout = TimeSpan.FromSeconds(2) });
        await using (plain)
        {
            using var cts = TestTimeouts.After(30);
            await Assert.ThrowsAsync<ConnectionLossException>(() => plain.ConnectAsync(cts.Token));
        }

        // TLS to the plaintext port: a handshake failure, named as such.
        var tlsToPlain = new ZooKeeperClient(env.Options() with { ConnectString = env.ZooKeeper.ConnectString, ConnectionWaitTimeout = TimeSpan.FromSeconds(4), ConnectTimeout = TimeSpan.FromSeconds(2) });
        await using (tlsToPlain)
        {
            using var cts = TestTimeouts.After(30);
            var e = await Assert.ThrowsAsync<ConnectionLossException>(() => tlsToPlain.ConnectAsync(cts.Token));
            Assert.Contains("last attempt failed", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_grouped_consumer_moves_every_record_with_its_zookeeper_sessions_over_tls()
    {
        var topic = GroupEnvironment.Unique("zktls");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, 2);
        const int Count = 2000;
        await using (var producer = new KielProducer<string, string>(ProducerTestKit.Options(env.Kafka.BootstrapServers)))
            await Task.WhenAll(Enumerable.Range(0, Count).Select(i => producer.ProduceAsync(topic, $"{i}", $"{{\"n\": {i}}}").AsTask()));
        var options = new GroupedConsumerOptions
        {
            BootstrapServers = env.Kafka.BootstrapServers,
            Group = group,
            ZooKeeperHosts = [env.ZooKeeper.SecureConnectString!],
            ZooKeeperTls = new ZooKeeperTlsOptions { SslCaLocation = env.ZooKeeper.TlsCaPath },
            WriteZooKeeperOffsets = true,
            AutoOffsetReset = OffsetResetPolicy.Earliest,
            FetchMaxWait = TimeSpan.FromMilliseconds(100),
            ZooKeeperSessionTimeout = TimeSpan.FromSeconds(4),
        };
        var seen = new List<int>();
        await using (var consumer = new GroupedConsumer(options))
        {
            using var cts = TestTimeouts.After(90);
            await consumer.ConnectAsync(cts.Token);
            // ConnectAsync returns after the first allocation; the claims behind it may take longer on a loaded machine.
            Assert.True(await TestTimeouts.WaitUntilAsync(() => consumer.Allocation.TryGetValue(topic, out var claimed) && claimed.Count == 2, TimeSpan.FromSeconds(20)));
            while (seen.Count < Count && !cts.IsCancellationRequested)
                seen.AddRange((await consumer.ConsumeAsync(topic, null, cts.Token)).Select(e => e.GetProperty("n").GetInt32()));
        }
        Assert.Equal(Enumerable.Range(0, Count), seen.Order());

        // The group's znodes and the ZooKeeper offsets were written through the TLS port.
        await using var check = await StandaloneZooKeeperFixture.ConnectAsync(env.Options());
        Assert.Contains("partitions", await check.GetChildrenAsync($"/kiel/groups/{group}"));
        var committed = 0L;
        foreach (var p in new[] { "0", "1" })
            committed += long.Parse(Encoding.UTF8.GetString((await check.GetDataAsync($"/consumers/{group}/offsets/{topic}/{p}")).Data), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Count, committed);

        // The same group pointed at the TLS port without TLS cannot join.
        await using var plain = new GroupedConsumer(options with { ZooKeeperTls = null, ZooKeeperConnectTimeout = TimeSpan.FromSeconds(5) });
        using var cts2 = TestTimeouts.After(30);
        await Assert.ThrowsAnyAsync<Exception>(() => plain.ConnectAsync(cts2.Token));
    }

    private static string OtherCaPem()
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Not The ZooKeeper CA", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return ca.ExportCertificatePem() + "\n";
    }
}

/// <summary>A secure port that asks for a client certificate (<c>ssl.clientAuth=need</c>).</summary>
[Trait("Category", "Security")]
public sealed class ZooKeeperMutualTlsTests
{
    [Fact]
    public async Task A_server_that_needs_a_client_certificate_serves_one_signed_by_its_ca_and_refuses_none_or_an_untrusted_one()
    {
        await using var zk = await EmbeddedZooKeeper.StartAsync(new EmbeddedZooKeeperOptions { Tls = true, TlsRequireClientCertificate = true });
        ZooKeeperClientOptions Options(string? cert, string? key) => new()
        {
            ConnectString = zk.SecureConnectString!,
            SessionTimeout = TimeSpan.FromSeconds(6),
            ConnectionWaitTimeout = TimeSpan.FromSeconds(5),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            Tls = new ZooKeeperTlsOptions { SslCaLocation = zk.TlsCaPath, SslCertificateLocation = cert, SslKeyLocation = key },
        };

        await using (var trusted = await StandaloneZooKeeperFixture.ConnectAsync(Options(zk.TlsClientCertificatePath, zk.TlsClientKeyPath)))
        {
            await trusted.CreateAsync("/mtls", "ok"u8.ToArray());
            Assert.Equal("ok", Encoding.UTF8.GetString((await trusted.GetDataAsync("/mtls")).Data));
        }

        foreach (var (cert, key) in new[] { ((string?)null, (string?)null), (zk.UntrustedClientCertificate!.Value.Certificate, zk.UntrustedClientCertificate!.Value.Key) })
        {
            var refused = new ZooKeeperClient(Options(cert, key));
            await using (refused)
            {
                using var cts = TestTimeouts.After(30);
                await Assert.ThrowsAsync<ConnectionLossException>(() => refused.ConnectAsync(cts.Token));
                Assert.Equal(0, refused.SessionId);
            }
        }
    }
}
