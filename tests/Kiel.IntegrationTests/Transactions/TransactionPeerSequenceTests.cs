using Confluent.Kafka;
using Kiel.IntegrationTests.Capture;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;
using System.Globalization;
using Kiel.IntegrationTests.Consuming;
using Kiel.Consuming;

namespace Kiel.IntegrationTests.Transactions;

/// <summary>
/// Peer proof for the transactional producer: Confluent.Kafka (librdkafka 2.16) and Kiel run the same transaction
/// (init, two records on two partitions, flush, the input offset of a Kafka group member, commit) on the same embedded
/// cluster, each through its own recording proxy. The order is compared with the mock's request tracking (API keys
/// only), and the content field by field from the frames decoded with Kiel's generated messages: InitProducerId
/// (transactional id, timeout, producer id and epoch asked for), AddPartitionsToTxn (one request per coordinator with
/// every new partition), Produce (transactional id, acks, each batch's producer id, epoch, sequence and transactional
/// bit), AddOffsetsToTxn (group), TxnOffsetCommit (group, the member's generation and member id, no instance id,
/// offset, leader epoch, metadata) and EndTxn. Confluent's transactional frames are also written as fixtures
/// (<c>KIEL_WRITE_FIXTURES</c>) for the byte-level tests in Kiel.Tests.
/// </summary>
public sealed class TransactionPeerSequenceTests
{
    private static readonly short[] Transactional = [22, 24, 0, 25, 28, 26];

    [Fact]
    public async Task Kiel_sends_the_transactional_requests_Confluent_sends_in_the_same_order_and_with_the_same_content()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        // The proxies rewrite Metadata with the generated MetadataResponse, which stops at v12 (librdkafka asks for v13).
        cluster.SetApiVersion(KafkaApiKeys.Metadata, 0, 12);
        cluster.SetInitialRebalanceDelay(0);
        var topic = KafkaClusterFixture.UniqueTopic("txn-seq");
        var input = KafkaClusterFixture.UniqueTopic("txn-in");
        cluster.CreateTopic(topic, 2);
        cluster.CreateTopic(input, 1);
        await using (var seed = new KielProducer<string, string>(new KielProducerOptions { BootstrapServers = cluster.BootstrapServers }))
            await seed.ProduceAsync(input, "k", "input", partition: 0);

        List<short> Order()
        {
            var keys = new List<short>();
            foreach (var r in cluster.GetRequests())
                if (Transactional.Contains(r.ApiKey) && (keys.Count == 0 || keys[^1] != r.ApiKey)) keys.Add(r.ApiKey);
            return keys;
        }

        // Both clients linger 1 s (the flush ends it), so that the two records' batches are ready together even on a busy
        // machine and Kiel's "one AddPartitionsToTxn for every partition that waits" shows in one request. librdkafka
        // registers partitions on its own timer, so its AddPartitionsToTxn requests in a row are compared as one.
        // Confluent.Kafka: a group member reads the input record, a transactional producer sends two records and the offset.
        await using var confluentProxy = RecordingProxy.Start(cluster.BootstrapServers);
        cluster.StartRequestTracking();
        Member confluentMember = null!;
        await Task.Run(() =>
        {
            using var consumer = ConfluentClients.Consumer(confluentProxy.BootstrapServers, "txn-seq-confluent-group");
            consumer.Subscribe(input);
            using (var joined = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
                Assert.Single(ConfluentClients.ConsumeCount(consumer, 1, joined.Token));
            confluentMember = new Member("txn-seq-confluent-group", consumer.MemberId, -1);
            using (var producer = ConfluentClients.Producer(confluentProxy.BootstrapServers, c =>
            {
                c.TransactionalId = "txn-seq";
                c.LingerMs = 1000;
            }))
            {
                producer.InitTransactions(TimeSpan.FromSeconds(30));
                producer.BeginTransaction();
                producer.Produce(new Confluent.Kafka.TopicPartition(topic, 0), new Message<string, string> { Key = "k", Value = "a" });
                producer.Produce(new Confluent.Kafka.TopicPartition(topic, 1), new Message<string, string> { Key = "k", Value = "b" });
                Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));
                producer.SendOffsetsToTransaction([new TopicPartitionOffset(input, 0, 1)], consumer.ConsumerGroupMetadata, TimeSpan.FromSeconds(20));
                producer.CommitTransaction(TimeSpan.FromSeconds(20));
            }
            consumer.Close();
        });
        var confluentOrder = Order();
        cluster.StopRequestTracking();
        cluster.ClearRequests();

        // Kiel: the same with a KielConsumer in a Kafka group and a KielProducer.
        await using var kielProxy = RecordingProxy.Start(cluster.BootstrapServers);
        cluster.StartRequestTracking();
        Member kielMember;
        await using (var consumer = new KielConsumer<string?, string?>(
            Kiel.IntegrationTests.KafkaGroups.KielGroupMember.Options(kielProxy.BootstrapServers, "txn-seq-kiel-group"), Deserializers.Utf8, Deserializers.Utf8))
        {
            consumer.Subscribe([input]);
            Assert.Single(await ConsumingHelpers.ReadAsync(consumer, 1, 60));
            var metadata = consumer.GroupMetadata!;
            kielMember = new Member(metadata.GroupId, metadata.MemberId, metadata.GenerationId);
            await using (var producer = new KielProducer<string, string>(TransactionKit.Producer(kielProxy.BootstrapServers, "txn-seq") with { Linger = TimeSpan.FromSeconds(1) }))
            {
                await producer.InitTransactionsAsync();
                producer.BeginTransaction();
                var a = producer.ProduceAsync(topic, "k", "a", partition: 0);
                var b = producer.ProduceAsync(topic, "k", "b", partition: 1);
                await producer.FlushAsync();
                await a;
                await b;
                await producer.SendOffsetsToTransactionAsync([new(new TopicPartition(input, 0), 1)], metadata);
                await producer.CommitTransactionAsync();
            }
        }
        var kielOrder = Order();
        cluster.StopRequestTracking();

        Assert.Equal(Transactional, confluentOrder);
        Assert.Equal(confluentOrder, kielOrder);
        var (confluent, _) = Describe(confluentProxy.Frames, confluentMember, saveAs: "confluent-2.16-transactions.txt");
        var (kiel, kielAdds) = Describe(kielProxy.Frames, kielMember, saveAs: null);
        Assert.Equal(1, kielAdds);
        Assert.Equal(
        [
            "InitProducerId txn-seq timeout=60000 asked=-1/-1",
            $"AddPartitionsToTxn txn-seq P/0 [{topic}:0,{topic}:1]",
            $"Produce txn-seq acks=-1 [{topic}:0 P/0 seq=0 transactional,{topic}:1 P/0 seq=0 transactional]",
            "AddOffsetsToTxn txn-seq P/0 G",
            $"TxnOffsetCommit txn-seq G P/0 generation=member member=member instance=null [{input}:0=1 epoch=-1 metadata=\"\"]",
            "EndTxn txn-seq P/0 commit",
        ], confluent);
        Assert.Equal(confluent, kiel);
        // Versions differ by design: librdkafka 2.16 caps AddPartitionsToTxn and AddOffsetsToTxn at v0, Kiel takes the
        // highest both sides know; the fields compared above mean the same at each.
    }

    /// <summary>The group member whose metadata went into the transaction (a generation of -1: not known, only checked to be 1 or more).</summary>
    private sealed record Member(string GroupId, string MemberId, int GenerationId);

    /// <summary>
    /// The producer's transactional requests, one line each, with the producer id written P (one id throughout, checked),
    /// the group G (checked against the member), and the member's generation and id written "member" when they match it.
    /// Produce requests that follow each other are one line (a client may split its first batches over requests), and so
    /// are AddPartitionsToTxn requests; how many of those there were is returned beside the lines.
    /// </summary>
    private static (List<string> Lines, int AddPartitionsRequests) Describe(IReadOnlyList<CapturedFrame> frames, Member member, string? saveAs)
    {
        var adds = 0;
        var lines = new List<string>();
        var producerIds = new HashSet<long>();
        var fixture = new List<string>();
        var producePartitions = new List<string>();
        string? produceHead = null;
        void FlushProduce()
        {
            if (produceHead is not null) lines.Add($"{produceHead} [{string.Join(",", producePartitions.Order(StringComparer.Ordinal))}]");
            produceHead = null;
            producePartitions.Clear();
        }
        string Id(long producerId, short epoch)
        {
            producerIds.Add(producerId);
            return $"P/{epoch}";
        }
        var requests = frames.Where(f => f.Direction == FrameDirection.Request && Transactional.Contains((short)f.ApiKey)).ToList();
        foreach (var f in frames.Where(f => Transactional.Contains((short)f.ApiKey) && f.ApiKey != ApiKey.Produce))
            fixture.Add($"{(f.Direction == FrameDirection.Request ? "request" : "response")} {(short)f.ApiKey} {f.ApiVersion} {Convert.ToHexString(f.Frame)}");
        foreach (var f in requests)
        {
            var reader = new KafkaReader(f.Frame.AsMemory());
            KafkaHeaders.ReadRequestHeader(ref reader);
            if (f.ApiKey != ApiKey.Produce) FlushProduce();
            switch (f.ApiKey)
            {
                case ApiKey.InitProducerId:
                {
                    var r = InitProducerIdRequest.Read(ref reader, f.ApiVersion);
                    lines.Add($"InitProducerId {r.TransactionalId} timeout={r.TransactionTimeoutMs} asked={r.ProducerId}/{r.ProducerEpoch}");
                    break;
                }
                case ApiKey.AddPartitionsToTxn:
                {
                    var r = AddPartitionsToTxnRequest.Read(ref reader, f.ApiVersion);
                    adds++;
                    var head = $"AddPartitionsToTxn {r.V3AndBelowTransactionalId} {Id(r.V3AndBelowProducerId, r.V3AndBelowProducerEpoch)}";
                    var partitions = r.V3AndBelowTopics.SelectMany(t => t.Partitions.Select(p => $"{t.Name}:{p}")).ToList();
                    // Requests in a row are one line: the partitions of all of them.
                    if (lines.Count > 0 && lines[^1].StartsWith(head + " [", StringComparison.Ordinal))
                    {
                        partitions.AddRange(lines[^1][(head.Length + 2)..^1].Split(','));
                        lines.RemoveAt(lines.Count - 1);
                    }
                    lines.Add($"{head} [{string.Join(",", partitions.Order(StringComparer.Ordinal))}]");
                    break;
                }
                case ApiKey.Produce:
                {
                    var r = ProduceRequest.Read(ref reader, f.ApiVersion);
                    produceHead ??= $"Produce {r.TransactionalId} acks={r.Acks}";
                    foreach (var t in r.TopicData)
                        foreach (var p in t.PartitionData)
                        {
                            using var records = new Kiel.Protocol.Records.RecordSetReader(p.Records!.Value.Span);
                            while (records.MoveNextBatch())
                            {
                                var batch = records.CurrentBatch;
                                producePartitions.Add($"{t.Name}:{p.Index} {Id(batch.ProducerId, batch.ProducerEpoch)} seq={batch.BaseSequence}" +
                                    (batch.IsTransactional ? " transactional" : " NOT transactional"));
                            }
                        }
                    break;
                }
                case ApiKey.AddOffsetsToTxn:
                {
                    var r = AddOffsetsToTxnRequest.Read(ref reader, f.ApiVersion);
                    Assert.Equal(member.GroupId, r.GroupId);
                    lines.Add($"AddOffsetsToTxn {r.TransactionalId} {Id(r.ProducerId, r.ProducerEpoch)} G");
                    break;
                }
                case ApiKey.TxnOffsetCommit:
                {
                    var r = TxnOffsetCommitRequest.Read(ref reader, f.ApiVersion);
                    Assert.True(f.ApiVersion >= 3, $"TxnOffsetCommit v{f.ApiVersion} carries no group member metadata");
                    Assert.Equal(member.GroupId, r.GroupId);
                    var generation = member.GenerationId == -1 ? (r.GenerationId >= 1 ? "member" : r.GenerationId.ToString(CultureInfo.InvariantCulture))
                        : r.GenerationId == member.GenerationId ? "member" : r.GenerationId.ToString(CultureInfo.InvariantCulture);
                    var memberId = r.MemberId == member.MemberId && r.MemberId.Length > 0 ? "member" : $"'{r.MemberId}'";
                    var offsets = r.Topics.SelectMany(t => t.Partitions.Select(p =>
                        $"{t.Name}:{p.PartitionIndex}={p.CommittedOffset} epoch={p.CommittedLeaderEpoch} metadata={(p.CommittedMetadata is null ? "null" : $"\"{p.CommittedMetadata}\"")}"));
                    lines.Add($"TxnOffsetCommit {r.TransactionalId} G {Id(r.ProducerId, r.ProducerEpoch)} generation={generation} member={memberId} " +
                        $"instance={r.GroupInstanceId ?? "null"} [{string.Join(",", offsets)}]");
                    break;
                }
                case ApiKey.EndTxn:
                {
                    var r = EndTxnRequest.Read(ref reader, f.ApiVersion);
                    lines.Add($"EndTxn {r.TransactionalId} {Id(r.ProducerId, r.ProducerEpoch)} {(r.Committed ? "commit" : "abort")}");
                    break;
                }
            }
        }
        FlushProduce();
        Assert.True(producerIds.Count == 1, $"producer ids {string.Join(",", producerIds)}");
        if (saveAs is not null) CaptureScenario.MaybeSaveFixture(saveAs, System.Text.Encoding.ASCII.GetBytes(string.Join("\n", fixture) + "\n"));
        return (lines, adds);
    }
}
