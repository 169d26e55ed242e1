using System.Diagnostics;
using Kiel.IntegrationTests.Producing;
using Kiel.Producing;
using Kiel.Testing;
using Xunit.Abstractions;

namespace Kiel.IntegrationTests.Security;

/// <summary>Wrong credentials and bad certificates through the secured front: a clear error, within the request timeout, and no hang.</summary>
public sealed class SecuredFailureTests(ITestOutputHelper output)
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Produces one record and returns the failure; asserts it came within the request timeout (plus slack for a busy machine).</summary>
    private async Task<Exception> FailureAsync(KielProducerOptions options)
    {
        var clock = Stopwatch.StartNew();
        Exception? failure = null;
        await using (var producer = new KielProducer<string, string>(options with { RequestTimeout = RequestTimeout, MaxBlock = RequestTimeout, DeliveryTimeout = TimeSpan.FromSeconds(20) }))
        {
            try
            {
                var report = await producer.ProduceAsync("t", "k", "v").AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                failure = report.Error;
            }
            catch (Exception e) when (e is not TimeoutException)
            {
                failure = e;
            }
        }
        Assert.NotNull(failure);
        output.WriteLine($"{clock.ElapsedMilliseconds} ms: {failure}");
        Assert.True(clock.Elapsed < RequestTimeout + TimeSpan.FromSeconds(5), $"the failure took {clock.Elapsed}");
        return failure!;
    }

    private static AuthenticationException Authentication(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is AuthenticationException a) return a;
        Assert.Fail($"no AuthenticationException in {e}");
        return null!;
    }

    [Theory]
    [InlineData(SaslMechanism.Plain)]
    [InlineData(SaslMechanism.ScramSha256)]
    [InlineData(SaslMechanism.ScramSha512)]
    public async Task Wrong_password_and_unknown_user_are_clear_errors(SaslMechanism mechanism)
    {
        await using var cluster = await SecuredFrontPeerTests.StartAsync(tls: true, brokers: 1);
        var security = cluster.Security!;
        var good = security.Apply(ProducerTestKit.Options(cluster.BootstrapServers), mechanism);

        var wrong = Authentication(await FailureAsync(good with { SaslPassword = "not-the-password" }));
        Assert.Equal(SecurityNames.Of(mechanism), wrong.Mechanism);
        Assert.Contains("127.0.0.1", wrong.Message);
        Assert.Contains("SaslPassword", wrong.Message);
        Assert.DoesNotContain("not-the-password", wrong.ToString());
        Assert.DoesNotContain(security.Password, wrong.ToString());

        var unknown = Authentication(await FailureAsync(good with { SaslUsername = "mallory" }));
        Assert.Contains("SaslUsername", unknown.Message);
    }

    [Fact]
    public async Task A_mechanism_the_broker_does_not_enable_is_named()
    {
        await using var cluster = await SecuredFrontPeerTests.StartAsync(tls: false,
            new EmbeddedSecurityOptions { SaslMechanisms = [SaslMechanism.ScramSha512] }, brokers: 1);
        var e = Authentication(await FailureAsync(cluster.Security!.Apply(ProducerTestKit.Options(cluster.BootstrapServers), SaslMechanism.Plain)));
        Assert.Contains("does not enable PLAIN", e.Message);
        Assert.Contains("SCRAM-SHA-512", e.Message);
    }

    [Fact]
    public async Task An_expired_token_is_a_clear_error()
    {
        await using var cluster = await SecuredFrontPeerTests.StartAsync(tls: true, brokers: 1);
        var options = cluster.Security!.Apply(ProducerTestKit.Options(cluster.BootstrapServers) with
        {
            OAuthBearerTokenProvider = _ => ValueTask.FromResult(OAuthBearerToken.CreateUnsecured("kiel", TimeSpan.FromMinutes(-5))),
        }, SaslMechanism.OAuthBearer);
        var e = Authentication(await FailureAsync(options));
        Assert.Equal("OAUTHBEARER", e.Mechanism);
        Assert.Contains("expired", e.Message);
        Assert.Contains("OAuthBearerTokenProvider", e.Message);
    }

    [Fact]
    public async Task A_broker_certificate_from_an_unknown_ca_is_named()
    {
        await using var cluster = await SecuredFrontPeerTests.StartAsync(tls: true, brokers: 1);
        var options = cluster.Security!.Apply(ProducerTestKit.Options(cluster.BootstrapServers)) with { SslCaLocation = cluster.Security.OtherCaPath };
        var e = Authentication(await FailureAsync(options));
        Assert.Equal("TLS", e.Mechanism);
        Assert.Contains("unknown CA", e.Message);
    }

    [Fact]
    public async Task A_host_name_mismatch_is_named_and_can_be_switched_off()
    {
        await using var cluster = await SecuredFrontPeerTests.StartAsync(tls: true, new EmbeddedSecurityOptions { ServerCertificate = ServerCertificateKind.WrongHost }, brokers: 1);
        cluster.CreateTopic("t", 1);
        var options = cluster.Security!.Apply(ProducerTestKit.Options(cluster.BootstrapServers));
        var e = Authentication(await FailureAsync(options));
        Assert.Contains("host name mismatch", e.Message);
        Assert.Contains("wrong-host.invalid", e.Message);

        await using var producer = new KielProducer<string, string>(options with { SslEndpointIdentification = false });
        var report = await producer.ProduceAsync("t", "k", "v").AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(report.IsDelivered, report.Error?.Message);
    }

    [Fact]
    public async Task An_expired_broker_certificate_is_named()
    {
        await using var cluster = await SecuredFrontPeerTests.StartAsync(tls: true, new EmbeddedSecurityOptions { ServerCertificate = ServerCertificateKind.Expired }, brokers: 1);
        var e = Authentication(await FailureAsync(cluster.Security!.Apply(ProducerTestKit.Options(cluster.BootstrapServers))));
        Assert.Contains("expired on", e.Message);
    }

    [Fact]
    public async Task Mutual_tls_accepts_the_cas_client_certificate_and_refuses_another()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions
        {
            Brokers = 1,
            Security = new EmbeddedSecurityOptions { Protocol = SecurityProtocol.Ssl, RequireClientCertificate = true },
            Topics = [new EmbeddedTopic("t", 1)],
        });
        var security = cluster.Security!;
        var options = security.Apply(ProducerTestKit.Options(cluster.BootstrapServers));
        await using (var producer = new KielProducer<string, string>(options))
        {
            var report = await producer.ProduceAsync("t", "k", "v").AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(report.IsDelivered, report.Error?.Message);
        }
        var refused = await FailureAsync(options with { SslCertificateLocation = security.UntrustedClientCertificatePath, SslKeyLocation = security.UntrustedClientKeyPath });
        Assert.Contains("refused the client certificate", refused.Message);
        Assert.Contains("SslCertificateLocation", refused.Message);
    }
}
