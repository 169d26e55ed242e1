using System.Diagnostics;
using Kiel;
using Kiel.Cluster;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Cluster;

/// <summary>Each injected error code, retriable or fatal, is handled by its class.</summary>
public sealed class InjectedErrorTests
{
    private static ClusterOptions Options(EmbeddedKafkaCluster kafka) => ClusterOptions.FromBootstrapString(kafka.BootstrapServers) with
    {
        RequestTimeout = TimeSpan.FromSeconds(5),
        Retry = new RetryPolicy { MaxAttempts = 10, Backoff = TimeSpan.FromMilliseconds(10), BackoffMax = TimeSpan.FromMilliseconds(50) },
    };

    private static CancellationToken Bounded(double seconds = 20) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Theory]
    [InlineData(7)]   // REQUEST_TIMED_OUT
    [InlineData(13)]  // NETWORK_EXCEPTION
    [InlineData(14)]  // COORDINATOR_LOAD_IN_PROGRESS
    [InlineData(15)]  // COORDINATOR_NOT_AVAILABLE
    [InlineData(16)]  // NOT_COORDINATOR
    [InlineData(EmbeddedKafkaCluster.DisconnectErrorCode)]
    public async Task A_retriable_FindCoordinator_error_is_retried(int code)
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        kafka.SetGroupCoordinator("g", 3);
        kafka.PushRequestErrors(KafkaApiKeys.FindCoordinator, code, code, code, code);
        Assert.Equal(3, (await cluster.FindCoordinatorAsync(CoordinatorType.Group, "g", Bounded())).NodeId);
    }

    [Theory]
    [InlineData(24)]  // INVALID_GROUP_ID
    [InlineData(30)]  // GROUP_AUTHORIZATION_FAILED
    [InlineData(42)]  // INVALID_REQUEST
    [InlineData(-1)]  // UNKNOWN_SERVER_ERROR
    public async Task A_fatal_FindCoordinator_error_fails_at_once(int code)
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        kafka.PushRequestErrors(KafkaApiKeys.FindCoordinator, code, code);
        var e = await Assert.ThrowsAsync<KafkaException>(() => cluster.FindCoordinatorAsync(CoordinatorType.Group, "g", Bounded()));
        Assert.Equal((ErrorCode)code, e.ErrorCode);
        Assert.False(e.IsRetriable);
        Assert.Null(cluster.GetCachedCoordinator(CoordinatorType.Group, "g"));
    }

    [Theory]
    [InlineData(3, true)]    // UNKNOWN_TOPIC_OR_PARTITION
    [InlineData(5, true)]    // LEADER_NOT_AVAILABLE
    [InlineData(17, false)]  // INVALID_TOPIC_EXCEPTION
    [InlineData(29, false)]  // TOPIC_AUTHORIZATION_FAILED
    public async Task A_topic_error_in_Metadata_is_classified(int code, bool retriable)
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.CreateTopic("t", 1, 1);
        kafka.SetTopicError("t", code);
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        Assert.Equal(code, cluster.Metadata.Topics["t"].ErrorCode);
        var e = await Assert.ThrowsAsync<KafkaException>(() => cluster.GetLeaderAsync("t", 0, Bounded()).AsTask());
        Assert.Equal((ErrorCode)code, e.ErrorCode);
        Assert.Equal(retriable, e.IsRetriable);
    }

    [Theory]
    [InlineData(7, true)]
    [InlineData(14, true)]
    [InlineData(42, false)]
    [InlineData(-1, false)]
    public async Task An_ApiVersions_error_is_classified(int code, bool retriable)
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.PushRequestErrors(KafkaApiKeys.ApiVersions, code, code);
        var options = Options(kafka) with { Retry = new RetryPolicy { MaxAttempts = 1 } };
        await using var cluster = new KafkaCluster(options with { BootstrapServers = [kafka.BootstrapServers.Split(',')[0]] });
        var e = await Assert.ThrowsAsync<NoBrokersException>(() => cluster.StartAsync(Bounded()));
        var inner = Assert.IsType<ApiVersionsException>(e.InnerException);
        Assert.Equal(code, inner.ErrorCode);
        Assert.Equal(retriable, inner.IsRetriable);
        // The bootstrap is retriable as a whole: the next attempt gets through.
        kafka.ClearRequestErrors(KafkaApiKeys.ApiVersions);
        await cluster.StartAsync(Bounded());
        Assert.Equal(3, cluster.Metadata.Brokers.Count);
    }
}
