using Kiel.Consuming;
using Kiel.IntegrationTests.Capture;
using Kiel.IntegrationTests.Consuming;
using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Transactions;

/// <summary>
/// A one-broker embedded cluster with a recording proxy in front whose <see cref="AbortedTransactionsInjector"/> adds
/// the aborted-transactions lists the mock leaves out. Clients that go through <see cref="ProxyBootstrap"/> see what a
/// real broker would serve; <see cref="Bootstrap"/> is the mock itself.
/// </summary>
internal sealed class TransactionCluster : IAsyncDisposable
{
    public EmbeddedKafkaCluster Cluster { get; }
    public RecordingProxy Proxy { get; }
    public AbortedTransactionsInjector Injector { get; } = new();

    /// <summary>The emulated coordinator's fencing and aborts, when started with <c>coordinator: true</c>.</summary>
    public CoordinatorFencing? Coordinator { get; }

    private TransactionCluster(EmbeddedKafkaCluster cluster, bool coordinator)
    {
        Cluster = cluster;
        Proxy = RecordingProxy.Start(cluster.BootstrapServers);
        Proxy.ResponseHook = Injector.Hook;
        if (coordinator)
        {
            Coordinator = new CoordinatorFencing(Proxy, Injector);
            Proxy.RequestHook = Coordinator.HookAsync;
        }
    }

    /// <summary>
    /// Starts the cluster and its proxy. With <paramref name="coordinator"/>, clients through the proxy also meet a
    /// coordinator that fences older instances of a transactional id and aborts a dead instance's open transaction
    /// (<see cref="CoordinatorFencing"/>).
    /// </summary>
    public static async Task<TransactionCluster> StartAsync(bool coordinator = false)
    {
        var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        // The generated MetadataResponse stops at v12 and the proxy rewrites every Metadata response: a client that asked
        // for v13 (librdkafka 2.16 does) had its connection closed by the proxy, so Confluent.Kafka got nowhere through it.
        cluster.SetApiVersion(KafkaApiKeys.Metadata, 0, 12);
        return new TransactionCluster(cluster, coordinator);
    }

    public string Bootstrap => Cluster.BootstrapServers;
    public string ProxyBootstrap => Proxy.BootstrapServers;

    public async ValueTask DisposeAsync()
    {
        await Proxy.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}

internal static class TransactionKit
{
    public static KielProducerOptions Producer(string bootstrap, string transactionalId) => new()
    {
        BootstrapServers = bootstrap,
        ClientId = "kiel-txn-tests",
        TransactionalId = transactionalId,
        Linger = TimeSpan.FromMilliseconds(1),
        RetryBackoff = TimeSpan.FromMilliseconds(20),
        RequestTimeout = TimeSpan.FromSeconds(5),
        DeliveryTimeout = TimeSpan.FromSeconds(20),
        CloseTimeout = TimeSpan.FromSeconds(5),
        MaxBlock = TimeSpan.FromSeconds(10),
    };

    /// <summary>A read_committed consumer. The mock writes its COMMIT/ABORT marker batches with CRC 0, so CRCs are not checked.</summary>
    public static KielConsumer<string?, string?> ReadCommitted(string bootstrap) =>
        ConsumingHelpers.Consumer(bootstrap, o => o with { IsolationLevel = IsolationLevel.ReadCommitted, CheckCrcs = false });
}
