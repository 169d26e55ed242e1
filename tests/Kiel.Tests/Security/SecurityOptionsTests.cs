using Kiel.Consuming;
using Kiel.Producing;

namespace Kiel.Tests.Security;

public sealed class SecurityOptionsTests
{
    [Fact]
    public void ToString_shows_settings_but_never_secrets()
    {
        var options = new KielProducerOptions
        {
            BootstrapServers = "b:9093",
            SecurityProtocol = SecurityProtocol.SaslSsl,
            SaslMechanism = SaslMechanism.ScramSha512,
            SaslUsername = "alice",
            SaslPassword = "hunter2-secret",
            SslKeyPassword = "key-secret",
        };
        var text = options.ToString();
        Assert.Contains("SaslUsername = alice", text);
        Assert.Contains("SecurityProtocol = SaslSsl", text);
        Assert.Contains("BootstrapServers = b:9093", text);
        Assert.Contains("SaslPassword = ***", text);
        Assert.DoesNotContain("hunter2-secret", text);
        Assert.DoesNotContain("key-secret", text);
        Assert.DoesNotContain("hunter2-secret", new KielConsumerOptions { BootstrapServers = "b:1", SaslPassword = "hunter2-secret" }.ToString());
        Assert.DoesNotContain("hunter2-secret", new GroupedConsumerOptions { BootstrapServers = "b:1", SaslPassword = "hunter2-secret" }.ToString());
    }

    [Fact]
    public void Validate_names_missing_credentials_and_files()
    {
        var e = Assert.Throws<ArgumentException>(() => new KielProducerOptions { BootstrapServers = "b:1", SecurityProtocol = SecurityProtocol.SaslPlaintext }.Validate());
        Assert.Contains("SaslUsername", e.Message);
        e = Assert.Throws<ArgumentException>(() => new KielProducerOptions { BootstrapServers = "b:1", SecurityProtocol = SecurityProtocol.SaslPlaintext, SaslMechanism = SaslMechanism.OAuthBearer }.Validate());
        Assert.Contains("OAuthBearerTokenProvider", e.Message);
        e = Assert.Throws<ArgumentException>(() => new KielProducerOptions { BootstrapServers = "b:1", SecurityProtocol = SecurityProtocol.Ssl, SslCaLocation = "/no/such/ca.pem" }.Validate());
        Assert.Contains("SslCaLocation", e.Message);
        Assert.Contains("/no/such/ca.pem", e.Message);
        new KielProducerOptions { BootstrapServers = "b:1", SecurityProtocol = SecurityProtocol.SaslSsl, SaslUsername = "u", SaslPassword = "p" }.Validate();
    }

    [Fact]
    public void Authentication_exception_is_not_retriable_and_names_broker_and_mechanism()
    {
        var e = new AuthenticationException("127.0.0.1:9093 (broker 1)", "SCRAM-SHA-256", "the broker answered SASL_AUTHENTICATION_FAILED", "SaslUsername and SaslPassword");
        Assert.False(e.IsRetriable);
        Assert.False(Kiel.Cluster.ErrorClassification.IsRetriable(e));
        Assert.Contains("127.0.0.1:9093", e.Message);
        Assert.Contains("SCRAM-SHA-256", e.Message);
        Assert.Contains("Check SaslUsername", e.Message);
    }
}
