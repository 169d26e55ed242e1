using System.Collections.Concurrent;
using Kiel.Producing;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Tests.Network;

namespace Kiel.Tests.Producing;

/// <summary>
/// KIP-360 on the wire, against a scripted broker that is also the transaction coordinator: a transaction whose producer
/// id the partition leader lost (UNKNOWN_PRODUCER_ID on Produce) must be aborted, and the abort is followed by an
/// InitProducerId that asks to bump the current producer id and epoch where the broker knows how (InitProducerId v3+),
/// or by a plain InitProducerId where it does not (v0–v2: the coordinator gives the transactional id a new epoch).
/// The next transaction then runs under the new epoch with sequences from 0.
/// </summary>
public sealed class TransactionEpochBumpTests
{
    [Theory]
    [InlineData((short)4, true)]
    [InlineData((short)3, true)]
    [InlineData((short)2, false)]
    public async Task A_lost_producer_id_is_aborted_then_the_epoch_is_bumped_with_the_current_id_where_the_broker_supports_it(short initMax, bool kip360)
    {
        var inits = new ConcurrentQueue<(short Version, long ProducerId, short Epoch)>();
        var produced = new ConcurrentQueue<(long ProducerId, short Epoch, int Sequence, bool Transactional)>();
        var ended = new ConcurrentQueue<(long ProducerId, short Epoch, bool Commit)>();
        var unexpected = new ConcurrentQueue<string>();
        var gate = new object();
        short epoch = -1;
        var produceCalls = 0;
        ScriptedBroker? self = null;
        await using var broker = self = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync([(0, 3, 8), (3, 0, 8), (10, 0, 2), (22, 0, initMax), (24, 0, 1), (26, 0, 1)]) is null) return;
            while (await c.ReadRequestAsync() is { } r)
            {
                var reader = new KafkaReader(r.Body.ToArray().AsMemory());
                var key = (ApiKey)r.ApiKey;
                IKafkaMessage response;
                switch (key)
                {
                    case ApiKey.Metadata:
                        response = new MetadataResponse
                        {
                            ClusterId = "scripted",
                            ControllerId = 1,
                            Brokers = [new MetadataResponse.MetadataResponseBroker { NodeId = 1, Host = "127.0.0.1", Port = self!.Port }],
                            Topics = [new MetadataResponse.MetadataResponseTopic
                            {
                                Name = "t",
                                Partitions = [new MetadataResponse.MetadataResponsePartition { PartitionIndex = 0, LeaderId = 1, ReplicaNodes = [1], IsrNodes = [1] }],
                            }],
                        };
                        break;
                    case ApiKey.FindCoordinator:
                        response = new FindCoordinatorResponse { NodeId = 1, Host = "127.0.0.1", Port = self!.Port };
                        break;
                    case ApiKey.InitProducerId:
                    {
                        var request = InitProducerIdRequest.Read(ref reader, r.Version);
                        Assert.Equal("tx-bump", request.TransactionalId);
                        inits.Enqueue((r.Version, request.ProducerId, request.ProducerEpoch));
                        lock (gate) epoch++;
                        response = new InitProducerIdResponse { ProducerId = 7, ProducerEpoch = epoch };
                        break;
                    }
                    case ApiKey.AddPartitionsToTxn:
                    {
                        var request = AddPartitionsToTxnRequest.Read(ref reader, r.Version);
                        response = new AddPartitionsToTxnResponse
                        {
                            ResultsByTopicV3AndBelow = [.. request.V3AndBelowTopics.Select(t => new AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult
                            {
                                Name = t.Name,
                                ResultsByPartition = [.. t.Partitions.Select(p => new AddPartitionsToTxnResponse.AddPartitionsToTxnPartitionResult { PartitionIndex = p })],
                            })],
                        };
                        break;
                    }
                    case ApiKey.Produce:
                    {
                        var request = ProduceRequest.Read(ref reader, r.Version);
                        var partition = request.TopicData[0].PartitionData[0];
                        using (var records = new Kiel.Protocol.Records.RecordSetReader(partition.Records!.Value.Span))
                            while (records.MoveNextBatch())
                                produced.Enqueue((records.CurrentBatch.ProducerId, records.CurrentBatch.ProducerEpoch, records.CurrentBatch.BaseSequence, records.CurrentBatch.IsTransactional));
                        // The first batch: the leader has lost the producer id.
                        var code = Interlocked.Increment(ref produceCalls) == 1 ? (short)ErrorCode.UnknownProducerId : (short)0;
                        response = new ProduceResponse
                        {
                            Responses = [new ProduceResponse.TopicProduceResponse
                            {
                                Name = "t",
                                PartitionResponses = [new ProduceResponse.PartitionProduceResponse { Index = 0, ErrorCode = code, BaseOffset = code == 0 ? 10 : -1 }],
                            }],
                        };
                        break;
                    }
                    case ApiKey.EndTxn:
                    {
                        var request = EndTxnRequest.Read(ref reader, r.Version);
                        ended.Enqueue((request.ProducerId, request.ProducerEpoch, request.Committed));
                        response = new EndTxnResponse();
                        break;
                    }
                    default:
                        unexpected.Enqueue($"{key} v{r.Version}");
                        return;
                }
                await c.RespondAsync(r.CorrelationId, MessageBytes.Encode(response, r.Version), headerV1: ApiKeys.ResponseHeaderVersion(key, r.Version) >= 1);
            }
        });

        await using var producer = new KielProducer<string, string>(new KielProducerOptions
        {
            BootstrapServers = $"127.0.0.1:{broker.Port}",
            TransactionalId = "tx-bump",
            Linger = TimeSpan.FromMilliseconds(1),
            RetryBackoff = TimeSpan.FromMilliseconds(20),
            RequestTimeout = TimeSpan.FromSeconds(10),
            DeliveryTimeout = TimeSpan.FromSeconds(20),
            CloseTimeout = TimeSpan.FromSeconds(5),
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await producer.InitTransactionsAsync(cts.Token);

        producer.BeginTransaction();
        var lost = await Assert.ThrowsAnyAsync<ProduceException>(async () => await producer.ProduceAsync("t", null, "lost", partition: 0, cancellationToken: cts.Token));
        Assert.Equal((short)ErrorCode.UnknownProducerId, lost.ErrorCode);
        var commit = await Assert.ThrowsAsync<TransactionException>(() => producer.CommitTransactionAsync(cts.Token));
        Assert.True(commit.RequiresAbort, commit.Message);
        await producer.AbortTransactionAsync(cts.Token);

        producer.BeginTransaction();
        var report = await producer.ProduceAsync("t", null, "next", partition: 0, cancellationToken: cts.Token);
        Assert.Equal(10, report.Offset);
        await producer.CommitTransactionAsync(cts.Token);

        Assert.Empty(unexpected);
        var calls = inits.ToList();
        Assert.Equal(2, calls.Count);
        Assert.Equal((-1L, (short)-1), (calls[0].ProducerId, calls[0].Epoch));
        Assert.All(calls, call => Assert.Equal(initMax, call.Version));
        // KIP-360: the bump names the id and epoch it replaces, so a coordinator can tell it from a new instance.
        Assert.Equal(kip360 ? (7L, (short)0) : (-1L, (short)-1), (calls[1].ProducerId, calls[1].Epoch));
        Assert.Equal([(7L, (short)0, 0, true), (7L, (short)1, 0, true)], produced.ToList());
        Assert.Equal([(7L, (short)0, false), (7L, (short)1, true)], ended.ToList());
    }
}
