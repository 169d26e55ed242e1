using Kiel.Consuming;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;

namespace Kiel.IntegrationTests.KafkaGroups;

/// <summary>Kiel members of Kafka consumer groups (classic protocol) on the embedded cluster.</summary>
[Collection("KafkaGroups")]
public sealed class KafkaGroupTests(KafkaGroupFixture fixture) : IClassFixture<KafkaGroupFixture>
{
    private static string Unique(string prefix) => KafkaClusterFixture.UniqueTopic(prefix);

    [Fact]
    public async Task Two_members_split_the_partitions_and_together_read_everything_once()
    {
        var topic = Unique("kg-split");
        var group = Unique("g");
        fixture.Cluster.CreateTopic(topic, 6);
        await ConsumingHelpers.ProduceAsync(fixture.BootstrapServers, topic, 600);
        var log = new DeliveryLog();
        await using var a = new KielGroupMember("a", KielGroupMember.Options(fixture.BootstrapServers, group), log);
        await using var b = new KielGroupMember("b", KielGroupMember.Options(fixture.BootstrapServers, group), log);
        a.Start(topic);
        b.Start(topic);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => log.Distinct().Count == 600 && a.Owned.Count > 0 && b.Owned.Count > 0 && a.Owned.Count + b.Owned.Count == 6, TimeSpan.FromSeconds(40)),
            $"distinct {log.Distinct().Count}, a owns {string.Join(",", a.Owned)}, b owns {string.Join(",", b.Owned)}; errors: {a.ReadError} {b.ReadError}");
        Assert.Empty(a.Owned.Intersect(b.Owned));
        Assert.Equal(a.Consumer.GroupMetadata!.GenerationId, b.Consumer.GroupMetadata!.GenerationId);
        Assert.NotEqual(a.Consumer.GroupMetadata.MemberId, b.Consumer.GroupMetadata.MemberId);
    }
}
