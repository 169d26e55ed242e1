using System.Diagnostics;
using Kiel;
using Kiel.Cluster;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Cluster;

/// <summary>A cluster that predates ApiVersions, emulated by the mock with ApiVersions switched off.</summary>
public sealed class OldBrokerClusterTests
{
    [Theory]
    [InlineData("0.8.2", true)]
    [InlineData("0.9.0", false)]
    public async Task A_fallback_profile_bootstraps_and_finds_leaders_and_coordinators(string release, bool skipApiVersions)
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.CreateTopic("legacy", 3, 1);
        kafka.RemoveApi(KafkaApiKeys.ApiVersions);
        kafka.SetGroupCoordinator("old-group", 2);
        var options = ClusterOptions.FromBootstrapString(kafka.BootstrapServers) with
        {
            BrokerVersionFallback = release,
            ApiVersionRequest = !skipApiVersions,
            RequestTimeout = TimeSpan.FromSeconds(5),
        };
        await using var cluster = new KafkaCluster(options);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await cluster.StartAsync(cts.Token);
        Assert.Equal(0, cluster.Metadata.MetadataVersion);
        Assert.Equal(3, cluster.Metadata.Brokers.Count);
        Assert.Equal(3, (await cluster.GetLeaderAsync("legacy", 2, cts.Token)).NodeId);
        var coordinator = await cluster.FindCoordinatorAsync(CoordinatorType.Group, "old-group", cts.Token);
        Assert.Equal(2, coordinator.NodeId);
        var conn = await cluster.GetConnectionAsync(1, ConnectionPurpose.Produce, cts.Token);
        Assert.Equal("fallback " + release, conn.Versions.Source);
        Assert.Throws<UnsupportedVersionException>(() => conn.Versions.Choose(ApiKey.Produce, 3, 10)); // no record batches before 0.11
    }
}
