using System.Collections.Concurrent;
using System.Text.Json;
using Kiel.Consuming;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;
using Kiel.IntegrationTests.Producing;
using Kiel.Producing;
using Kiel.Testing;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Kiel.IntegrationTests.Security;

/// <summary>Kiel's producer, consumer and GroupedConsumer through the secured front, proven first by peers (<see cref="SecuredFrontPeerTests"/>).</summary>
public sealed class SecuredKielTests(GroupZooKeeperFixture zooKeeper) : IClassFixture<GroupZooKeeperFixture>
{
    private static SaslMechanism Parse(string name) => name switch
    {
        "PLAIN" => SaslMechanism.Plain,
        "SCRAM-SHA-256" => SaslMechanism.ScramSha256,
        "SCRAM-SHA-512" => SaslMechanism.ScramSha512,
        _ => SaslMechanism.OAuthBearer,
    };

    [Theory]
    [MemberData(nameof(SecuredFrontPeerTests.Mechanisms), MemberType = typeof(SecuredFrontPeerTests))]
    public async Task Producer_consumer_and_grouped_consumer_move_10000_records(string mechanism, bool tls)
    {
        const int count = 10_000;
        const int partitions = 4;
        var m = Parse(mechanism);
        await using var cluster = await SecuredFrontPeerTests.StartAsync(tls);
        var security = cluster.Security!;
        const string topic = "secured-kiel";
        cluster.CreateTopic(topic, partitions);

        await using (var producer = new KielProducer<string, string>(security.Apply(ProducerTestKit.Options(cluster.BootstrapServers), m)))
        {
            var reports = await Task.WhenAll(Enumerable.Range(0, count).Select(i => producer.ProduceAsync(topic, $"{i}", $"{{\"n\": {i}}}").AsTask()))
                .WaitAsync(TimeSpan.FromSeconds(90));
            Assert.All(reports, r => Assert.True(r.IsDelivered, r.Error?.Message));
        }

        await using (var consumer = new KielConsumer<string?, string?>(security.Apply(ConsumingHelpers.Options(cluster.BootstrapServers), m), Deserializers.Utf8, Deserializers.Utf8))
        {
            await consumer.AssignAsync(Enumerable.Range(0, partitions).Select(p => KeyValuePair.Create(new TopicPartition(topic, p), StartPosition.Beginning)));
            var read = await ConsumingHelpers.ReadAsync(consumer, count, 90);
            Assert.Equal(Enumerable.Range(0, count), read.Select(r => int.Parse(r.Key!, System.Globalization.CultureInfo.InvariantCulture)).Order());
        }

        var options = security.Apply(new GroupedConsumerOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            Group = GroupZooKeeperFixture.UniqueGroup("secured"),
            ZooKeeperHosts = [zooKeeper.ConnectString],
            AutoOffsetReset = OffsetResetPolicy.Earliest,
            FetchMaxWait = TimeSpan.FromMilliseconds(100),
            ZooKeeperSessionTimeout = TimeSpan.FromSeconds(4),
            RetryBackoff = TimeSpan.FromMilliseconds(20),
        }, m);
        var seen = new HashSet<int>();
        await using (var grouped = new GroupedConsumer(options))
        {
            using var cts = TestTimeouts.After(90);
            await grouped.ConnectAsync(cts.Token);
            while (seen.Count < count && !cts.IsCancellationRequested)
                foreach (var value in await grouped.ConsumeAsync(topic, null, cts.Token))
                    seen.Add(value.GetProperty("n").GetInt32());
        }
        Assert.Equal(count, seen.Count);
    }

    [Theory]
    [InlineData(SaslMechanism.ScramSha512)]
    [InlineData(SaslMechanism.OAuthBearer)]
    public async Task The_fronts_client_properties_connect_kiel_through_FromProperties(SaslMechanism mechanism)
    {
        await using var cluster = await SecuredFrontPeerTests.StartAsync(tls: true, new EmbeddedSecurityOptions { SaslMechanisms = [mechanism] }, brokers: 1);
        cluster.CreateTopic("props", 1);
        var options = KielClientOptions.FromProperties(cluster.Security!.ClientPropertiesPath, ProducerTestKit.Options("unused:1"));
        Assert.Equal(cluster.BootstrapServers, options.BootstrapServers);
        await using var producer = new KielProducer<string, string>(options);
        var report = await producer.ProduceAsync("props", "k", "v").AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(report.IsDelivered, report.Error?.Message);
    }
}
