using Confluent.Kafka;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Transactions;

/// <summary>
/// Kiel's transactional producer on the embedded (librdkafka mock) cluster. The mock keeps no aborted-transactions
/// index, so committed-versus-aborted is read back through <see cref="TransactionCluster"/>'s proxy, which adds the
/// aborted-transactions lists a real broker sends; the mock's own COMMIT/ABORT marker batches are counted on the way.
/// </summary>
public sealed class TransactionalProducerTests
{
    private const short AddPartitionsToTxn = 24;
    private const short AddOffsetsToTxn = 25;
    private const short EndTxn = 26;
    private const short TxnOffsetCommit = 28;

    private static string Topic(string prefix) => KafkaClusterFixture.UniqueTopic(prefix);

    /// <summary>Produces one transaction of <paramref name="count"/> records (partition i % partitions), flushed, then commits or aborts it; returns the reports.</summary>
    private static async Task<List<DeliveryReport>> TransactionAsync(KielProducer<string, string> producer, string topic, int txn, int count, int partitions,
        bool commit, TransactionCluster? cluster = null)
    {
        producer.BeginTransaction();
        var pending = new List<ValueTask<DeliveryReport>>(count);
        for (var i = 0; i < count; i++) pending.Add(producer.ProduceAsync(topic, $"k{txn}", $"{(commit ? "c" : "a")}-{txn}-{i}", partition: i % partitions));
        var reports = new List<DeliveryReport>(count);
        foreach (var p in pending) reports.Add(await p);
        if (commit) await producer.CommitTransactionAsync();
        else
        {
            await producer.AbortTransactionAsync();
            // The mock writes the ABORT marker right after the transaction's last record on each partition.
            foreach (var part in reports.GroupBy(r => r.Partition))
                cluster?.Injector.AddAborted(topic, part.Key, part.Min(r => r.Offset), part.Max(r => r.Offset) + 1);
        }
        return reports;
    }

    [Fact]
    public async Task A_thousand_transactions_half_aborted_read_back_read_committed_hold_exactly_the_committed_records_in_order()
    {
        await using var cluster = await TransactionCluster.StartAsync();
        var topic = Topic("txn-1000");
        cluster.Cluster.CreateTopic(topic, 2);
        var committed = new Dictionary<int, List<string>> { [0] = [], [1] = [] };
        await using (var producer = new KielProducer<string, string>(TransactionKit.Producer(cluster.Bootstrap, "txn-1000")))
        {
            await producer.InitTransactionsAsync();
            for (var t = 0; t < 1000; t++)
            {
                // Odd transactions commit, so the last one does: an aborted record that leaked would come before the count is reached.
                var commit = t % 2 == 1;
                await TransactionAsync(producer, topic, t, 10, 2, commit, cluster);
                if (commit)
                    for (var i = 0; i < 10; i++) committed[i % 2].Add($"c-{t}-{i}");
            }
        }

        // Everything, aborted records included, is in the mock's log: a read_uncommitted reader sees 10,000 records (and no markers).
        await using (var all = ConsumingHelpers.Consumer(cluster.Bootstrap, o => o with { CheckCrcs = false }))
        {
            await all.AssignTopicAsync(topic, StartPosition.Beginning);
            var everything = await ConsumingHelpers.ReadAsync(all, 10_000, 120);
            Assert.Equal(5_000, everything.Count(r => r.Value!.StartsWith("a-", StringComparison.Ordinal)));
        }

        await using var reader = TransactionKit.ReadCommitted(cluster.ProxyBootstrap);
        await reader.AssignTopicAsync(topic, StartPosition.Beginning);
        List<Kiel.Consuming.ConsumeResult<string?, string?>> read;
        try { read = await ConsumingHelpers.ReadAsync(reader, 5_000, 120); }
        catch (Exception e)
        {
            throw new InvalidOperationException($"{e.Message} Injector: {cluster.Injector.ControlBatches} markers, {cluster.Injector.Injected} entries; " +
                $"positions {await reader.PositionAsync(new TopicPartition(topic, 0))}, {await reader.PositionAsync(new TopicPartition(topic, 1))}", e);
        }
        foreach (var p in new[] { 0, 1 })
            Assert.Equal(committed[p], read.Where(r => r.Partition == p).Select(r => r.Value!).ToList());
        Assert.DoesNotContain(read, r => r.Value!.StartsWith("a-", StringComparison.Ordinal));
        // The mock wrote one marker per transaction and partition (2,000), read by both readers; the proxy listed the aborted ones.
        // The last transaction's two COMMIT markers follow the last records, so a reader that stops at 5,000 records may
        // not have fetched them yet.
        Assert.True(cluster.Injector.ControlBatches >= 1_998, $"{cluster.Injector.ControlBatches} control batches");
        Assert.True(cluster.Injector.Injected >= 1_000, $"{cluster.Injector.Injected} aborted-transaction entries");
    }

    /// <summary>
    /// The mock writes its COMMIT/ABORT marker batches with CRC 0 (librdkafka's mock does not compute it), so a reader
    /// that checks CRCs (Kiel's default) stops at the first marker with a clear error, and one with CheckCrcs = false
    /// reads the transactions. If the mock changes, docs/transactions.md must change too.
    /// </summary>
    [Fact]
    public async Task The_mock_writes_markers_with_crc_0_so_only_a_reader_without_crc_checks_reads_transactions()
    {
        await using var cluster = await TransactionCluster.StartAsync();
        var topic = Topic("txn-crc");
        cluster.Cluster.CreateTopic(topic, 1);
        await using (var producer = new KielProducer<string, string>(TransactionKit.Producer(cluster.Bootstrap, "txn-crc")))
        {
            await producer.InitTransactionsAsync();
            await TransactionAsync(producer, topic, 0, 3, 1, commit: true);
            await TransactionAsync(producer, topic, 1, 3, 1, commit: true);
        }
        await using (var checking = ConsumingHelpers.Consumer(cluster.ProxyBootstrap, o => o with { IsolationLevel = Kiel.Consuming.IsolationLevel.ReadCommitted }))
        {
            Assert.True(checking.Options.CheckCrcs);
            await checking.AssignTopicAsync(topic, StartPosition.Beginning);
            var error = await Assert.ThrowsAsync<CorruptRecordException>(() => ConsumingHelpers.ReadAsync(checking, 6, 20));
            Assert.Contains("at base offset 3: stored CRC-32C 0x00000000", error.Message);
        }
        Assert.True(cluster.Injector.BadControlCrcs >= 1);

        await using var lenient = TransactionKit.ReadCommitted(cluster.Bootstrap);
        await lenient.AssignTopicAsync(topic, StartPosition.Beginning);
        Assert.Equal(["c-0-0", "c-0-1", "c-0-2", "c-1-0", "c-1-1", "c-1-2"], (await ConsumingHelpers.ReadAsync(lenient, 6)).Select(r => r.Value).ToList());
    }

    /// <summary>
    /// The mock answers read_committed Fetch requests with LastStableOffset = the high watermark, and serves the
    /// records of a transaction that is still open: it does not honour the LSO (its LSO exists only for share groups).
    /// </summary>
    [Fact]
    public async Task The_mock_does_not_hold_read_committed_readers_at_the_last_stable_offset()
    {
        await using var cluster = await TransactionCluster.StartAsync();
        var topic = Topic("txn-lso");
        cluster.Cluster.CreateTopic(topic, 1);
        await using var producer = new KielProducer<string, string>(TransactionKit.Producer(cluster.Bootstrap, "txn-lso"));
        await producer.InitTransactionsAsync();
        producer.BeginTransaction();
        await producer.ProduceAsync(topic, null, "open-0", partition: 0);
        await producer.ProduceAsync(topic, null, "open-1", partition: 0);
        await using var reader = TransactionKit.ReadCommitted(cluster.Bootstrap);
        await reader.AssignTopicAsync(topic, StartPosition.Beginning);
        var read = await ConsumingHelpers.ReadAsync(reader, 2, 20);
        Assert.Equal(["open-0", "open-1"], read.Select(r => r.Value).ToList());
        await producer.AbortTransactionAsync();
    }

    /// <summary>
    /// Two producers with one transactional id. The mock gives each InitProducerId a new producer id and never fences
    /// the older one (a real coordinator bumps the epoch and answers the older with PRODUCER_FENCED), so the fence is
    /// injected the way a real broker sends it: PRODUCER_FENCED on the older producer's next Produce. The older one is
    /// then closed for transactional work, sends no EndTxn, and nothing it sent after the fence is committed; the newer
    /// one commits.
    /// </summary>
    [Fact]
    public async Task A_fenced_producer_gets_producer_fenced_on_its_next_operation_and_commits_nothing_after_it()
    {
        await using var cluster = await TransactionCluster.StartAsync();
        var topic = Topic("txn-fence");
        cluster.Cluster.CreateTopic(topic, 1);
        await using var older = new KielProducer<string, string>(TransactionKit.Producer(cluster.Bootstrap, "txn-fence"));
        await older.InitTransactionsAsync();
        await TransactionAsync(older, topic, 0, 2, 1, commit: true);

        await using var newer = new KielProducer<string, string>(TransactionKit.Producer(cluster.Bootstrap, "txn-fence"));
        await newer.InitTransactionsAsync();
        cluster.Cluster.StartRequestTracking();
        cluster.Cluster.PushRequestErrors(KafkaApiKeys.Produce, 90);
        older.BeginTransaction();
        var fenced = await Assert.ThrowsAsync<ProduceException>(async () => await older.ProduceAsync(topic, null, "after-fence", partition: 0));
        Assert.Equal(90, fenced.ErrorCode);
        var commit = await Assert.ThrowsAsync<TransactionException>(() => older.CommitTransactionAsync());
        Assert.True(commit.IsFatal);
        Assert.Contains("fenced by a newer instance", commit.Message);
        Assert.True((await Assert.ThrowsAsync<TransactionException>(() => older.AbortTransactionAsync())).IsFatal);
        Assert.True(Assert.Throws<TransactionException>(() => older.BeginTransaction()).IsFatal);
        Assert.DoesNotContain(cluster.Cluster.GetRequests(), r => r.ApiKey == EndTxn);

        await TransactionAsync(newer, topic, 1, 2, 1, commit: true);
        await using var reader = TransactionKit.ReadCommitted(cluster.ProxyBootstrap);
        await reader.AssignTopicAsync(topic, StartPosition.Beginning);
        Assert.Equal(["c-0-0", "c-0-1", "c-1-0", "c-1-1"], (await ConsumingHelpers.ReadAsync(reader, 4)).Select(r => r.Value).ToList());
    }

    public enum Outcome { Committed, Abortable, Fatal }

    public static TheoryData<short, short, Outcome> InjectedErrors() => new()
    {
        // Retriable: the transaction commits.
        { KafkaApiKeys.InitProducerId, 51, Outcome.Committed },  // CONCURRENT_TRANSACTIONS
        { KafkaApiKeys.InitProducerId, 14, Outcome.Committed },  // COORDINATOR_LOAD_IN_PROGRESS
        { KafkaApiKeys.InitProducerId, 16, Outcome.Committed },  // NOT_COORDINATOR
        { AddPartitionsToTxn, 51, Outcome.Committed },
        { AddPartitionsToTxn, 15, Outcome.Committed }, // COORDINATOR_NOT_AVAILABLE
        { AddOffsetsToTxn, 51, Outcome.Committed },
        { AddOffsetsToTxn, 16, Outcome.Committed },
        { TxnOffsetCommit, 14, Outcome.Committed },
        { TxnOffsetCommit, 16, Outcome.Committed },
        { EndTxn, 51, Outcome.Committed },
        { EndTxn, 14, Outcome.Committed },
        // Abortable: the transaction must be aborted, and the next one commits.
        { AddPartitionsToTxn, 29, Outcome.Abortable }, // TOPIC_AUTHORIZATION_FAILED
        { AddOffsetsToTxn, 30, Outcome.Abortable },    // GROUP_AUTHORIZATION_FAILED
        { TxnOffsetCommit, 25, Outcome.Abortable },    // UNKNOWN_MEMBER_ID
        { TxnOffsetCommit, 22, Outcome.Abortable },    // ILLEGAL_GENERATION
        // Fatal: no more transactional work.
        { KafkaApiKeys.InitProducerId, 53, Outcome.Fatal },     // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        { AddPartitionsToTxn, 90, Outcome.Fatal }, // PRODUCER_FENCED
        { AddPartitionsToTxn, 47, Outcome.Fatal }, // INVALID_PRODUCER_EPOCH
        { AddOffsetsToTxn, 53, Outcome.Fatal },
        { TxnOffsetCommit, 90, Outcome.Fatal },
        { EndTxn, 90, Outcome.Fatal },
        { EndTxn, 48, Outcome.Fatal },             // INVALID_TXN_STATE
        { KafkaApiKeys.Produce, 90, Outcome.Fatal },
    };

    [Theory]
    [MemberData(nameof(InjectedErrors))]
    public async Task Each_injected_error_on_each_transactional_api_is_classified_as_the_java_client_does(short apiKey, short code, Outcome expected)
    {
        await using var cluster = await TransactionCluster.StartAsync();
        var topic = Topic("txn-err");
        cluster.Cluster.CreateTopic(topic, 1);
        await using var producer = new KielProducer<string, string>(TransactionKit.Producer(cluster.Bootstrap, $"txn-err-{apiKey}-{code}"));
        var retries = expected == Outcome.Committed ? 2 : 1;
        cluster.Cluster.PushRequestErrors(apiKey, [.. Enumerable.Repeat((int)code, retries)]);
        Outcome outcome;
        TransactionException? error = null;
        try
        {
            await producer.InitTransactionsAsync();
            producer.BeginTransaction();
            var report = producer.ProduceAsync(topic, null, "v", partition: 0);
            await producer.SendOffsetsToTransactionAsync([new(new TopicPartition(topic, 0), 1)], new ConsumerGroupMetadata("txn-group"));
            try { await report; } catch (ProduceException) { }
            await producer.CommitTransactionAsync();
            outcome = Outcome.Committed;
        }
        catch (TransactionException e)
        {
            error = e;
            outcome = e.IsFatal ? Outcome.Fatal : e.RequiresAbort ? Outcome.Abortable : (Outcome)(-1);
        }
        Assert.True(expected == outcome, $"expected {expected}, got {outcome}: {error}");
        switch (outcome)
        {
            case Outcome.Abortable:
                await producer.AbortTransactionAsync();
                await TransactionAsync(producer, topic, 1, 1, 1, commit: true);
                break;
            case Outcome.Fatal:
                Assert.Equal(code, error!.ErrorCode);
                Assert.Contains(Kiel.Protocol.ErrorCodes.Info(code).Name, error.Message);
                Assert.True(Assert.ThrowsAny<TransactionException>(() => producer.BeginTransaction()).IsFatal);
                break;
        }
    }

    /// <summary>
    /// Kiel commits and aborts transactions on two partitions; through the proxy (which lists the aborted transactions
    /// the mock leaves out) three read_committed readers we did not all write read exactly the committed records, per
    /// partition in order: Kiel, Confluent.Kafka 2.16 (librdkafka 2.16, Fetch v13+ with topic ids) and Debian's
    /// python3-confluent-kafka (librdkafka 2.0.2, Fetch v11 with topic names). The same Confluent.Kafka reader straight
    /// at the mock reads the aborted records too, so the proxy's lists are what the peers honour. (kafka-python 2.0.2,
    /// Debian's, has no read_committed: its fetcher always asks for read_uncommitted.)
    /// </summary>
    [Fact]
    public async Task Confluent_and_librdkafka_2_0_read_committed_read_exactly_what_Kiel_committed_with_aborts_between()
    {
        await using var cluster = await TransactionCluster.StartAsync();
        var topic = Topic("txn-k2c");
        cluster.Cluster.CreateTopic(topic, 2);
        var committed = new Dictionary<int, List<string>> { [0] = [], [1] = [] };
        await using (var producer = new KielProducer<string, string>(TransactionKit.Producer(cluster.Bootstrap, "txn-k2c")))
        {
            await producer.InitTransactionsAsync();
            for (var t = 0; t < 30; t++)
            {
                // Every third transaction aborts; the last one commits, so a leaked aborted record displaces a committed one.
                var commit = t % 3 != 1;
                await TransactionAsync(producer, topic, t, 6, 2, commit, cluster);
                if (commit)
                    for (var i = 0; i < 6; i++) committed[i % 2].Add($"c-{t}-{i}");
            }
        }
        var total = committed[0].Count + committed[1].Count;
        void AssertCommitted(string who, IEnumerable<(int Partition, string Value)> read)
        {
            var list = read.ToList();
            foreach (var p in new[] { 0, 1 })
            {
                var got = list.Where(r => r.Partition == p).Select(r => r.Value).ToList();
                Assert.True(committed[p].SequenceEqual(got),
                    $"{who}, partition {p}: expected {committed[p].Count} committed records, read {got.Count}: {string.Join(" ", got)}");
            }
        }

        await using (var kiel = TransactionKit.ReadCommitted(cluster.ProxyBootstrap))
        {
            await kiel.AssignTopicAsync(topic, StartPosition.Beginning);
            AssertCommitted("Kiel", (await ConsumingHelpers.ReadAsync(kiel, total, 60)).Select(r => (r.Partition, r.Value!)));
        }

        var before = cluster.Injector.Injected;
        AssertCommitted("Confluent.Kafka 2.16", ConfluentReadCommitted(cluster.ProxyBootstrap, topic, total));
        Assert.True(cluster.Injector.Injected > before, "Confluent.Kafka was not served an aborted-transactions list");
        Assert.Contains(cluster.Injector.FetchVersions.Keys, v => v >= 13);

        // Straight at the mock, with no aborted-transactions lists, the same reader reads the aborted records too.
        var direct = ConfluentReadCommitted(cluster.Bootstrap, topic, total);
        Assert.Contains(direct, r => r.Value.StartsWith("a-", StringComparison.Ordinal));

        before = cluster.Injector.Injected;
        AssertCommitted("python3-confluent-kafka (librdkafka 2.0.2)", await PythonConfluentReadCommittedAsync(cluster.ProxyBootstrap, topic, total));
        Assert.True(cluster.Injector.Injected > before, "librdkafka 2.0.2 was not served an aborted-transactions list");
        Assert.Contains(cluster.Injector.FetchVersions.Keys, v => v < 13);
    }

    /// <summary>kiel's JSON <see cref="Kiel.Producer{TMessage}"/> with a transactional id: an aborted and a committed transaction; read_committed reads the committed messages only.</summary>
    [Fact]
    public async Task The_JSON_producer_commits_and_aborts_transactions()
    {
        await using var cluster = await TransactionCluster.StartAsync();
        var topic = Topic("txn-json");
        cluster.Cluster.CreateTopic(topic, 1);
        await using (var producer = new Kiel.Producer<Dictionary<string, string>>([cluster.Bootstrap], keyMaker: m => m["k"],
            partitioner: (_, partitions) => partitions[0], transactionalId: "txn-json"))
        {
            await producer.InitTransactionsAsync();
            producer.BeginTransaction();
            var aborted = new List<long>();
            for (var i = 0; i < 3; i++) aborted.Add((await producer.ProduceAsync(topic, new() { ["k"] = "a", ["v"] = $"aborted-{i}" })).Offset);
            await producer.AbortTransactionAsync();
            cluster.Injector.AddAborted(topic, 0, aborted.Min(), aborted.Max() + 1);
            producer.BeginTransaction();
            for (var i = 0; i < 3; i++) await producer.ProduceAsync(topic, new() { ["k"] = "c", ["v"] = $"committed-{i}" });
            await producer.CommitTransactionAsync();
        }
        await using var reader = TransactionKit.ReadCommitted(cluster.ProxyBootstrap);
        await reader.AssignTopicAsync(topic, StartPosition.Beginning);
        Assert.Equal(["{\"k\":\"c\",\"v\":\"committed-0\"}", "{\"k\":\"c\",\"v\":\"committed-1\"}", "{\"k\":\"c\",\"v\":\"committed-2\"}"],
            (await ConsumingHelpers.ReadAsync(reader, 3)).Select(r => r.Value!).ToList());
        Assert.True(cluster.Injector.Injected >= 1);
    }

    /// <summary>A Confluent.Kafka read_committed consumer assigned both partitions from the start: the first <paramref name="count"/> records, then 1 s more.</summary>
    private static List<(int Partition, string Value)> ConfluentReadCommitted(string bootstrap, string topic, int count)
    {
        using var consumer = ConfluentClients.Consumer(bootstrap, "k2c-" + Guid.NewGuid().ToString("N"),
            c => c.IsolationLevel = Confluent.Kafka.IsolationLevel.ReadCommitted);
        consumer.Assign([new Confluent.Kafka.TopicPartitionOffset(topic, 0, Offset.Beginning), new Confluent.Kafka.TopicPartitionOffset(topic, 1, Offset.Beginning)]);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var read = ConfluentClients.ConsumeCount(consumer, count, cts.Token);
        using var more = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        read.AddRange(ConfluentClients.ConsumeCount(consumer, 1, more.Token));
        consumer.Close();
        return [.. read.Select(r => (r.Partition.Value, r.Message.Value))];
    }

    /// <summary>Debian's python3-confluent-kafka (on librdkafka 2.0.2) with isolation.level=read_committed.</summary>
    private static async Task<List<(int Partition, string Value)>> PythonConfluentReadCommittedAsync(string bootstrap, string topic, int count)
    {
        const string python = "/usr/bin/python3";
        Assert.True(File.Exists(python), "python3-confluent-kafka needs /usr/bin/python3: apt-get install -y python3-confluent-kafka");
        var script = $$"""
            import sys, time
            from confluent_kafka import Consumer, TopicPartition
            c = Consumer({'bootstrap.servers': '{{bootstrap}}', 'group.id': 'k2py', 'isolation.level': 'read_committed',
                          'enable.auto.commit': False, 'fetch.wait.max.ms': 10})
            c.assign([TopicPartition('{{topic}}', 0, 0), TopicPartition('{{topic}}', 1, 0)])
            n, end, extra = 0, time.time() + 60, None
            while time.time() < (end if extra is None else extra):
                m = c.poll(0.1)
                if m is None: continue
                if m.error(): sys.exit('error %s' % m.error())
                print('%d %s' % (m.partition(), m.value().decode()), flush=True)
                n += 1
                if n == {{count}}: extra = time.time() + 1
            c.close()
            """;
        var result = await ProcessRunner.RunAsync(python, ["-c", script], TimeSpan.FromSeconds(90));
        Assert.True(result.ExitCode == 0, result.StdErr);
        return [.. result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', 2)).Select(p => (int.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture), p[1]))];
    }

    /// <summary>Confluent.Kafka's transactional producer commits and aborts; Kiel's read_committed consumer reads exactly the committed records.</summary>
    [Fact]
    public async Task Kiel_read_committed_reads_exactly_what_Confluent_committed()
    {
        await using var cluster = await TransactionCluster.StartAsync();
        var topic = Topic("txn-c2k");
        cluster.Cluster.CreateTopic(topic, 1);
        var committed = new List<string>();
        using (var producer = ConfluentClients.Producer(cluster.Bootstrap, c => c.TransactionalId = "txn-c2k"))
        {
            producer.InitTransactions(TimeSpan.FromSeconds(20));
            for (var t = 0; t < 20; t++)
            {
                var commit = t % 3 != 0;
                producer.BeginTransaction();
                var offsets = new List<long>();
                for (var i = 0; i < 5; i++)
                    offsets.Add((await producer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, 0),
                        new Message<string, string> { Key = $"k{t}", Value = $"{(commit ? "c" : "a")}-{t}-{i}" })).Offset.Value);
                if (commit)
                {
                    producer.CommitTransaction(TimeSpan.FromSeconds(20));
                    committed.AddRange(Enumerable.Range(0, 5).Select(i => $"c-{t}-{i}"));
                }
                else
                {
                    producer.AbortTransaction(TimeSpan.FromSeconds(20));
                    cluster.Injector.AddAborted(topic, 0, offsets.Min(), offsets.Max() + 1);
                }
            }
        }
        await using var reader = TransactionKit.ReadCommitted(cluster.ProxyBootstrap);
        await reader.AssignTopicAsync(topic, StartPosition.Beginning);
        Assert.Equal(committed, (await ConsumingHelpers.ReadAsync(reader, committed.Count)).Select(r => r.Value!).ToList());
    }
}
