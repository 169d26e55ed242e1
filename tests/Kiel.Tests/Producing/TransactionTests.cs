using Kiel.Producing;

namespace Kiel.Tests.Producing;

/// <summary>The transactional producer's state machine and error classification against the scripted coordinator of <see cref="FakeTransport"/>.</summary>
public sealed class TransactionTests
{
    private static FakeTransport Cluster()
    {
        var t = new FakeTransport();
        t.Topics["t"] = [1, 2, 1, 2];
        return t;
    }

    private static KielProducerOptions Options(TimeSpan? deliveryTimeout = null) => FakeTransport.Options() with
    {
        TransactionalId = "tx-1",
        DeliveryTimeout = deliveryTimeout ?? TimeSpan.FromSeconds(10),
    };

    private static async Task<KielProducer<string, string>> Initialized(FakeTransport fake, KielProducerOptions? options = null)
    {
        var producer = FakeTransport.Producer(fake, options ?? Options());
        await producer.InitTransactionsAsync().WaitAsync(TimeSpan.FromSeconds(10));
        return producer;
    }

    private static async Task<ProduceException> Failure(ValueTask<DeliveryReport> report) =>
        await Assert.ThrowsAnyAsync<ProduceException>(() => report.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

    [Fact]
    public void A_transactional_id_with_idempotence_off_is_refused_with_the_fix()
    {
        var e = Assert.Throws<ArgumentException>(() => (FakeTransport.Options() with { TransactionalId = "x", EnableIdempotence = false }).Validate());
        Assert.Contains("EnableIdempotence", e.Message);
        Assert.Contains("transactional producer is idempotent", e.Message);
        Assert.Throws<ArgumentException>(() => (FakeTransport.Options() with { TransactionalId = "" }).Validate());
        Assert.Throws<ArgumentException>(() => (FakeTransport.Options() with { TransactionalId = "x", TransactionTimeout = TimeSpan.Zero }).Validate());
        (FakeTransport.Options() with { TransactionalId = "x" }).Validate();
    }

    [Fact]
    public async Task Calls_in_the_wrong_state_throw_at_once_with_what_to_do()
    {
        var fake = Cluster();
        await using var producer = FakeTransport.Producer(fake, Options());
        Assert.Contains("InitTransactionsAsync", Assert.Throws<TransactionException>(() => producer.Produce("t", null, "v")).Message);
        Assert.Contains("InitTransactionsAsync", Assert.Throws<TransactionException>(() => producer.BeginTransaction()).Message);
        await producer.InitTransactionsAsync();
        await Assert.ThrowsAsync<TransactionException>(() => producer.InitTransactionsAsync());
        Assert.Contains("BeginTransaction", Assert.Throws<TransactionException>(() => producer.Produce("t", null, "v")).Message);
        Assert.Contains("BeginTransaction", (await Assert.ThrowsAsync<TransactionException>(() => producer.CommitTransactionAsync())).Message);
        Assert.Contains("BeginTransaction", (await Assert.ThrowsAsync<TransactionException>(() => producer.AbortTransactionAsync())).Message);
        await Assert.ThrowsAsync<TransactionException>(() => producer.SendOffsetsToTransactionAsync([new(new TopicPartition("in", 0), 1)], new ConsumerGroupMetadata("g")));
        producer.BeginTransaction();
        Assert.Contains("already open", Assert.Throws<TransactionException>(() => producer.BeginTransaction()).Message);
        Assert.DoesNotContain(fake.Events, e => e.StartsWith("Produce", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_plain_producer_says_it_is_not_transactional()
    {
        await using var producer = FakeTransport.Producer(Cluster());
        Assert.Contains("TransactionalId", (await Assert.ThrowsAsync<InvalidOperationException>(() => producer.InitTransactionsAsync())).Message);
        Assert.Throws<InvalidOperationException>(() => producer.BeginTransaction());
    }

    [Fact]
    public async Task Partitions_are_added_in_one_request_before_their_first_batch_and_commit_waits_for_every_ack()
    {
        var fake = Cluster();
        // A long linger: the commit's flush seals every partition's batch in one pass, so one AddPartitionsToTxn carries them all.
        await using var producer = await Initialized(fake, Options(TimeSpan.FromSeconds(60)) with { Linger = TimeSpan.FromSeconds(30) });
        producer.BeginTransaction();
        var reports = new List<ValueTask<DeliveryReport>>();
        for (var i = 0; i < 20; i++) reports.Add(producer.ProduceAsync("t", null, $"v{i}", partition: i % 3));
        await producer.CommitTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        // Every record was acknowledged before EndTxn.
        Assert.All(reports, r => Assert.True(r.IsCompletedSuccessfully));
        foreach (var r in reports) Assert.Null((await r).Error);
        var events = fake.Events.ToList();
        Assert.Equal("Init", events[0]);
        Assert.Equal("AddPartitions t:0,t:1,t:2", events[1]);
        Assert.Equal(["Produce t:0 txn", "Produce t:1 txn", "Produce t:2 txn"], events.Skip(2).Take(3).Order().ToList());
        Assert.Equal("EndTxn commit", events[^1]);
        Assert.Equal(6, events.Count);
        Assert.Equal(20, Enumerable.Range(0, 3).Sum(p => fake.Log("t", p).Count));

        // The next transaction adds its partitions again.
        producer.BeginTransaction();
        var w = producer.ProduceAsync("t", null, "w", partition: 3);
        await producer.CommitTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Null((await w).Error);
        Assert.Equal(["AddPartitions t:3", "Produce t:3 txn", "EndTxn commit"], fake.Events.Skip(6).ToList());
    }

    [Fact]
    public async Task An_empty_transaction_sends_nothing_to_the_coordinator()
    {
        var fake = Cluster();
        await using var producer = await Initialized(fake);
        producer.BeginTransaction();
        await producer.CommitTransactionAsync();
        producer.BeginTransaction();
        await producer.AbortTransactionAsync();
        Assert.Equal(["Init"], fake.Events.ToList());
    }

    [Fact]
    public async Task Abort_fails_what_is_still_queued_with_a_clear_reason()
    {
        var fake = Cluster();
        await using var producer = await Initialized(fake, Options(TimeSpan.FromSeconds(60)) with { Linger = TimeSpan.FromSeconds(30) });
        producer.BeginTransaction();
        var sent = producer.ProduceAsync("t", null, "sent", partition: 0);
        await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Null((await sent).Error);
        var queued = producer.ProduceAsync("t", null, "queued", partition: 1);
        Assert.False(queued.IsCompleted);
        await producer.AbortTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("transaction was aborted before the record was sent", (await Failure(queued)).Message);
        Assert.Equal("EndTxn abort", fake.Events.Last());
        Assert.Empty(fake.Log("t", 1));
        // The producer goes on with the next transaction.
        producer.BeginTransaction();
        var next = producer.ProduceAsync("t", null, "next", partition: 1);
        await producer.CommitTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Null((await next).Error);
        Assert.Single(fake.Log("t", 1));
    }

    [Fact]
    public async Task Offsets_go_to_the_transaction_then_to_the_group_coordinator_with_the_member()
    {
        var fake = Cluster();
        await using var producer = await Initialized(fake);
        producer.BeginTransaction();
        var group = new ConsumerGroupMetadata("g", "member-1", 7, "static-1");
        await producer.SendOffsetsToTransactionAsync([new(new TopicPartition("in", 0), 42), new(new TopicPartition("in", 1), 7)], group);
        await producer.CommitTransactionAsync();
        Assert.Equal(["Init", "AddOffsets g", "TxnOffsetCommit g in:0=42,in:1=7", "EndTxn commit"], fake.Events.ToList());
        Assert.Equal(group, Assert.Single(fake.OffsetGroups));
    }

    public static TheoryData<string, short> RetriableErrors() => new()
    {
        { "Init", 15 }, { "Init", 16 }, { "Init", 14 }, { "Init", 51 },
        { "AddPartitions", 15 }, { "AddPartitions", 16 }, { "AddPartitions", 14 }, { "AddPartitions", 51 },
        { "AddOffsets", 15 }, { "AddOffsets", 16 }, { "AddOffsets", 14 }, { "AddOffsets", 51 },
        { "TxnOffsetCommit", 15 }, { "TxnOffsetCommit", 16 }, { "TxnOffsetCommit", 14 },
        { "EndTxn", 15 }, { "EndTxn", 16 }, { "EndTxn", 14 }, { "EndTxn", 51 },
    };

    /// <summary>COORDINATOR_NOT_AVAILABLE (15), NOT_COORDINATOR (16), COORDINATOR_LOAD_IN_PROGRESS (14), CONCURRENT_TRANSACTIONS (51): retried, and the transaction commits.</summary>
    [Theory]
    [MemberData(nameof(RetriableErrors))]
    public async Task Retriable_errors_are_retried_and_the_transaction_commits(string api, short code)
    {
        var fake = Cluster();
        fake.PushTxnError(api, code, code);
        await using var producer = await Initialized(fake);
        producer.BeginTransaction();
        var report = producer.ProduceAsync("t", null, "v", partition: 0);
        await producer.SendOffsetsToTransactionAsync([new(new TopicPartition("in", 0), 1)], new ConsumerGroupMetadata("g"));
        await producer.CommitTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await report;
        Assert.Equal(3, fake.Events.Count(e => e.StartsWith(api == "Init" ? "Init" : api, StringComparison.Ordinal)));
        Assert.Equal("EndTxn commit", fake.Events.Last());
        if (code is 15 or 16) Assert.NotEmpty(fake.Forgotten);
    }

    public static TheoryData<string, short> AbortableErrors() => new()
    {
        { "AddPartitions", 29 }, // TOPIC_AUTHORIZATION_FAILED
        { "AddPartitions", 59 }, // UNKNOWN_PRODUCER_ID
        { "AddOffsets", 30 },    // GROUP_AUTHORIZATION_FAILED
        { "TxnOffsetCommit", 25 }, // UNKNOWN_MEMBER_ID
        { "TxnOffsetCommit", 22 }, // ILLEGAL_GENERATION
        { "TxnOffsetCommit", 82 }, // FENCED_INSTANCE_ID
        { "EndTxn", 49 },        // INVALID_PRODUCER_ID_MAPPING
    };

    /// <summary>An abortable error: commit is refused and says the transaction must be aborted; abort works and the next transaction commits.</summary>
    [Theory]
    [MemberData(nameof(AbortableErrors))]
    public async Task Abortable_errors_leave_the_transaction_needing_an_abort(string api, short code)
    {
        var fake = Cluster();
        fake.PushTxnError(api, code);
        await using var producer = await Initialized(fake);
        producer.BeginTransaction();
        var report = producer.ProduceAsync("t", null, "v", partition: 0);
        TransactionException? error = null;
        try
        {
            await producer.SendOffsetsToTransactionAsync([new(new TopicPartition("in", 0), 1)], new ConsumerGroupMetadata("g"));
            await producer.CommitTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TransactionException e) { error = e; }
        Assert.NotNull(error);
        Assert.True(error!.RequiresAbort, error.Message);
        Assert.False(error.IsFatal);
        Assert.Contains("abort", error.Message, StringComparison.OrdinalIgnoreCase);
        // Every call but abort now says the transaction must be aborted.
        var again = await Assert.ThrowsAsync<TransactionException>(() => producer.CommitTransactionAsync());
        Assert.True(again.RequiresAbort);
        Assert.True(Assert.Throws<TransactionException>(() => producer.Produce("t", null, "x")).RequiresAbort);
        await producer.AbortTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        if (api == "AddPartitions") await Failure(report);
        producer.BeginTransaction();
        await producer.ProduceAsync("t", null, "after", partition: 1);
        await producer.CommitTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("EndTxn commit", fake.Events.Last());
        // A lost producer id (UNKNOWN_PRODUCER_ID, INVALID_PRODUCER_ID_MAPPING) takes a new epoch after the abort (KIP-360).
        if (code is 59 or 49) Assert.Contains(fake.Events, e => e.StartsWith("Init bump", StringComparison.Ordinal));
    }

    public static TheoryData<string, short> FatalErrors() => new()
    {
        { "Init", 53 },          // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        { "Init", 90 },          // PRODUCER_FENCED
        { "AddPartitions", 90 },
        { "AddPartitions", 47 }, // INVALID_PRODUCER_EPOCH
        { "AddPartitions", 53 },
        { "AddOffsets", 90 },
        { "TxnOffsetCommit", 47 },
        { "EndTxn", 90 },
        { "EndTxn", 48 },        // INVALID_TXN_STATE
    };

    /// <summary>A fatal error: the exception names the cause and every later transactional call throws it too.</summary>
    [Theory]
    [MemberData(nameof(FatalErrors))]
    public async Task Fatal_errors_close_the_producer_for_transactional_work(string api, short code)
    {
        var fake = Cluster();
        fake.PushTxnError(api, code);
        await using var producer = FakeTransport.Producer(fake, Options());
        TransactionException? error = null;
        try
        {
            await producer.InitTransactionsAsync().WaitAsync(TimeSpan.FromSeconds(10));
            producer.BeginTransaction();
            var report = producer.ProduceAsync("t", null, "v", partition: 0);
            await producer.SendOffsetsToTransactionAsync([new(new TopicPartition("in", 0), 1)], new ConsumerGroupMetadata("g"));
            await producer.CommitTransactionAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TransactionException e) { error = e; }
        Assert.NotNull(error);
        Assert.True(error!.IsFatal, error.Message);
        Assert.Equal(code, error.ErrorCode);
        Assert.Contains(Kiel.Protocol.ErrorCodes.Info(code).Name, error.Message);
        if (code is 90 or 47) Assert.Contains("fenced", error.Message);
        var later = await Assert.ThrowsAsync<TransactionException>(() => producer.AbortTransactionAsync());
        Assert.True(later.IsFatal);
        Assert.Contains("no more transactional work", later.Message);
        if (api != "EndTxn") Assert.DoesNotContain("EndTxn commit", fake.Events);
    }

    [Fact]
    public async Task A_fenced_produce_fails_the_record_and_makes_the_producer_fatal()
    {
        var fake = Cluster();
        await using var producer = await Initialized(fake);
        producer.BeginTransaction();
        fake.ProduceErrors.Enqueue(90);
        var error = await Failure(producer.ProduceAsync("t", null, "v", partition: 0));
        Assert.Equal(90, error.ErrorCode);
        var e = await Assert.ThrowsAsync<TransactionException>(() => producer.CommitTransactionAsync());
        Assert.True(e.IsFatal);
        Assert.Contains("fenced", e.Message);
        Assert.DoesNotContain("EndTxn commit", fake.Events);
    }

    [Fact]
    public async Task A_record_that_fails_makes_commit_refuse_and_ask_for_an_abort()
    {
        var fake = Cluster();
        await using var producer = await Initialized(fake);
        producer.BeginTransaction();
        await Failure(producer.ProduceAsync("t", null, "v", partition: 9)); // no such partition
        var e = await Assert.ThrowsAsync<TransactionException>(() => producer.CommitTransactionAsync());
        Assert.True(e.RequiresAbort);
        await producer.AbortTransactionAsync();
        Assert.DoesNotContain("EndTxn commit", fake.Events);
    }

    [Fact]
    public async Task Retriable_errors_stop_at_the_delivery_timeout_with_the_last_error()
    {
        var fake = Cluster();
        fake.PushTxnError("EndTxn", [.. Enumerable.Repeat((short)51, 1000)]);
        await using var producer = await Initialized(fake, Options(TimeSpan.FromMilliseconds(600)) with { RequestTimeout = TimeSpan.FromMilliseconds(300), CloseTimeout = TimeSpan.Zero });
        producer.BeginTransaction();
        await producer.ProduceAsync("t", null, "v", partition: 0);
        var e = await Assert.ThrowsAsync<TransactionException>(() => producer.CommitTransactionAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("DeliveryTimeout", e.Message);
        Assert.Contains("CONCURRENT_TRANSACTIONS", e.Message);
    }
}
