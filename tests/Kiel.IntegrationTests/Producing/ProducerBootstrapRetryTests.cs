using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Producing;

/// <summary>
/// A producer whose first bootstrap fails must bootstrap again, not keep that failure for its whole life. Found by
/// <c>kiel chaos</c> (seed 19, ZooKeeper) once its producer ran in a process of its own: an injected dropped connection on
/// Metadata hit all three bootstrap addresses of the producer's very first bootstrap, and from then on every metadata
/// lookup and every InitProducerId failed with that same first error; nothing was delivered for the rest of the run.
/// </summary>
public sealed class ProducerBootstrapRetryTests
{
    private const short MetadataApi = 3;

    [Fact]
    public async Task A_failed_first_bootstrap_is_tried_again_and_the_record_is_delivered()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions
        {
            Brokers = 1,
            Topics = [new EmbeddedTopic("bootstrap-retry", 1, 1)],
        });
        cluster.StartRequestTracking();
        // The first Metadata request is answered by a dropped connection: with one bootstrap address, the first
        // bootstrap fails outright.
        cluster.PushRequestErrors(MetadataApi, EmbeddedKafkaCluster.DisconnectErrorCode);
        await using var producer = new KielProducer<string, string>(ProducerTestKit.Options(cluster.BootstrapServers) with
        {
            MaxBlock = TimeSpan.FromSeconds(30),
        });

        var report = await producer.ProduceAsync("bootstrap-retry", null, "after a failed bootstrap").AsTask().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(report.IsDelivered, report.Error?.Message);
        Assert.Equal(0, report.Offset);
        Assert.True(cluster.GetRequests().Count(r => r.ApiKey == MetadataApi) >= 2, "the first bootstrap did not fail, so the test proves nothing");
    }
}
