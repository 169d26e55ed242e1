using System.Diagnostics;
using Kiel;
using Kiel.Cluster;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Cluster;

/// <summary>Refresh policy: coalescing, max age, stale marks, idle connections.</summary>
public sealed class KafkaClusterRefreshTests
{
    private static ClusterOptions Options(EmbeddedKafkaCluster kafka) => ClusterOptions.FromBootstrapString(kafka.BootstrapServers) with
    {
        RequestTimeout = TimeSpan.FromSeconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(3),
        Retry = new RetryPolicy { Backoff = TimeSpan.FromMilliseconds(20), BackoffMax = TimeSpan.FromMilliseconds(200) },
    };

    private static CancellationToken Bounded(double seconds = 20) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Concurrent_refreshes_are_coalesced()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        kafka.SetBrokerRtt(-1, 200); // keep the first refresh in flight while the others arrive
        kafka.StartRequestTracking();
        var refreshes = Enumerable.Range(0, 20).Select(_ => cluster.RefreshMetadataAsync(null, Bounded())).ToArray();
        var snapshots = await Task.WhenAll(refreshes);
        Assert.Single(snapshots.Distinct());
        Assert.Single(kafka.GetRequests(), r => r.ApiKey == KafkaApiKeys.Metadata);
    }

    [Fact]
    public async Task A_named_refresh_merges_instead_of_replacing_other_topics()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.CreateTopic("a", 1, 1);
        kafka.CreateTopic("b", 2, 1);
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        var md = await cluster.RefreshMetadataAsync(["b"], Bounded());
        Assert.True(md.TryGetTopic("a", out _)); // kiel's L6 dropped it
        Assert.True(md.TryGetTopic("b", out var b));
        Assert.Equal(2, b.Partitions.Count);
    }

    [Fact]
    public async Task Metadata_is_refreshed_when_older_than_MetadataMaxAge()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka) with { MetadataMaxAge = TimeSpan.FromMilliseconds(300) });
        await cluster.StartAsync(Bounded());
        Assert.False(cluster.Metadata.TryGetTopic("later", out _));
        kafka.CreateTopic("later", 1, 1);
        Assert.True(await TestWaits.UntilAsync(() => cluster.Metadata.TryGetTopic("later", out _), TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_stale_mark_triggers_a_background_refresh()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.CreateTopic("s", 1, 1);
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        kafka.SetPartitionLeader("s", 0, 3);
        cluster.ReportErrorCode(ErrorCode.NotLeaderOrFollower, "Produce s[0]");
        Assert.True(await TestWaits.UntilAsync(() => cluster.Metadata.TryGetLeader("s", 0, out var l) && l.NodeId == 3, TimeSpan.FromSeconds(5)));
        Assert.True(await TestWaits.UntilAsync(() => !cluster.IsMetadataStale, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task An_idle_connection_closes_and_the_next_request_reconnects()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka) with { IdleTimeout = TimeSpan.FromMilliseconds(300) });
        await cluster.StartAsync(Bounded());
        var first = await cluster.GetConnectionAsync(2, ConnectionPurpose.Fetch, Bounded());
        await first.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(first.ClosedCleanly);
        var second = await cluster.GetConnectionAsync(2, ConnectionPurpose.Fetch, Bounded());
        Assert.NotSame(first, second);
        var md = await second.SendAsync(new MetadataRequest { Topics = [] }, Bounded());
        Assert.Equal(3, md.Brokers.Count);
    }

    [Fact]
    public async Task Every_broker_down_then_up_rebootstraps()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka) with { ConnectTimeout = TimeSpan.FromSeconds(1) });
        await cluster.StartAsync(Bounded());
        kafka.SetBrokerDown(EmbeddedKafkaCluster.AllBrokers);
        var e = await Assert.ThrowsAsync<NoBrokersException>(() => cluster.RefreshMetadataAsync(null, Bounded()));
        Assert.Equal(6, e.Attempts.Count); // three known brokers, then three bootstrap addresses
        kafka.SetBrokerUp(EmbeddedKafkaCluster.AllBrokers);
        var md = await cluster.ExecuteAsync("refresh", async (_, ct) => await cluster.RefreshMetadataAsync(null, ct), Bounded());
        Assert.Equal(3, md.Brokers.Count);
    }
}
