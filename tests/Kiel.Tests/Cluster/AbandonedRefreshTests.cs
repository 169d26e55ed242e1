using System.Net;
using System.Net.Sockets;
using Kiel.Cluster;
using Kiel.Producing.Internal;

namespace Kiel.Tests.Cluster;

/// <summary>
/// A metadata refresh or bootstrap whose every waiter gave up (its own token) and that fails afterwards is observed
/// by the code that started it: its failure never reaches <see cref="TaskScheduler.UnobservedTaskException"/> (found
/// by the hostile broker in CI, where a producer's bootstrap failed after its callers had stopped waiting).
/// </summary>
public sealed class AbandonedRefreshTests
{
    [Fact]
    public Task A_cluster_refresh_that_fails_after_its_waiter_gave_up_leaves_no_unobserved_exception() =>
        AssertNoneUnobservedAsync(async (listener, port) =>
        {
            await using var cluster = new KafkaCluster(new ClusterOptions([$"127.0.0.1:{port}"]));
            using var caller = new CancellationTokenSource();
            var start = cluster.StartAsync(caller.Token);
            await AbandonThenFailAsync(listener, caller, start, () => cluster.LatestRefresh);
        });

    [Fact]
    public Task A_producer_bootstrap_that_fails_after_its_callers_gave_up_leaves_no_unobserved_exception() =>
        AssertNoneUnobservedAsync(async (listener, port) =>
        {
            await using var transport = new ClusterProducerTransport(new Kiel.Producing.KielProducerOptions { BootstrapServers = $"127.0.0.1:{port}" });
            using var caller = new CancellationTokenSource();
            var lookup = transport.GetTopicAsync("t", refresh: false, caller.Token).AsTask();
            await AbandonThenFailAsync(listener, caller, lookup, () => transport.LatestStart);
        });

    /// <summary>
    /// The first connection is accepted and left silent; the caller gives up; then the broker goes away, so the work
    /// nobody waits for fails. Waits for that failure without observing it.
    /// </summary>
    private static async Task AbandonThenFailAsync(TcpListener listener, CancellationTokenSource caller, Task call, Func<Task?> pending)
    {
        using var accepted = await listener.AcceptSocketAsync().WaitAsync(Eventually.Deadline);
        caller.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(Eventually.Deadline));
        var work = pending();
        Assert.NotNull(work);
        Assert.False(work.IsCompleted, "the work should still be waiting for the silent broker");
        listener.Stop();
        accepted.Close();
        await work.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)
            .WaitAsync(Eventually.Deadline);
        Assert.True(work.IsFaulted, $"the work should fail, not end {work.Status}");
    }

    private static async Task AssertNoneUnobservedAsync(Func<TcpListener, int, Task> scenario)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        // Only this scenario's failures name its port.
        await UnobservedExceptions.AssertNoneAsync(e => e.ToString().Contains($"127.0.0.1:{port}", StringComparison.Ordinal), () => scenario(listener, port));
    }
}
