using Confluent.Kafka;
using Kiel.IntegrationTests.Capture;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Transactions;

/// <summary>
/// Peer proof for the transactional producer: Confluent.Kafka (librdkafka 2.16) and Kiel run the same transaction
/// (init, two records on two partitions, flush, input offsets for a group, commit) on the same embedded cluster. The
/// order is compared with the mock's request tracking (which records API keys only): both send InitProducerId,
/// AddPartitionsToTxn, Produce, AddOffsetsToTxn, TxnOffsetCommit, EndTxn. The content is compared with Kiel's requests
/// decoded from a recording proxy: transactional id, timeout, partitions added before their first Produce, the Produce
/// requests' transactional id and batch attribute, one producer id throughout, the group and offsets, and commit.
/// (librdkafka's InitTransactions timed out through the recording proxy, so Confluent's content is checked against
/// the same expected lines only where the tracking shows it: key and order.)
/// </summary>
public sealed class TransactionPeerSequenceTests
{
    [Fact]
    public async Task Kiel_sends_the_transactional_requests_Confluent_sends_in_the_same_order_and_with_the_same_content()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        var topic = KafkaClusterFixture.UniqueTopic("txn-seq");
        var input = KafkaClusterFixture.UniqueTopic("txn-in");
        cluster.CreateTopic(topic, 2);
        cluster.CreateTopic(input, 1);

        short[] transactional = [22, 24, 0, 25, 28, 26];
        List<short> Order()
        {
            var keys = new List<short>();
            foreach (var r in cluster.GetRequests())
                if (transactional.Contains(r.ApiKey) && (keys.Count == 0 || keys[^1] != r.ApiKey)) keys.Add(r.ApiKey);
            return keys;
        }

        cluster.StartRequestTracking();
        using (var producer = ConfluentClients.Producer(cluster.BootstrapServers, c => c.TransactionalId = "txn-seq-confluent"))
        using (var consumer = ConfluentClients.Consumer(cluster.BootstrapServers, "txn-seq-group"))
        {
            producer.InitTransactions(TimeSpan.FromSeconds(20));
            producer.BeginTransaction();
            producer.Produce(new Confluent.Kafka.TopicPartition(topic, 0), new Message<string, string> { Key = "k", Value = "a" });
            producer.Produce(new Confluent.Kafka.TopicPartition(topic, 1), new Message<string, string> { Key = "k", Value = "b" });
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));
            producer.SendOffsetsToTransaction([new TopicPartitionOffset(input, 0, 5)], consumer.ConsumerGroupMetadata, TimeSpan.FromSeconds(20));
            producer.CommitTransaction(TimeSpan.FromSeconds(20));
            consumer.Close();
        }
        var confluentOrder = Order();
        cluster.StopRequestTracking();
        cluster.ClearRequests();

        cluster.StartRequestTracking();
        await using var kielProxy = RecordingProxy.Start(cluster.BootstrapServers);
        await using (var producer = new KielProducer<string, string>(TransactionKit.Producer(kielProxy.BootstrapServers, "txn-seq")))
        {
            await producer.InitTransactionsAsync();
            producer.BeginTransaction();
            var a = producer.ProduceAsync(topic, "k", "a", partition: 0);
            var b = producer.ProduceAsync(topic, "k", "b", partition: 1);
            await producer.FlushAsync();
            await a;
            await b;
            await producer.SendOffsetsToTransactionAsync([new(new TopicPartition(input, 0), 5)], new ConsumerGroupMetadata("txn-seq-group"));
            await producer.CommitTransactionAsync();
        }
        var kielOrder = Order();
        cluster.StopRequestTracking();

        Assert.Equal(transactional, confluentOrder);
        Assert.Equal(confluentOrder, kielOrder);
        var kiel = Describe(kielProxy.Frames);
        Assert.Equal(
        [
            "InitProducerId txn-seq timeout=60000",
            $"AddPartitionsToTxn txn-seq {topic}:0,{topic}:1",
            $"Produce txn-seq {topic}:0,{topic}:1 transactional",
            "AddOffsetsToTxn txn-seq txn-seq-group",
            $"TxnOffsetCommit txn-seq txn-seq-group {input}:0=5",
            "EndTxn txn-seq commit",
            "one producer id",
        ], kiel);
    }

    /// <summary>The transactional requests in order, consecutive AddPartitionsToTxn and Produce requests merged into one line each.</summary>
    private static List<string> Describe(IReadOnlyList<CapturedFrame> frames)
    {
        var lines = new List<string>();
        var producerIds = new HashSet<long>();
        string? mergeKey = null;
        SortedSet<string>? merged = null;
        string mergeTail = "";
        void Flush()
        {
            if (mergeKey is not null) lines.Add($"{mergeKey} {string.Join(",", merged!)}{mergeTail}");
            mergeKey = null;
        }
        void Merge(string key, IEnumerable<string> partitions, string tail)
        {
            if (mergeKey != key || mergeTail != tail) { Flush(); mergeKey = key; mergeTail = tail; merged = new SortedSet<string>(StringComparer.Ordinal); }
            merged!.UnionWith(partitions);
        }
        foreach (var f in frames.Where(f => f.Direction == FrameDirection.Request))
        {
            var reader = new KafkaReader(f.Frame.AsMemory());
            KafkaHeaders.ReadRequestHeader(ref reader);
            switch (f.ApiKey)
            {
                case ApiKey.InitProducerId:
                {
                    var r = InitProducerIdRequest.Read(ref reader, f.ApiVersion);
                    Flush();
                    lines.Add($"InitProducerId {r.TransactionalId} timeout={r.TransactionTimeoutMs}");
                    break;
                }
                case ApiKey.AddPartitionsToTxn:
                {
                    var r = AddPartitionsToTxnRequest.Read(ref reader, f.ApiVersion);
                    producerIds.Add(r.V3AndBelowProducerId);
                    Merge($"AddPartitionsToTxn {r.V3AndBelowTransactionalId}", r.V3AndBelowTopics.SelectMany(t => t.Partitions.Select(p => $"{t.Name}:{p}")), "");
                    break;
                }
                case ApiKey.Produce:
                {
                    var r = ProduceRequest.Read(ref reader, f.ApiVersion);
                    var transactional = true;
                    foreach (var t in r.TopicData)
                        foreach (var p in t.PartitionData)
                        {
                            var records = new Kiel.Protocol.Records.RecordSetReader(p.Records!.Value.Span);
                            while (records.MoveNextBatch())
                            {
                                transactional &= records.CurrentBatch.IsTransactional;
                                producerIds.Add(records.CurrentBatch.ProducerId);
                            }
                        }
                    Merge($"Produce {r.TransactionalId}", r.TopicData.SelectMany(t => t.PartitionData.Select(p => $"{t.Name}:{p.Index}")),
                        transactional ? " transactional" : " NOT transactional");
                    break;
                }
                case ApiKey.AddOffsetsToTxn:
                {
                    var r = AddOffsetsToTxnRequest.Read(ref reader, f.ApiVersion);
                    producerIds.Add(r.ProducerId);
                    Flush();
                    lines.Add($"AddOffsetsToTxn {r.TransactionalId} {r.GroupId}");
                    break;
                }
                case ApiKey.TxnOffsetCommit:
                {
                    var r = TxnOffsetCommitRequest.Read(ref reader, f.ApiVersion);
                    producerIds.Add(r.ProducerId);
                    Flush();
                    lines.Add($"TxnOffsetCommit {r.TransactionalId} {r.GroupId} " +
                        string.Join(",", r.Topics.SelectMany(t => t.Partitions.Select(p => $"{t.Name}:{p.PartitionIndex}={p.CommittedOffset}"))));
                    break;
                }
                case ApiKey.EndTxn:
                {
                    var r = EndTxnRequest.Read(ref reader, f.ApiVersion);
                    producerIds.Add(r.ProducerId);
                    Flush();
                    lines.Add($"EndTxn {r.TransactionalId} {(r.Committed ? "commit" : "abort")}");
                    break;
                }
            }
        }
        Flush();
        lines.Add(producerIds.Count == 1 ? "one producer id" : $"producer ids {string.Join(",", producerIds)}");
        return lines;
    }
}
