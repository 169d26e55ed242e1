using Confluent.Kafka;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;
using Xunit.Abstractions;

namespace Kiel.IntegrationTests.Security;

/// <summary>
/// The secured front proven by clients we did not write: Confluent.Kafka 2.16, kcat (librdkafka 2.0.2) and
/// kafka-python 2.0.2 each authenticate with every mechanism, with and without TLS, and produce and consume through it.
/// </summary>
public sealed class SecuredFrontPeerTests(ITestOutputHelper output)
{
    private const string Python = "/usr/bin/python3";

    public static TheoryData<string, bool> Mechanisms()
    {
        var data = new TheoryData<string, bool>();
        foreach (var mechanism in new[] { "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER" })
            foreach (var tls in new[] { true, false })
                data.Add(mechanism, tls);
        return data;
    }

    internal static Task<EmbeddedKafkaCluster> StartAsync(bool tls, EmbeddedSecurityOptions? options = null, int brokers = 2) =>
        EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions
        {
            Brokers = brokers,
            Security = (options ?? new EmbeddedSecurityOptions()) with { Protocol = tls ? SecurityProtocol.SaslSsl : SecurityProtocol.SaslPlaintext },
        });

    private static void Secure(ClientConfig config, EmbeddedSecurity security, string mechanism)
    {
        config.SecurityProtocol = security.Protocol == SecurityProtocol.SaslSsl ? Confluent.Kafka.SecurityProtocol.SaslSsl : Confluent.Kafka.SecurityProtocol.SaslPlaintext;
        config.SaslMechanism = mechanism switch
        {
            "PLAIN" => Confluent.Kafka.SaslMechanism.Plain,
            "SCRAM-SHA-256" => Confluent.Kafka.SaslMechanism.ScramSha256,
            "SCRAM-SHA-512" => Confluent.Kafka.SaslMechanism.ScramSha512,
            _ => Confluent.Kafka.SaslMechanism.OAuthBearer,
        };
        if (mechanism == "OAUTHBEARER")
        {
            config.Set("enable.sasl.oauthbearer.unsecure.jwt", "true");
            config.SaslOauthbearerConfig = $"principal={security.Username}";
        }
        else
        {
            config.SaslUsername = security.Username;
            config.SaslPassword = security.Password;
        }
        if (security.Protocol == SecurityProtocol.SaslSsl) config.SslCaLocation = security.CaPath;
    }

    [Theory]
    [MemberData(nameof(Mechanisms))]
    public async Task Confluent_produces_and_consumes_through_the_front(string mechanism, bool tls)
    {
        await using var cluster = await StartAsync(tls);
        var security = cluster.Security!;
        const string topic = "secured";
        cluster.CreateTopic(topic, partitions: 2);
        using var cts = TestTimeouts.After(60);
        const int count = 200;

        using (var producer = ConfluentClients.Producer(cluster.BootstrapServers, c => Secure(c, security, mechanism)))
        {
            var results = await Task.WhenAll(Enumerable.Range(0, count).Select(i =>
                producer.ProduceAsync(topic, new Message<string, string> { Key = $"k{i}", Value = $"v{i}" }, cts.Token)));
            Assert.All(results, r => Assert.Equal(PersistenceStatus.Persisted, r.Status));
        }

        using var consumer = ConfluentClients.Consumer(cluster.BootstrapServers, "g-secured", c => Secure(c, security, mechanism));
        consumer.Assign([new TopicPartitionOffset(topic, 0, Offset.Beginning), new TopicPartitionOffset(topic, 1, Offset.Beginning)]);
        var read = await Task.Run(() => ConfluentClients.ConsumeCount(consumer, count, cts.Token));
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"k{i}=v{i}").Order(), read.Select(r => $"{r.Message.Key}={r.Message.Value}").Order());
    }

    [Fact]
    public async Task Confluent_with_a_wrong_password_is_refused()
    {
        await using var cluster = await StartAsync(tls: true);
        var security = cluster.Security!;
        var errors = new List<Error>();
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            SecurityProtocol = Confluent.Kafka.SecurityProtocol.SaslSsl,
            SaslMechanism = Confluent.Kafka.SaslMechanism.ScramSha256,
            SaslUsername = security.Username,
            SaslPassword = "wrong",
            SslCaLocation = security.CaPath,
            MessageTimeoutMs = 3000,
        }).SetErrorHandler((_, e) => { lock (errors) errors.Add(e); }).Build();
        var e = await Assert.ThrowsAsync<ProduceException<string, string>>(() => producer.ProduceAsync("t", new Message<string, string> { Value = "x" }));
        lock (errors) Assert.Contains(errors, x => x.Code == Confluent.Kafka.ErrorCode.Local_Authentication);
        output.WriteLine(e.Message);
    }

    [ToolTheory("kcat", "kcat")]
    [MemberData(nameof(Mechanisms))]
    public async Task Kcat_produces_and_consumes_through_the_front(string mechanism, bool tls)
    {
        var kcat = ExternalTools.Require("kcat", "kcat");
        await using var cluster = await StartAsync(tls);
        var security = cluster.Security!;
        const string topic = "kcat-secured";
        cluster.CreateTopic(topic, partitions: 1);
        List<string> settings = ["-b", cluster.BootstrapServers, "-X", $"security.protocol={(tls ? "SASL_SSL" : "SASL_PLAINTEXT")}", "-X", $"sasl.mechanisms={mechanism}"];
        if (mechanism == "OAUTHBEARER") settings.AddRange(["-X", "enable.sasl.oauthbearer.unsecure.jwt=true", "-X", $"sasl.oauthbearer.config=principal={security.Username}"]);
        else settings.AddRange(["-X", $"sasl.username={security.Username}", "-X", $"sasl.password={security.Password}"]);
        if (tls) settings.AddRange(["-X", $"ssl.ca.location={security.CaPath}"]);

        var input = Path.Combine(security.Folder, "kcat-input.txt");
        await File.WriteAllLinesAsync(input, Enumerable.Range(0, 20).Select(i => $"line-{i}"));
        var produced = await ProcessRunner.RunAsync(kcat, [.. settings, "-P", "-t", topic, "-p", "0", "-l", input], TimeSpan.FromSeconds(60));
        Assert.True(produced.ExitCode == 0, $"kcat -P exited {produced.ExitCode}: {produced.StdErr}");
        var consumed = await ProcessRunner.RunAsync(kcat, [.. settings, "-u", "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q"], TimeSpan.FromSeconds(60));
        Assert.True(consumed.ExitCode == 0, $"kcat -C exited {consumed.ExitCode}: {consumed.StdErr}");
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"line-{i}"), consumed.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [ToolFact("kcat", "kcat")]
    public async Task Kcat_with_a_wrong_password_fails_with_an_authentication_error()
    {
        var kcat = ExternalTools.Require("kcat", "kcat");
        await using var cluster = await StartAsync(tls: false);
        var result = await ProcessRunner.RunAsync(kcat,
            ["-b", cluster.BootstrapServers, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=kiel", "-X", "sasl.password=wrong", "-L", "-m", "5"],
            TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Authentication failed", result.StdErr, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [MemberData(nameof(Mechanisms))]
    public async Task Kafka_python_produces_and_consumes_through_the_front(string mechanism, bool tls)
    {
        if (!File.Exists(Python)) Assert.Fail("kafka-python needs /usr/bin/python3 with python3-kafka");
        await using var cluster = await StartAsync(tls);
        var security = cluster.Security!;
        const string topic = "python-secured";
        cluster.CreateTopic(topic, partitions: 2);
        var script = Path.Combine(AppContext.BaseDirectory, "Security", "kafka_python_secured.py");
        var result = await ProcessRunner.RunAsync(Python,
            [script, cluster.BootstrapServers, tls ? "SASL_SSL" : "SASL_PLAINTEXT", mechanism, security.Username, security.Password, security.CaPath, topic, "50"],
            TimeSpan.FromSeconds(90));
        output.WriteLine(result.StdOut + result.StdErr);
        Assert.True(result.ExitCode == 0, $"kafka-python exited {result.ExitCode}: {result.StdOut} {result.StdErr}");
        Assert.Contains("consumed 50", result.StdOut);
    }
}

/// <summary>A theory that needs an external program on PATH; skipped (or, with CI=true, failing) without it, as <see cref="ToolFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ToolTheoryAttribute : TheoryAttribute
{
    public ToolTheoryAttribute(string tool, string aptPackage)
    {
        if (ExternalTools.Find(tool) is null && !ExternalTools.IsCi)
            Skip = $"'{tool}' is not on PATH; install it with: apt-get install -y --no-install-recommends {aptPackage} (with CI=true this test fails instead).";
    }
}
