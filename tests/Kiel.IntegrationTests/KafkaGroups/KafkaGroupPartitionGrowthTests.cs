using System.Buffers;
using Kiel.Consuming;
using Kiel.IntegrationTests.Capture;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;

namespace Kiel.IntegrationTests.KafkaGroups;

/// <summary>
/// A subscribed topic gains partitions while a group of KielConsumers reads it. The mock has no CreatePartitions, so
/// the topic is made with 8 partitions and a proxy shows the members only the first 4 in every Metadata response until
/// the test "grows" it: from then on the metadata shows 8, as after a real CreatePartitions.
/// </summary>
[Collection("KafkaGroups")]
public sealed class KafkaGroupPartitionGrowthTests
{
    private const int RecordsPerPartition = 50;

    [Fact]
    public async Task The_leader_rejoins_when_a_subscribed_topic_gains_partitions_and_the_new_ones_are_consumed()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        cluster.SetInitialRebalanceDelay(0);
        const string topic = "grows";
        cluster.CreateTopic(topic, 8);
        await using var proxy = RecordingProxy.Start(cluster.BootstrapServers);
        var visible = 4;
        proxy.ResponseHook = (key, version, frame) => key == ApiKey.Metadata ? ShowPartitions(frame, version, topic, Volatile.Read(ref visible)) : frame;
        for (var p = 0; p < 4; p++) await ConsumingHelpers.ProduceAsync(cluster.BootstrapServers, topic, RecordsPerPartition, partition: p);

        var log = new DeliveryLog();
        KielConsumerOptions Options() => KielGroupMember.Options(proxy.BootstrapServers, "grows-group", o => o with { MetadataMaxAge = TimeSpan.FromSeconds(1) });
        await using var a = new KielGroupMember("a", Options(), log);
        await using var b = new KielGroupMember("b", Options(), log);
        a.Start(topic);
        b.Start(topic);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => log.Distinct().Count == 4 * RecordsPerPartition && a.Owned.Count > 0 && b.Owned.Count > 0 && a.Owned.Count + b.Owned.Count == 4, TimeSpan.FromSeconds(60)),
            $"before the growth: distinct {log.Distinct().Count}, a owns {string.Join(",", a.Owned)}, b owns {string.Join(",", b.Owned)}; errors: {a.ReadError} {b.ReadError}");

        Volatile.Write(ref visible, 8);
        for (var p = 4; p < 8; p++) await ConsumingHelpers.ProduceAsync(cluster.BootstrapServers, topic, RecordsPerPartition, partition: p);

        // MetadataMaxAge is 1 s: the leader sees 8 partitions within about a second, rejoins, and assigns all 8.
        Assert.True(await TestTimeouts.WaitUntilAsync(() => log.Distinct().Count == 8 * RecordsPerPartition && a.Owned.Union(b.Owned).Count() == 8, TimeSpan.FromSeconds(60)),
            $"after the growth: distinct {log.Distinct().Count} of {8 * RecordsPerPartition}, a owns {string.Join(",", a.Owned.Order())}, b owns {string.Join(",", b.Owned.Order())}; errors: {a.ReadError} {b.ReadError}");
        Assert.Empty(a.Owned.Intersect(b.Owned));
        Assert.True(a.Owned.Count > 0 && b.Owned.Count > 0, $"a owns {string.Join(",", a.Owned.Order())}, b owns {string.Join(",", b.Owned.Order())}");
        var seen = log.Distinct();
        for (var p = 4; p < 8; p++)
            for (long o = 0; o < RecordsPerPartition; o++)
                Assert.Contains((p, o), seen);
        Assert.Null(a.ReadError);
        Assert.Null(b.ReadError);
    }

    /// <summary>The Metadata response with only the first <paramref name="count"/> partitions of <paramref name="topic"/>.</summary>
    private static byte[] ShowPartitions(byte[] frame, short version, string topic, int count)
    {
        var reader = new KafkaReader(frame.AsMemory());
        var correlationId = KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.Metadata, version);
        var response = MetadataResponse.Read(ref reader, version);
        foreach (var t in response.Topics)
            if (t.Name == topic) t.Partitions.RemoveAll(p => p.PartitionIndex >= count);
        var output = new ArrayBufferWriter<byte>(frame.Length);
        var writer = new KafkaWriter(output);
        KafkaHeaders.WriteResponseHeader(ref writer, ApiKey.Metadata, version, correlationId);
        response.Write(ref writer, version);
        writer.Flush();
        return output.WrittenSpan.ToArray();
    }
}
