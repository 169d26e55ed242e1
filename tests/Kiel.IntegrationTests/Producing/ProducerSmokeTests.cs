using System.Text;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Producing;

public sealed class ProducerSmokeTests(KafkaClusterFixture fixture) : IClassFixture<KafkaClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    [Theory]
    [InlineData(Acks.None)]
    [InlineData(Acks.Leader)]
    [InlineData(Acks.All)]
    public async Task Every_acks_level_delivers(Acks acks)
    {
        var topic = ProducerTestKit.Topic("acks");
        Cluster.CreateTopic(topic, 3);
        var options = ProducerTestKit.Options(fixture.BootstrapServers) with { Acks = acks, EnableIdempotence = acks == Acks.All };
        await using (var producer = new KielProducer<string, string>(options))
        {
            var tasks = Enumerable.Range(0, 1000).Select(i => producer.ProduceAsync(topic, $"k{i}", $"v{i}").AsTask()).ToArray();
            var reports = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.All(reports, r => Assert.True(r.IsDelivered));
            if (acks != Acks.None) Assert.All(reports, r => Assert.True(r.Offset >= 0));
            else Assert.All(reports, r => Assert.Equal(-1, r.Offset));
        }
        var read = ProducerTestKit.ReadAll(fixture.BootstrapServers, topic, 3, 1000, TimeSpan.FromSeconds(30));
        Assert.Equal(1000, read.Count);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"v{i}").Order(), read.Select(r => Encoding.UTF8.GetString(r.Message.Value!)).Order());
    }
}
