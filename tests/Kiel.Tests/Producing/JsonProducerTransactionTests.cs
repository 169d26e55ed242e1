using System.Text;
using Kiel.Producing;

namespace Kiel.Tests.Producing;

/// <summary>Transactions on kiel's JSON <see cref="Producer{TMessage}"/>: the same calls as <see cref="KielProducer{TKey, TValue}"/>, on its inner producer.</summary>
public sealed class JsonProducerTransactionTests
{
    private static FakeTransport Cluster()
    {
        var t = new FakeTransport();
        t.Topics["t"] = [1, 2, 1, 2];
        return t;
    }

    private static Producer<Dictionary<string, int>> Transactional(FakeTransport fake, string? transactionalId = "tx-json", short requiredAcks = -1) =>
        new(_ => fake, ["fake:9092"], keyMaker: m => $"user-{m["id"]}", partitioner: (_, partitions) => partitions[2], requiredAcks: requiredAcks,
            transactionalId: transactionalId);

    [Fact]
    public async Task A_committed_transaction_adds_its_partition_sends_the_offsets_and_ends_with_a_commit()
    {
        var fake = Cluster();
        await using var producer = Transactional(fake);
        await producer.InitTransactionsAsync().WaitAsync(TimeSpan.FromSeconds(10));
        producer.BeginTransaction();
        var report = await producer.ProduceAsync("t", new Dictionary<string, int> { ["id"] = 7 }).WaitAsync(TimeSpan.FromSeconds(10));
        var group = new ConsumerGroupMetadata("g", "member-1", 3, null);
        await producer.SendOffsetsToTransactionAsync([new(new TopicPartition("in", 0), 42)], group).WaitAsync(TimeSpan.FromSeconds(10));
        await producer.CommitTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, report.Partition);
        Assert.Equal(["Init", "AddPartitions t:2", "Produce t:2 txn", "AddOffsets g", "TxnOffsetCommit g in:0=42", "EndTxn commit"], fake.Events.ToList());
        Assert.Equal(group, Assert.Single(fake.OffsetGroups));
        var stored = Assert.Single(fake.Log("t", 2));
        Assert.Equal("{\"id\":7}", Encoding.UTF8.GetString(stored.Value!));
    }

    [Fact]
    public async Task An_aborted_transaction_ends_with_an_abort_and_the_next_one_commits()
    {
        var fake = Cluster();
        await using var producer = Transactional(fake);
        await producer.InitTransactionsAsync().WaitAsync(TimeSpan.FromSeconds(10));
        producer.BeginTransaction();
        await producer.ProduceAsync("t", new Dictionary<string, int> { ["id"] = 1 }).WaitAsync(TimeSpan.FromSeconds(10));
        await producer.AbortTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        producer.BeginTransaction();
        await producer.ProduceAsync("t", new Dictionary<string, int> { ["id"] = 2 }).WaitAsync(TimeSpan.FromSeconds(10));
        await producer.CommitTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["Init", "AddPartitions t:2", "Produce t:2 txn", "EndTxn abort", "AddPartitions t:2", "Produce t:2 txn", "EndTxn commit"], fake.Events.ToList());
    }

    [Fact]
    public async Task Wrong_state_calls_and_a_producer_without_a_transactional_id_say_what_to_do()
    {
        var fake = Cluster();
        await using (var producer = Transactional(fake))
        {
            Assert.Contains("InitTransactionsAsync", Assert.Throws<TransactionException>(() => producer.BeginTransaction()).Message);
            await producer.InitTransactionsAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Contains("BeginTransaction", (await Assert.ThrowsAsync<TransactionException>(() => producer.ProduceAsync("t", new Dictionary<string, int> { ["id"] = 1 }))).Message);
            Assert.Contains("BeginTransaction", (await Assert.ThrowsAsync<TransactionException>(() => producer.CommitTransactionAsync())).Message);
        }
        await using (var plain = Transactional(Cluster(), transactionalId: null))
            Assert.Contains("TransactionalId", (await Assert.ThrowsAsync<InvalidOperationException>(() => plain.InitTransactionsAsync())).Message);
        var acks = Assert.Throws<ArgumentException>(() => Transactional(Cluster(), requiredAcks: 1));
        Assert.Contains("requiredAcks -1", acks.Message);
        Assert.DoesNotContain(fake.Events, e => e.StartsWith("Produce", StringComparison.Ordinal));
    }
}
