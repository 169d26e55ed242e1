using Kiel.Cluster;
using Kiel.Network;
using Kiel.Protocol;

namespace Kiel.Tests.Network;

public sealed class RetryHelperTests
{
    private static KafkaCluster Cluster(int maxAttempts = 4) => new(new ClusterOptions("127.0.0.1:1")
    {
        Retry = new RetryPolicy { MaxAttempts = maxAttempts, Backoff = TimeSpan.FromMilliseconds(5), BackoffMax = TimeSpan.FromMilliseconds(20) },
    });

    [Fact]
    public async Task Retriable_errors_are_retried_until_success()
    {
        await using var cluster = Cluster();
        var attempts = new List<int>();
        var result = await cluster.ExecuteAsync("op", (n, _) =>
        {
            attempts.Add(n);
            if (n < 3) throw new KafkaException(ErrorCode.NotLeaderOrFollower, "p0");
            return ValueTask.FromResult("ok");
        });
        Assert.Equal("ok", result);
        Assert.Equal([1, 2, 3], attempts);
        Assert.True(cluster.IsMetadataStale); // NOT_LEADER_OR_FOLLOWER said the leader moved
    }

    [Fact]
    public async Task Fatal_errors_are_not_retried()
    {
        await using var cluster = Cluster();
        var attempts = 0;
        var e = await Assert.ThrowsAsync<KafkaException>(() => cluster.ExecuteAsync<int>("op", (_, _) =>
        {
            attempts++;
            throw new KafkaException(ErrorCode.GroupAuthorizationFailed);
        }));
        Assert.Equal(1, attempts);
        Assert.Equal(ErrorCode.GroupAuthorizationFailed, e.ErrorCode);
        await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.ExecuteAsync<int>("op", (_, _) => throw new InvalidOperationException()));
    }

    [Fact]
    public async Task The_retry_budget_ends_with_the_last_error()
    {
        await using var cluster = Cluster(maxAttempts: 3);
        var attempts = 0;
        var e = await Assert.ThrowsAsync<KafkaConnectionException>(() => cluster.ExecuteAsync<int>("op", (_, _) =>
        {
            attempts++;
            throw new KafkaConnectionException(new BrokerEndpoint(1, "h", 1), $"attempt {attempts}");
        }));
        Assert.Equal(3, attempts);
        Assert.Contains("attempt 3", e.Message);
    }

    [Fact]
    public async Task The_callers_token_is_the_deadline_and_the_last_error_is_kept()
    {
        await using var cluster = new KafkaCluster(new ClusterOptions("127.0.0.1:1")
        {
            Retry = new RetryPolicy { MaxAttempts = 1000, Backoff = TimeSpan.FromMilliseconds(50), BackoffMax = TimeSpan.FromMilliseconds(50) },
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cluster.ExecuteAsync<int>("commit", (_, _) =>
            throw new KafkaException(ErrorCode.CoordinatorLoadInProgress), cts.Token));
        Assert.IsType<KafkaException>(e.InnerException);
        Assert.Contains("commit", e.Message);
        Assert.Contains("COORDINATOR_LOAD_IN_PROGRESS", e.Message);
    }

    [Fact]
    public async Task Coordinator_errors_forget_the_coordinator_only_when_it_moved()
    {
        await using var cluster = Cluster();
        var forgotten = new List<string>();
        var n = 0;
        await cluster.ExecuteAsync("op", (attempt, _) =>
        {
            n = attempt;
            return attempt switch
            {
                1 => throw new KafkaException(ErrorCode.NotCoordinator),
                2 => throw new KafkaException(ErrorCode.CoordinatorLoadInProgress),
                _ => ValueTask.FromResult(0),
            };
        }, onRetriableError: e => forgotten.Add(((KafkaException)e).Name));
        Assert.Equal(3, n);
        Assert.Equal(["NOT_COORDINATOR", "COORDINATOR_LOAD_IN_PROGRESS"], forgotten);
    }

    [Fact]
    public async Task A_disposed_cluster_refuses_work()
    {
        var cluster = Cluster();
        await cluster.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => cluster.ExecuteAsync("op", (_, _) => ValueTask.FromResult(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => cluster.StartAsync());
    }
}
