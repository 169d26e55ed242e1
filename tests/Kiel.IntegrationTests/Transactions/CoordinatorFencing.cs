using System.Buffers.Binary;
using System.Collections.Concurrent;
using Kiel.IntegrationTests.Capture;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using static Kiel.IntegrationTests.Capture.HookFrames;

namespace Kiel.IntegrationTests.Transactions;

/// <summary>
/// What a real transaction coordinator does and the librdkafka mock does not, as a <see cref="RecordingProxy.RequestHook"/>:
/// per transactional id it keeps the latest (producer id, epoch) from the InitProducerId responses and answers any later
/// Produce (transactional batches), AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit or EndTxn of an older one with
/// PRODUCER_FENCED (INVALID_PRODUCER_EPOCH where the version predates PRODUCER_FENCED, and on Produce, as a partition
/// leader does) without forwarding it. An InitProducerId for a transactional id whose previous instance left a
/// transaction open (partitions or offsets added, no EndTxn since) first ends that transaction with EndTxn(abort) on the
/// old instance's behalf, so the mock writes the ABORT markers, then goes to the broker; the aborted transaction's
/// batches (read off the proxy's captured Produce requests and responses) are handed to the
/// <see cref="AbortedTransactionsInjector"/>, so Fetch responses list them as a real broker's would.
/// </summary>
internal sealed class CoordinatorFencing
{
    private const short ProducerFenced = 90, InvalidProducerEpoch = 47;
    private readonly RecordingProxy _proxy;
    private readonly AbortedTransactionsInjector _injector;
    private readonly ConcurrentDictionary<string, Instance> _latest = new();
    private readonly SemaphoreSlim _init = new(1, 1);
    private int _aborts;

    private sealed class Instance(long producerId, short epoch)
    {
        public long ProducerId { get; } = producerId;
        public short Epoch { get; } = epoch;
        public volatile bool Open;
    }

    public CoordinatorFencing(RecordingProxy proxy, AbortedTransactionsInjector injector)
    {
        _proxy = proxy;
        _injector = injector;
    }

    /// <summary>The requests answered as fenced: API key, transactional id, the error code sent.</summary>
    public ConcurrentQueue<(ApiKey Key, string TransactionalId, short Error)> Fenced { get; } = new();

    /// <summary>Open transactions aborted on a dead instance's behalf.</summary>
    public int Aborts => Volatile.Read(ref _aborts);

    /// <summary>The latest (producer id, epoch) of a transactional id, if an InitProducerId for it succeeded.</summary>
    public (long ProducerId, short Epoch)? Latest(string transactionalId) =>
        _latest.TryGetValue(transactionalId, out var i) ? (i.ProducerId, i.Epoch) : null;

    public async Task<byte[]?> HookAsync(ApiKey key, short version, byte[] frame, CancellationToken ct)
    {
        switch (key)
        {
            case ApiKey.InitProducerId: return await InitAsync(version, frame, ct);
            case ApiKey.Produce:
            {
                var (header, r) = Read(frame, static (ref KafkaReader x, short v) => ProduceRequest.Read(ref x, v), version);
                if (r.TransactionalId is not { } id) return null;
                foreach (var t in r.TopicData)
                    foreach (var p in t.PartitionData)
                        if (p.Records is { Length: >= 61 } records && (BinaryPrimitives.ReadInt16BigEndian(records.Span[21..]) & 0x10) != 0
                            && IsOld(id, BinaryPrimitives.ReadInt64BigEndian(records.Span[43..]), BinaryPrimitives.ReadInt16BigEndian(records.Span[51..])))
                        {
                            // A partition leader knows no fencing: an older epoch is INVALID_PRODUCER_EPOCH there.
                            var response = new ProduceResponse();
                            foreach (var topic in r.TopicData)
                                response.Responses.Add(new ProduceResponse.TopicProduceResponse
                                {
                                    Name = topic.Name,
                                    PartitionResponses = [.. topic.PartitionData.Select(x => new ProduceResponse.PartitionProduceResponse { Index = x.Index, ErrorCode = InvalidProducerEpoch, BaseOffset = -1 })],
                                });
                            return Answer(key, version, header, id, InvalidProducerEpoch, response.Write);
                        }
                return null;
            }
            case ApiKey.AddPartitionsToTxn:
            {
                var (header, r) = Read(frame, static (ref KafkaReader x, short v) => AddPartitionsToTxnRequest.Read(ref x, v), version);
                if (version >= 4) return null; // batched (broker-to-broker) form: not a client's
                var error = version >= 2 ? ProducerFenced : InvalidProducerEpoch;
                if (IsOld(r.V3AndBelowTransactionalId, r.V3AndBelowProducerId, r.V3AndBelowProducerEpoch))
                {
                    var response = new AddPartitionsToTxnResponse();
                    foreach (var t in r.V3AndBelowTopics)
                        response.ResultsByTopicV3AndBelow.Add(new AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult
                        {
                            Name = t.Name,
                            ResultsByPartition = [.. t.Partitions.Select(p => new AddPartitionsToTxnResponse.AddPartitionsToTxnPartitionResult { PartitionIndex = p, PartitionErrorCode = error })],
                        });
                    return Answer(key, version, header, r.V3AndBelowTransactionalId, error, response.Write);
                }
                MarkOpen(r.V3AndBelowTransactionalId, r.V3AndBelowProducerId, r.V3AndBelowProducerEpoch);
                return null;
            }
            case ApiKey.AddOffsetsToTxn:
            {
                var (header, r) = Read(frame, static (ref KafkaReader x, short v) => AddOffsetsToTxnRequest.Read(ref x, v), version);
                var error = version >= 2 ? ProducerFenced : InvalidProducerEpoch;
                if (IsOld(r.TransactionalId, r.ProducerId, r.ProducerEpoch))
                    return Answer(key, version, header, r.TransactionalId, error, new AddOffsetsToTxnResponse { ErrorCode = error }.Write);
                MarkOpen(r.TransactionalId, r.ProducerId, r.ProducerEpoch);
                return null;
            }
            case ApiKey.TxnOffsetCommit:
            {
                var (header, r) = Read(frame, static (ref KafkaReader x, short v) => TxnOffsetCommitRequest.Read(ref x, v), version);
                var error = version >= 3 ? ProducerFenced : InvalidProducerEpoch;
                if (!IsOld(r.TransactionalId, r.ProducerId, r.ProducerEpoch)) return null;
                var response = new TxnOffsetCommitResponse();
                foreach (var t in r.Topics)
                    response.Topics.Add(new TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic
                    {
                        Name = t.Name,
                        Partitions = [.. t.Partitions.Select(p => new TxnOffsetCommitResponse.TxnOffsetCommitResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = error })],
                    });
                return Answer(key, version, header, r.TransactionalId, error, response.Write);
            }
            case ApiKey.EndTxn:
            {
                var (header, r) = Read(frame, static (ref KafkaReader x, short v) => EndTxnRequest.Read(ref x, v), version);
                var error = version >= 2 ? ProducerFenced : InvalidProducerEpoch;
                if (IsOld(r.TransactionalId, r.ProducerId, r.ProducerEpoch))
                    return Answer(key, version, header, r.TransactionalId, error, new EndTxnResponse { ErrorCode = error }.Write);
                if (_latest.TryGetValue(r.TransactionalId, out var current)) current.Open = false;
                return null;
            }
            default: return null;
        }
    }

    private async Task<byte[]?> InitAsync(short version, byte[] frame, CancellationToken ct)
    {
        var (_, r) = Read(frame, static (ref KafkaReader x, short v) => InitProducerIdRequest.Read(ref x, v), version);
        if (r.TransactionalId is not { } id) return null;
        await _init.WaitAsync(ct);
        try
        {
            if (_latest.TryGetValue(id, out var previous) && previous.Open)
            {
                // The coordinator aborts the previous instance's open transaction before it answers the new one.
                const short EndTxnVersion = 1;
                var abort = new EndTxnRequest { TransactionalId = id, ProducerId = previous.ProducerId, ProducerEpoch = previous.Epoch, Committed = false };
                var reply = await _proxy.RoundTripAsync(Frame((ref KafkaWriter w) =>
                {
                    KafkaHeaders.WriteRequestHeader(ref w, ApiKey.EndTxn, EndTxnVersion, int.MaxValue, "kiel-test-coordinator");
                    abort.Write(ref w, EndTxnVersion);
                }), ct);
                var reader = new KafkaReader(reply.AsMemory());
                KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.EndTxn, EndTxnVersion);
                var ended = EndTxnResponse.Read(ref reader, EndTxnVersion);
                if (ended.ErrorCode != 0) throw new InvalidOperationException($"EndTxn(abort) for {id} on the old instance's behalf failed: error {ended.ErrorCode}");
                previous.Open = false;
                Interlocked.Increment(ref _aborts);
                foreach (var (topic, partition, baseOffset) in OpenBatches(previous))
                    _injector.AbortedBatches[(topic, partition, baseOffset)] = previous.ProducerId;
            }
            var response = await _proxy.RoundTripAsync(frame, ct);
            var rr = new KafkaReader(response.AsMemory());
            KafkaHeaders.ReadResponseHeader(ref rr, ApiKey.InitProducerId, version);
            var init = InitProducerIdResponse.Read(ref rr, version);
            if (init.ErrorCode == 0) _latest[id] = new Instance(init.ProducerId, init.ProducerEpoch);
            return response;
        }
        finally { _init.Release(); }
    }

    /// <summary>
    /// The batches the instance wrote since its last EndTxn: its transactional Produce requests captured after that, with
    /// the base offsets from their responses (same connection and correlation id).
    /// </summary>
    private List<(string Topic, int Partition, long BaseOffset)> OpenBatches(Instance instance)
    {
        var frames = _proxy.Frames;
        var start = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            var f = frames[i];
            if (f.Direction != FrameDirection.Request || f.ApiKey != ApiKey.EndTxn) continue;
            var (_, end) = Read(f.Frame, static (ref KafkaReader x, short v) => EndTxnRequest.Read(ref x, v), f.ApiVersion);
            if (end.ProducerId == instance.ProducerId && end.ProducerEpoch == instance.Epoch) start = i + 1;
        }
        var batches = new List<(string, int, long)>();
        for (var i = start; i < frames.Count; i++)
        {
            var f = frames[i];
            if (f.Direction != FrameDirection.Request || f.ApiKey != ApiKey.Produce) continue;
            var (_, produce) = Read(f.Frame, static (ref KafkaReader x, short v) => ProduceRequest.Read(ref x, v), f.ApiVersion);
            var ours = produce.TopicData.SelectMany(t => t.PartitionData).Any(p => p.Records is { Length: >= 61 } r
                && BinaryPrimitives.ReadInt64BigEndian(r.Span[43..]) == instance.ProducerId && BinaryPrimitives.ReadInt16BigEndian(r.Span[51..]) == instance.Epoch);
            if (!ours) continue;
            var answer = frames.Skip(i + 1).FirstOrDefault(r => r.Direction == FrameDirection.Response && r.Connection == f.Connection && r.CorrelationId == f.CorrelationId);
            if (answer is null) continue;
            var reader = new KafkaReader(answer.Frame.AsMemory());
            KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.Produce, f.ApiVersion);
            foreach (var t in ProduceResponse.Read(ref reader, f.ApiVersion).Responses)
                foreach (var p in t.PartitionResponses)
                    if (p.ErrorCode == 0) batches.Add((t.Name, p.Index, p.BaseOffset));
        }
        return batches;
    }

    private bool IsOld(string transactionalId, long producerId, short epoch) =>
        _latest.TryGetValue(transactionalId, out var current) && (current.ProducerId != producerId || current.Epoch != epoch);

    private void MarkOpen(string transactionalId, long producerId, short epoch)
    {
        if (_latest.TryGetValue(transactionalId, out var current) && current.ProducerId == producerId && current.Epoch == epoch) current.Open = true;
    }

    private byte[] Answer(ApiKey key, short version, int correlationId, string transactionalId, short error, WriteBody write)
    {
        Fenced.Enqueue((key, transactionalId, error));
        return Response(key, version, correlationId, write);
    }
}
