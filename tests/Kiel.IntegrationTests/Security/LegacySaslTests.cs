using Kiel.Consuming;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Producing;
using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Security;

/// <summary>
/// The pre-KIP-152 SASL form (Kafka 0.10.0-0.11.0): the front offers SaslHandshake v0 and no SaslAuthenticate, so Kiel
/// exchanges raw size-prefixed tokens after the handshake, and a refused password closes the connection.
/// </summary>
public sealed class LegacySaslTests
{
    private static Task<EmbeddedKafkaCluster> StartAsync() =>
        SecuredFrontPeerTests.StartAsync(tls: false, new EmbeddedSecurityOptions { LegacySasl = true }, brokers: 1);

    [Theory]
    [InlineData(SaslMechanism.Plain)]
    [InlineData(SaslMechanism.ScramSha256)]
    public async Task Kiel_produces_and_consumes_over_raw_tokens(SaslMechanism mechanism)
    {
        const int count = 500;
        await using var cluster = await StartAsync();
        var security = cluster.Security!;
        const string topic = "legacy-sasl";
        cluster.CreateTopic(topic, 2);

        await using (var producer = new KielProducer<string, string>(security.Apply(ProducerTestKit.Options(cluster.BootstrapServers), mechanism)))
        {
            var reports = await Task.WhenAll(Enumerable.Range(0, count).Select(i => producer.ProduceAsync(topic, $"{i}", $"v{i}").AsTask()))
                .WaitAsync(TimeSpan.FromSeconds(90));
            Assert.All(reports, r => Assert.True(r.IsDelivered, r.Error?.Message));
        }

        await using var consumer = new KielConsumer<string?, string?>(security.Apply(ConsumingHelpers.Options(cluster.BootstrapServers), mechanism), Deserializers.Utf8, Deserializers.Utf8);
        await consumer.AssignAsync(Enumerable.Range(0, 2).Select(p => KeyValuePair.Create(new TopicPartition(topic, p), StartPosition.Beginning)));
        var read = await ConsumingHelpers.ReadAsync(consumer, count, 90);
        Assert.Equal(Enumerable.Range(0, count), read.Select(r => int.Parse(r.Key!, System.Globalization.CultureInfo.InvariantCulture)).Order());
        Assert.All(read, r => Assert.Equal("v" + r.Key, r.Value));
    }

    [Theory]
    [InlineData(SaslMechanism.Plain)]
    [InlineData(SaslMechanism.ScramSha256)]
    public async Task A_wrong_password_over_raw_tokens_is_a_clear_AuthenticationException(SaslMechanism mechanism)
    {
        await using var cluster = await StartAsync();
        var security = cluster.Security!;
        var options = security.Apply(ProducerTestKit.Options(cluster.BootstrapServers), mechanism) with
        {
            SaslPassword = "not-the-password",
            RequestTimeout = TimeSpan.FromSeconds(5),
            MaxBlock = TimeSpan.FromSeconds(5),
            DeliveryTimeout = TimeSpan.FromSeconds(20),
        };
        Exception? failure = null;
        await using (var producer = new KielProducer<string, string>(options))
        {
            try
            {
                var report = await producer.ProduceAsync("t", "k", "v").AsTask().WaitAsync(TimeSpan.FromSeconds(60));
                failure = report.Error;
            }
            catch (Exception e) when (e is not TimeoutException)
            {
                failure = e;
            }
        }
        AuthenticationException? auth = null;
        for (var x = failure; x is not null && auth is null; x = x.InnerException) auth = x as AuthenticationException;
        Assert.True(auth is not null, $"no AuthenticationException in {failure}");
        Assert.Equal(SecurityNames.Of(mechanism), auth.Mechanism);
        Assert.Contains("pre-KIP-152", auth.Message);
        Assert.Contains("closed the connection during the SASL exchange", auth.Message);
        Assert.Contains("SaslPassword", auth.Message);
        Assert.DoesNotContain("not-the-password", auth.ToString());
        Assert.DoesNotContain(security.Password, auth.ToString());
    }
}
