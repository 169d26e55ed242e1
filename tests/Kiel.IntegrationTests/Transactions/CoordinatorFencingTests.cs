using Confluent.Kafka;
using Kiel.Consuming;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;
using Kiel.Protocol;

namespace Kiel.IntegrationTests.Transactions;

/// <summary>
/// Fencing as a real transaction coordinator does it (<see cref="CoordinatorFencing"/> in the proxy: the mock does not
/// fence across InitProducerId calls and does not abort a dead instance's open transaction). Two producers with the same
/// transactional id: the older one has a transaction open when the newer one initializes; the coordinator aborts it,
/// and the older one's next operation is fenced. Proven with Confluent.Kafka first, then Kiel. A read_committed reader
/// sees only what was committed: neither the aborted open transaction nor anything sent after the fence.
/// </summary>
public sealed class CoordinatorFencingTests
{
    private const string ReadCommittedSeen = "the read_committed reader's records";

    [Fact]
    public async Task Confluent_older_producer_is_fenced_and_its_open_transaction_aborted_by_the_coordinator()
    {
        await using var cluster = await TransactionCluster.StartAsync(coordinator: true);
        var topic = KafkaClusterFixture.UniqueTopic("fence-confluent");
        cluster.Cluster.CreateTopic(topic, 2);
        const string Id = "fence-confluent";
        void Configure(ProducerConfig c)
        {
            c.TransactionalId = Id;
            c.LingerMs = 1;
            c.MessageTimeoutMs = 20000;
        }
        using var older = ConfluentClients.Producer(cluster.ProxyBootstrap, Configure);
        older.InitTransactions(TimeSpan.FromSeconds(30));
        older.BeginTransaction();
        await older.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, 0), new Message<string, string> { Key = "k", Value = "c-0" });
        older.CommitTransaction(TimeSpan.FromSeconds(30));
        older.BeginTransaction();
        await older.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, 0), new Message<string, string> { Key = "k", Value = "open-0" });

        using var newer = ConfluentClients.Producer(cluster.ProxyBootstrap, Configure);
        newer.InitTransactions(TimeSpan.FromSeconds(30));
        Assert.Equal(1, cluster.Coordinator!.Aborts);

        // The older one's next operation: a record to a partition not yet in its transaction (AddPartitionsToTxn first).
        await Assert.ThrowsAnyAsync<Confluent.Kafka.KafkaException>(async () =>
            await older.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, 1), new Message<string, string> { Key = "k", Value = "after-fence" })
                .WaitAsync(TimeSpan.FromSeconds(60)));
        var commit = Assert.ThrowsAny<Confluent.Kafka.KafkaException>(() => older.CommitTransaction(TimeSpan.FromSeconds(30)));
        Assert.True(commit.Error.IsFatal, $"expected a fatal error, got {commit.Error}");
        Assert.Contains(cluster.Coordinator.Fenced, f => f.TransactionalId == Id && f.Error is 90 or 47);
        Assert.DoesNotContain(cluster.Coordinator.Fenced, f => f.TransactionalId != Id);

        newer.BeginTransaction();
        await newer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, 1), new Message<string, string> { Key = "k", Value = "c-1" });
        newer.CommitTransaction(TimeSpan.FromSeconds(30));

        Assert.Equal(["c-0", "c-1"], await ReadCommittedAsync(cluster, topic, 2));
    }

    [Fact]
    public async Task Kiel_older_producer_gets_a_fatal_producer_fenced_on_its_next_operation_and_commits_nothing_after_it()
    {
        await using var cluster = await TransactionCluster.StartAsync(coordinator: true);
        var topic = KafkaClusterFixture.UniqueTopic("fence-kiel");
        cluster.Cluster.CreateTopic(topic, 2);
        const string Id = "fence-kiel";
        await using var older = new KielProducer<string, string>(TransactionKit.Producer(cluster.ProxyBootstrap, Id));
        await older.InitTransactionsAsync();
        older.BeginTransaction();
        await older.ProduceAsync(topic, "k", "c-0", partition: 0);
        await older.CommitTransactionAsync();
        older.BeginTransaction();
        await older.ProduceAsync(topic, "k", "open-0", partition: 0);

        await using var newer = new KielProducer<string, string>(TransactionKit.Producer(cluster.ProxyBootstrap, Id));
        await newer.InitTransactionsAsync();
        Assert.Equal(1, cluster.Coordinator!.Aborts);

        // The older one's next operation: a record to a partition not yet in its transaction (AddPartitionsToTxn first).
        var produced = await Xunit.Record.ExceptionAsync(async () => await older.ProduceAsync(topic, "k", "after-fence", partition: 1).AsTask().WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.NotNull(produced);
        var commit = await Assert.ThrowsAsync<TransactionException>(() => older.CommitTransactionAsync());
        Assert.True(commit.IsFatal);
        // PRODUCER_FENCED from AddPartitionsToTxn v2 on; the 2.16 mock advertises v0-v1 only, where a coordinator sends
        // INVALID_PRODUCER_EPOCH for the same fence.
        var version = cluster.Proxy.Frames.Last(f => f.ApiKey == ApiKey.AddPartitionsToTxn).ApiVersion;
        var (code, name) = version >= 2 ? ((short)90, "PRODUCER_FENCED") : ((short)47, "INVALID_PRODUCER_EPOCH");
        Assert.Equal(name, commit.ErrorName);
        Assert.Contains(name, commit.Message);
        Assert.Contains("fenced by a newer instance", commit.Message);
        Assert.True((await Assert.ThrowsAsync<TransactionException>(() => older.AbortTransactionAsync())).IsFatal);
        Assert.True(Assert.Throws<TransactionException>(() => older.BeginTransaction()).IsFatal);
        Assert.Contains(cluster.Coordinator.Fenced, f => f.TransactionalId == Id && f.Key == ApiKey.AddPartitionsToTxn && f.Error == code);

        newer.BeginTransaction();
        await newer.ProduceAsync(topic, "k", "c-1", partition: 1);
        await newer.CommitTransactionAsync();

        Assert.Equal(["c-0", "c-1"], await ReadCommittedAsync(cluster, topic, 2));
    }

    /// <summary>Reads <paramref name="count"/> records read_committed through the proxy, then checks that nothing more comes.</summary>
    private static async Task<List<string>> ReadCommittedAsync(TransactionCluster cluster, string topic, int count)
    {
        await using var reader = TransactionKit.ReadCommitted(cluster.ProxyBootstrap);
        await reader.AssignTopicAsync(topic, StartPosition.Beginning);
        var read = (await ConsumingHelpers.ReadAsync(reader, count, 60)).Select(r => r.Value!).Order(StringComparer.Ordinal).ToList();
        using var more = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await foreach (var r in reader.ConsumeAsync(more.Token)) read.Add(r.Value!);
        }
        catch (OperationCanceledException) { }
        Assert.True(read.Count == count, $"{ReadCommittedSeen}: {string.Join(", ", read)}");
        return read;
    }
}
