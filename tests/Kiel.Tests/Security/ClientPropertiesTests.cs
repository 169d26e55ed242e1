using Kiel.Producing;
using Microsoft.Extensions.Logging;

namespace Kiel.Tests.Security;

public sealed class ClientPropertiesTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("kiel-props-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Write(string text)
    {
        var path = Path.Combine(_folder, Guid.NewGuid().ToString("N") + ".properties");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Reads_kafkas_client_properties_with_scram_jaas_and_a_pem_truststore()
    {
        var path = Write("""
            # Confluent Cloud style
            bootstrap.servers=b1:9093,b2:9093
            security.protocol=SASL_SSL
            sasl.mechanism=SCRAM-SHA-512
            sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
              username="alice" password="p\"w;d";
            ssl.truststore.type=PEM
            ssl.truststore.location=/etc/ca.pem
            ssl.endpoint.identification.algorithm=
            client.id: my-app
            """);
        var options = KielClientOptions.FromProperties<KielProducerOptions>(path);
        Assert.Equal("b1:9093,b2:9093", options.BootstrapServers);
        Assert.Equal(SecurityProtocol.SaslSsl, options.SecurityProtocol);
        Assert.Equal(SaslMechanism.ScramSha512, options.SaslMechanism);
        Assert.Equal("alice", options.SaslUsername);
        Assert.Equal("p\"w;d", options.SaslPassword);
        Assert.Equal("/etc/ca.pem", options.SslCaLocation);
        Assert.False(options.SslEndpointIdentification);
        Assert.Equal("my-app", options.ClientId);
    }

    [Fact]
    public async Task Plain_and_unsecured_oauthbearer_jaas_are_understood()
    {
        var plain = KielClientOptions.FromProperties<KielProducerOptions>(Write(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";\n"));
        Assert.Equal(("u", "p"), (plain.SaslUsername, plain.SaslPassword));
        var oauth = KielClientOptions.FromProperties<KielProducerOptions>(Write(
            "sasl.mechanism=OAUTHBEARER\nsasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"svc\";\n"));
        Assert.NotNull(oauth.OAuthBearerTokenProvider);
        Assert.Equal("svc", (await oauth.OAuthBearerTokenProvider!(default)).PrincipalName);
    }

    [Fact]
    public void Unknown_keys_are_listed_in_one_warning_and_bad_values_name_their_key()
    {
        var logs = new List<string>();
        using var factory = new ListFactory(logs);
        var options = KielClientOptions.FromProperties(Write("bootstrap.servers=b:1\nlinger.ms=5\nacks=all\n"), new KielProducerOptions { LoggerFactory = factory });
        Assert.Equal("b:1", options.BootstrapServers);
        Assert.Single(logs);
        Assert.Contains("linger.ms, acks", logs[0]);

        Assert.Contains("security.protocol", Assert.Throws<ArgumentException>(() => KielClientOptions.FromProperties<KielProducerOptions>(Write("security.protocol=TLS\n"))).Message);
        Assert.Contains("ssl.truststore.type", Assert.Throws<ArgumentException>(() => KielClientOptions.FromProperties<KielProducerOptions>(Write("ssl.truststore.type=JKS\n"))).Message);
        Assert.Contains("GSSAPI", Assert.Throws<ArgumentException>(() => KielClientOptions.FromProperties<KielProducerOptions>(Write("sasl.mechanism=GSSAPI\n"))).Message);
        var e = Assert.Throws<ArgumentException>(() => KielClientOptions.FromProperties<KielProducerOptions>(Write("sasl.jaas.config=com.example.Login required password=\"secret\";\n")));
        Assert.DoesNotContain("secret", e.Message);
    }

    private sealed class ListFactory(List<string> logs) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new L(logs);
        public void AddProvider(ILoggerProvider provider) { }
        public void Dispose() { }

        private sealed class L(List<string> logs) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (logs) logs.Add(formatter(state, exception));
            }
        }
    }
}
