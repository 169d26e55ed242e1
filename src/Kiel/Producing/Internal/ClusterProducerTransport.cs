using Kiel.Cluster;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Producing.Internal;

/// <summary>
/// The producer's transport over the shared <see cref="KafkaCluster"/>: its metadata cache (coalesced refreshes,
/// re-bootstrap), and its produce connection per broker (reconnect backoff, negotiated versions).
/// </summary>
internal sealed partial class ClusterProducerTransport : IProducerTransport, ITransactionTransport
{
    private readonly KafkaCluster _cluster;
    private readonly Lock _startLock = new();
    private Task? _started;

    public ClusterProducerTransport(KielProducerOptions options)
    {
        _cluster = new KafkaCluster(new ClusterOptions(options.BootstrapServerList)
        {
            ClientId = options.ClientId,
            BrokerVersionFallback = options.BrokerVersionFallback,
            TimeProvider = options.TimeProvider,
            RequestTimeout = options.RequestTimeout,
            MaxInFlight = options.MaxInFlight,
            LoggerFactory = options.LoggerFactory,
            Security = options.CreateConnectionSecurity(),
            // A producer never creates topics as a side effect of asking for them.
            AllowAutoTopicCreation = false,
        });
    }

    /// <summary>
    /// The cluster's bootstrap, started on first use. A bootstrap that failed (every bootstrap address unreachable or
    /// dropping its Metadata request, e.g. during an outage) is started again by the next caller instead of being
    /// kept: the producer's metadata and producer-id loops retry with their own backoff, and must be able to succeed
    /// once a broker answers.
    /// </summary>
    private Task Started()
    {
        lock (_startLock)
        {
            if (_started is null || _started.IsFaulted || _started.IsCanceled)
            {
                _started = _cluster.StartAsync();
                // Callers wait with their own tokens and may all give up before a failed bootstrap ends: observed
                // here, its failure never surfaces as an unobserved task exception (the next caller starts again).
                _started.ObserveFailure();
            }

            return _started;
        }
    }

    /// <summary>The latest bootstrap started, finished or not (tests wait on it without observing its outcome).</summary>
    internal Task? LatestStart
    {
        get
        {
            lock (_startLock) return _started;
        }
    }

    public async ValueTask<TopicLayout> GetTopicAsync(string topic, bool refresh, CancellationToken cancellationToken)
    {
        await Started().WaitAsync(cancellationToken).ConfigureAwait(false);
        var snapshot = refresh
            ? await _cluster.RefreshMetadataAsync([topic], cancellationToken).ConfigureAwait(false)
            : await _cluster.EnsureTopicsAsync([topic], cancellationToken).ConfigureAwait(false);
        if (!snapshot.TryGetTopic(topic, out var t)) return new TopicLayout(topic, [], (short)Kiel.ErrorCode.UnknownTopicOrPartition);
        if (t.ErrorCode != 0) return new TopicLayout(topic, [], t.ErrorCode);
        var count = t.Partitions.Count == 0 ? 0 : t.Partitions.Max(p => p.Partition) + 1;
        var leaders = new int[count];
        Array.Fill(leaders, -1);
        foreach (var p in t.Partitions) leaders[p.Partition] = p.LeaderId;
        return new TopicLayout(topic, leaders);
    }

    private async ValueTask<BrokerConnection> ConnectionAsync(int brokerId, CancellationToken cancellationToken)
    {
        await Started().WaitAsync(cancellationToken).ConfigureAwait(false);
        return await _cluster.GetConnectionAsync(brokerId, ConnectionPurpose.Produce, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<byte> GetRecordMagicAsync(int brokerId, CancellationToken cancellationToken)
    {
        var connection = await ConnectionAsync(brokerId, cancellationToken).ConfigureAwait(false);
        return ProduceWire.Magic(connection.Versions.Choose(ApiKey.Produce));
    }

    /// <summary>Started, connected and versions known: a call goes straight to the connection while it has a free slot.</summary>
    public int OrderedSendCapacity(int brokerId) =>
        _started is { IsCompletedSuccessfully: true } && _cluster.TryGetOpenConnection(brokerId, ConnectionPurpose.Produce, out var connection)
            ? connection.FreeRequestSlots : 0;

    /// <summary>Every wait here (start, connection, metadata, the request itself) ends at its token.</summary>
    public bool HonoursCancellation => true;

    /// <summary>
    /// Sends one Produce call. With the connection open it goes straight to <see cref="ProduceWire.SendAsync"/>, without
    /// a state machine of its own here (the pool of pooled boxes misses often when requests complete on other threads).
    /// </summary>
    public ValueTask<ProduceResult> ProduceAsync(int brokerId, ProduceCall call, CancellationToken cancellationToken) =>
        _started is { IsCompletedSuccessfully: true } && _cluster.TryGetOpenConnection(brokerId, ConnectionPurpose.Produce, out var connection)
            ? ProduceWire.SendAsync(connection, call, cancellationToken)
            : ConnectAndProduceAsync(brokerId, call, cancellationToken);

    private async ValueTask<ProduceResult> ConnectAndProduceAsync(int brokerId, ProduceCall call, CancellationToken cancellationToken)
    {
        var connection = await ConnectionAsync(brokerId, cancellationToken).ConfigureAwait(false);
        return await ProduceWire.SendAsync(connection, call, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<ProducerIdentity?> InitProducerIdAsync(ProducerIdentity? current, CancellationToken cancellationToken)
    {
        await Started().WaitAsync(cancellationToken).ConfigureAwait(false);
        var connection = await _cluster.GetAnyConnectionAsync(ConnectionPurpose.Produce, cancellationToken).ConfigureAwait(false);
        return await ProduceWire.InitProducerIdAsync(connection, current, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _cluster.DisposeAsync();
}

/// <summary>Produce and InitProducerId over one connection, shared by the transports.</summary>
internal static class ProduceWire
{
    /// <summary>The record format a Produce version carries: v3+ record batches (magic 2), v2 magic 1, v0–v1 magic 0.</summary>
    public static byte Magic(short produceVersion) => produceVersion >= 3 ? (byte)2 : produceVersion == 2 ? (byte)1 : (byte)0;

    /// <summary>
    /// Sends <paramref name="call"/> and reads its answer. Without a state machine: a reply still to come is awaited by
    /// the call's own reusable <see cref="ProduceCall.Completion"/>.
    /// </summary>
    public static ValueTask<ProduceResult> SendAsync(BrokerConnection connection, ProduceCall call, CancellationToken cancellationToken)
    {
        if (call.Acks == 0) return SendWithoutReplyAsync(connection, call, cancellationToken);
        ValueTask<ResponseFrame> frame;
        ProduceRequest request;
        try
        {
            var version = connection.Versions.Choose(ApiKey.Produce);
            request = BuildRequest(call, version);
            frame = connection.SendRawAsync(request, version, cancellationToken, writeInline: call.WriteInline);
        }
        catch (Exception e)
        {
            return ValueTask.FromException<ProduceResult>(e);
        }
        if (!frame.IsCompleted) return call.Completion.Await(frame, call, request);
        try
        {
            return new ValueTask<ProduceResult>(ReadResult(call, request, frame.GetAwaiter().GetResult()));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<ProduceResult>(e);
        }
    }

    private static async ValueTask<ProduceResult> SendWithoutReplyAsync(BrokerConnection connection, ProduceCall call, CancellationToken cancellationToken)
    {
        var version = connection.Versions.Choose(ApiKey.Produce);
        var request = BuildRequest(call, version);
        // The connection drops the reply the librdkafka mock sends anyway.
        await connection.SendWithoutReplyAsync(request, version, cancellationToken).ConfigureAwait(false);
        return ProduceResult.NoResponse;
    }

    /// <summary>Reads the answer to <paramref name="request"/> into the call's result, which is reused: the engine has
    /// read it before it sends the same call again. The result keeps nothing of the frame, which is recycled (read or
    /// not): the caller must not touch it afterwards.</summary>
    internal static ProduceResult ReadResult(ProduceCall call, ProduceRequest request, ResponseFrame frame)
    {
        try
        {
            var result = call.Result ??= new ProduceResult(new List<ProducePartitionResult>(call.Partitions.Count));
            ReadAnswer(frame.Body.Span, frame.Version, request, result.Partitions);
            return result;
        }
        finally
        {
            frame.Recycle();
        }
    }

    /// <summary>
    /// Decodes a ProduceResponse body straight into <paramref name="results"/>, without the generated message's object
    /// tree (an awaited record is one request, so every object of the answer would be one per record): topic names are
    /// the request's own strings when the bytes match, and error messages are made only when present. As strict as the
    /// generated <see cref="ProduceResponse"/> decoder (the same lengths, counts and known tagged fields are checked);
    /// malformed input throws <see cref="KafkaProtocolException"/>.
    /// </summary>
    internal static void ReadAnswer(ReadOnlySpan<byte> body, short version, ProduceRequest request, List<ProducePartitionResult> results)
    {
        results.Clear();
        var reader = new KafkaReader(body, "ProduceResponse", version);
        if (version < 0 || version > 11) ProtocolSupport.FailVersion(ref reader, 0, 11);
        var flexible = version >= 9;
        reader.Field = "Responses";
        var topics = reader.ReadArrayLength(flexible, 3);
        if (topics < 0) reader.Fail("null array where the field is not nullable");
        var cursor = 0;
        for (var t = 0; t < topics; t++)
        {
            reader.Field = "TopicProduceResponse.Name";
            var name = KnownNames.Find(reader.ReadStringBytes(flexible), new RequestTopics(request), ref cursor);
            reader.Field = "TopicProduceResponse.PartitionResponses";
            var partitions = reader.ReadArrayLength(flexible, 14);
            if (partitions < 0) reader.Fail("null array where the field is not nullable");
            for (var p = 0; p < partitions; p++)
            {
                reader.Field = "PartitionProduceResponse.Index";
                var index = reader.ReadInt32();
                reader.Field = "PartitionProduceResponse.ErrorCode";
                var errorCode = reader.ReadInt16();
                reader.Field = "PartitionProduceResponse.BaseOffset";
                var baseOffset = reader.ReadInt64();
                var logAppendTime = -1L;
                if (version >= 2) { reader.Field = "PartitionProduceResponse.LogAppendTimeMs"; logAppendTime = reader.ReadInt64(); }
                if (version >= 5) { reader.Field = "PartitionProduceResponse.LogStartOffset"; reader.ReadInt64(); }
                string? errorMessage = null;
                if (version >= 8)
                {
                    reader.Field = "PartitionProduceResponse.RecordErrors";
                    var recordErrors = reader.ReadArrayLength(flexible, 6);
                    if (recordErrors < 0) reader.Fail("null array where the field is not nullable");
                    for (var e = 0; e < recordErrors; e++)
                    {
                        reader.Field = "BatchIndexAndErrorMessage.BatchIndex";
                        reader.ReadInt32();
                        reader.Field = "BatchIndexAndErrorMessage.BatchIndexErrorMessage";
                        reader.ReadNullableString(flexible);
                        if (flexible) ProtocolSupport.SkipTaggedFields(ref reader);
                    }
                    reader.Field = "PartitionProduceResponse.ErrorMessage";
                    errorMessage = reader.ReadNullableString(flexible);
                }
                if (flexible) SkipPartitionTaggedFields(ref reader, version);
                results.Add(new ProducePartitionResult(name, index, errorCode, baseOffset, logAppendTime, errorMessage));
            }
            if (flexible) ProtocolSupport.SkipTaggedFields(ref reader);
        }
        if (version >= 1) { reader.Field = "ThrottleTimeMs"; reader.ReadInt32(); }
        if (flexible)
        {
            reader.Field = "(tagged fields)";
            var count = reader.ReadTaggedFieldCount();
            for (var i = 0; i < count; i++)
            {
                var tag = reader.ReadUnsignedVarInt();
                var size = ProtocolSupport.ReadTagSize(ref reader);
                if (tag == 0 && version >= 10)
                {
                    // NodeEndpoints: checked as the generated decoder checks it, not used.
                    var tagReader = reader.ReadSlice(size);
                    tagReader.Field = "NodeEndpoints";
                    ProtocolSupport.ReadStructs<ProduceResponse.NodeEndpoint>(ref tagReader, true, false, 11, version);
                    ProtocolSupport.EndTag(ref tagReader);
                }
                else reader.Skip(size);
            }
        }
    }

    /// <summary>Skips a partition's tagged-field section; its CurrentLeader (tag 0, v10+) is checked as the generated decoder checks it.</summary>
    private static void SkipPartitionTaggedFields(ref KafkaReader reader, short version)
    {
        var field = reader.Field;
        reader.Field = "(tagged fields)";
        var count = reader.ReadTaggedFieldCount();
        for (var i = 0; i < count; i++)
        {
            var tag = reader.ReadUnsignedVarInt();
            var size = ProtocolSupport.ReadTagSize(ref reader);
            if (tag == 0 && version >= 10)
            {
                var tagReader = reader.ReadSlice(size);
                tagReader.Field = "PartitionProduceResponse.CurrentLeader";
                ProtocolSupport.ReadStruct<ProduceResponse.LeaderIdAndEpoch>(ref tagReader, version);
                ProtocolSupport.EndTag(ref tagReader);
            }
            else reader.Skip(size);
        }
        reader.Field = field;
    }

    /// <summary>The topic names of a Produce request, for matching its answer's names against.</summary>
    private readonly struct RequestTopics(ProduceRequest request) : IKnownNames
    {
        public int Count => request.TopicData.Count;

        public string this[int index] => request.TopicData[index].Name;
    }

    /// <summary>
    /// The wire request for <paramref name="call"/>, reusing the request, topic and partition objects of the call's
    /// previous exchange (the frame is written before the send returns, so they are free again by the next one).
    /// </summary>
    private static ProduceRequest BuildRequest(ProduceCall call, short version)
    {
        var request = call.Request ??= new ProduceRequest { TopicData = [] };
        request.Acks = call.Acks;
        request.TimeoutMs = call.TimeoutMs;
        request.TransactionalId = version >= 3 ? call.TransactionalId : null;
        foreach (var t in request.TopicData)
        {
            foreach (var p in t.PartitionData)
            {
                p.Records = null;
                call.SpareParts.Push(p);
            }
            t.PartitionData.Clear();
            call.SpareTopics.Push(t);
        }
        request.TopicData.Clear();
        ProduceRequest.TopicProduceData? current = null;
        foreach (var part in call.Partitions)
        {
            if (current is null || current.Name != part.Topic)
            {
                current = null;
                foreach (var t in request.TopicData)
                    if (t.Name == part.Topic) { current = t; break; }
                if (current is null)
                {
                    current = call.SpareTopics.TryPop(out var spare) ? spare : new ProduceRequest.TopicProduceData { PartitionData = [] };
                    current.Name = part.Topic;
                    request.TopicData.Add(current);
                }
            }
            var data = call.SpareParts.TryPop(out var spareData) ? spareData : new ProduceRequest.PartitionProduceData();
            data.Index = part.Partition;
            data.Records = part.Records;
            current.PartitionData.Add(data);
        }
        return request;
    }

    public static async ValueTask<ProducerIdentity?> InitProducerIdAsync(BrokerConnection connection, ProducerIdentity? current, CancellationToken cancellationToken)
    {
        if (!connection.Versions.TryChoose(ApiKey.InitProducerId, out var version)) return null;
        var request = new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = 60_000 };
        if (current is { } c && version >= 3)
        {
            // KIP-360: ask for the next epoch of the same id instead of a new id.
            request.ProducerId = c.ProducerId;
            request.ProducerEpoch = c.Epoch;
        }
        var response = await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
        if (response.ErrorCode != 0)
            throw new ProduceException($"InitProducerId failed: {Kiel.Protocol.ErrorCodes.Info(response.ErrorCode).Name}", response.ErrorCode,
                retriable: Kiel.Cluster.ErrorClassification.IsRetriable((Kiel.ErrorCode)response.ErrorCode));
        return new ProducerIdentity(response.ProducerId, response.ProducerEpoch);
    }
}
