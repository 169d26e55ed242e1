using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Protocol.Records;

namespace Kiel.BenchBroker;

/// <summary>
/// A client-bound Kafka broker for benchmarks: one node that leads every partition of every topic, serving ApiVersions,
/// Metadata, InitProducerId, FindCoordinator (itself), ListOffsets, Produce and Fetch. Produce is acknowledged after the batch headers and CRCs
/// are checked (and, when verifying, every record is read and its value added to the topic's checksum); nothing is
/// stored. Fetch never runs dry: every partition holds records 0 to <see cref="HighWatermark"/>, served from one
/// batch encoded at start-up per topic whose base offset is patched per copy (offset o carries value o mod the batch's
/// record count, see <see cref="Payloads"/>). Topics come into being when named (see <see cref="TopicSpec"/>).
/// </summary>
public sealed class BenchBroker : IAsyncDisposable
{
    /// <summary>The log end of every partition, as far as fetchers are concerned.</summary>
    public const long HighWatermark = 1L << 40;

    private const int MaxFrame = 128 * 1024 * 1024;
    private const long BaseTimestamp = 1_764_633_600_000; // 2025-12-02T00:00:00Z

    private static readonly (ApiKey Key, short Min, short Max)[] Served =
    [
        (ApiKey.Produce, 3, 9), (ApiKey.Fetch, 4, 12), (ApiKey.ListOffsets, 1, 7), (ApiKey.Metadata, 1, 12),
        (ApiKey.ApiVersions, 0, 3), (ApiKey.InitProducerId, 0, 4), (ApiKey.FindCoordinator, 0, 3),
    ];

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, Topic> _topics = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accept;
    private readonly bool _verify;
    private long _producerIds = 1000;

    public BenchBroker(int port, bool verify)
    {
        _verify = verify;
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start(512);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accept = AcceptLoopAsync();
    }

    public int Port { get; }

    /// <summary>What was produced to <paramref name="topic"/> so far.</summary>
    public TopicStats Stats(string topic) =>
        _topics.TryGetValue(topic, out var t)
            ? new TopicStats(Interlocked.Read(ref t.Records), Interlocked.Read(ref t.Batches), Interlocked.Read(ref t.Bytes), (ulong)Interlocked.Read(ref t.Checksum), Interlocked.Read(ref t.Errors))
            : new TopicStats(0, 0, 0, 0, 0);

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                socket.NoDelay = true;
                lock (_connections)
                {
                    _connections.RemoveAll(t => t.IsCompleted);
                    _connections.Add(StartServing(socket));
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
        catch (SocketException) { }
    }

    /// <summary>
    /// Serves a connection on a thread of its own with blocking reads and sends. The kernel wakes that thread when a
    /// request arrives; there is no readiness thread to hand the read on and no thread-pool worker to spin for the next
    /// one (with the asynchronous loop it had before, about half the broker's samples in a profile were thread switches
    /// and `sched_yield`, CPU the client beside it on the two cores did not get).
    /// </summary>
    private Task StartServing(Socket socket)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Serve(socket);
            }
            finally
            {
                done.TrySetResult();
            }
        })
        { IsBackground = true, Name = "bench-broker connection" };
        thread.Start();
        return done.Task;
    }

    private void Serve(Socket socket)
    {
        // Answers refer to the fetched records where they lie (segments of the connection's fetch slots) and are sent
        // with gathered sends, as a Kafka broker sends its log with sendfile: the kernel's copy into the socket is the
        // only one (a copy of every batch per fetch and another into the answer made the broker, not the client, the
        // limit of the consume rows).
        var output = new PooledBufferWriter(64 * 1024) { GathersSegments = true };
        var slots = new FetchSlots();
        var pieces = new List<ArraySegment<byte>>();
        var size = new byte[4];
        var frame = new byte[64 * 1024];
        // Stopping the broker closes the connection, which ends a read or a send under way.
        using var stopped = _stop.Token.Register(static s => ((Socket)s!).Dispose(), socket);
        try
        {
            using var network = new NetworkStream(socket, ownsSocket: true);
            using var input = new BufferedStream(network, 64 * 1024);
            while (true)
            {
                if (!ReadExactly(input, size)) return;
                var length = BinaryPrimitives.ReadInt32BigEndian(size);
                if (length < 8 || length > MaxFrame) throw new InvalidDataException($"a request frame of {length} bytes");
                if (frame.Length < length) frame = new byte[Math.Max(length, frame.Length * 2)];
                if (!ReadExactly(input, frame.AsSpan(0, length))) return;
                output.Clear();
                if (!Handle(frame.AsMemory(0, length), output, slots)) continue;
                pieces.Clear();
                output.AddPieces(pieces);
                // A blocking send on a stream socket returns once every byte is sent; the slots are reused only after it.
                var total = 0L;
                foreach (var piece in pieces) total += piece.Count;
                if (socket.Send(pieces, SocketFlags.None) != total) throw new IOException("a send ended short");
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException) { }
        catch (Exception e)
        {
            Console.Error.WriteLine($"bench broker: connection closed after an error: {e}");
        }
        finally
        {
            output.Dispose();
            slots.Dispose();
            socket.Dispose();
        }
    }

    private static bool ReadExactly(Stream stream, Span<byte> buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = stream.Read(buffer[read..]);
            if (n == 0) return false;
            read += n;
        }
        return true;
    }

    /// <summary>Answers one request frame (without its size prefix) into <paramref name="output"/>; false when no answer is due (acks=0).</summary>
    internal bool Handle(ReadOnlyMemory<byte> frameMemory, PooledBufferWriter output, FetchSlots slots)
    {
        var frame = frameMemory.Span;
        var key = (ApiKey)BinaryPrimitives.ReadInt16BigEndian(frame);
        var version = BinaryPrimitives.ReadInt16BigEndian(frame[2..]);
        var correlationId = BinaryPrimitives.ReadInt32BigEndian(frame[4..]);
        var served = Array.FindIndex(Served, s => s.Key == key);
        if (key == ApiKey.ApiVersions && version > 3)
        {
            // A newer client: answer v0 with UNSUPPORTED_VERSION and the ranges, so that it retries at one we serve.
            Respond(output, correlationId, 0, ApiVersions(35), 0);
            return true;
        }
        if (served < 0 || version < Served[served].Min || version > Served[served].Max)
            throw new InvalidDataException($"{key} v{version} is not served (ApiVersions did not offer it)");
        var reader = new KafkaReader(frame, key.ToString(), version);
        RequestHeader.Read(ref reader, HeaderVersions.Request(key, version));
        var body = frame[reader.Position..];
        var responseHeader = HeaderVersions.Response(key, version);
        IKafkaMessage response;
        switch (key)
        {
            case ApiKey.ApiVersions:
                Respond(output, correlationId, 0, ApiVersions(0), version);
                return true;
            case ApiKey.Metadata:
            {
                var r = new KafkaReader(body, "MetadataRequest", version);
                response = Metadata(MetadataRequest.Read(ref r, version), version);
                break;
            }
            case ApiKey.InitProducerId:
                response = new InitProducerIdResponse { ProducerId = Interlocked.Increment(ref _producerIds), ProducerEpoch = 0 };
                break;
            case ApiKey.FindCoordinator:
                // Confluent.Kafka's consumer needs a group id, and librdkafka then looks for the coordinator: this node.
                // The benchmark assigns partitions at explicit offsets and commits nothing, so no group API follows.
                response = new FindCoordinatorResponse { NodeId = 0, Host = "127.0.0.1", Port = Port };
                break;
            case ApiKey.ListOffsets:
            {
                var r = new KafkaReader(body, "ListOffsetsRequest", version);
                response = ListOffsets(ListOffsetsRequest.Read(ref r, version), version);
                break;
            }
            case ApiKey.Produce:
            {
                // Read from memory: the record sets are slices of the frame, not copies (a copy per megabyte-sized
                // record set made the broker, not the client, the limit of the 10 KiB rows).
                var r = new KafkaReader(frameMemory[(frame.Length - body.Length)..], "ProduceRequest", version);
                var request = ProduceRequest.Read(ref r, version);
                response = Produce(request);
                if (request.Acks == 0) return false;
                break;
            }
            case ApiKey.Fetch:
            {
                var r = new KafkaReader(body, "FetchRequest", version);
                response = Fetch(FetchRequest.Read(ref r, version), slots);
                break;
            }
            default:
                throw new InvalidDataException($"{key} is not served");
        }
        Respond(output, correlationId, responseHeader, response, version);
        return true;
    }

    private static void Respond(PooledBufferWriter output, int correlationId, short headerVersion, IKafkaMessage body, short version)
    {
        var start = output.WrittenCount;
        output.GetSpan(4);
        output.Advance(4);
        var writer = new KafkaWriter(output);
        writer.WriteInt32(correlationId);
        if (headerVersion >= 1) writer.WriteUnsignedVarInt(0);
        body.Write(ref writer, version);
        writer.Flush();
        // Every answer starts a cleared writer, so the segments (fetched records referred to in place) all follow start.
        BinaryPrimitives.WriteInt32BigEndian(output.WrittenSpanMutable[start..], checked((int)(output.TotalLength - start - 4)));
    }

    private static ApiVersionsResponse ApiVersions(short errorCode)
    {
        var response = new ApiVersionsResponse { ErrorCode = errorCode };
        foreach (var (key, min, max) in Served)
            response.ApiKeys.Add(new ApiVersionsResponse.ApiVersion { ApiKey = (short)key, MinVersion = min, MaxVersion = max });
        return response;
    }

    private Topic GetTopic(string name) => _topics.GetOrAdd(name, static n => new Topic(n));

    private MetadataResponse Metadata(MetadataRequest request, short version)
    {
        var response = new MetadataResponse { ClusterId = "kiel-bench", ControllerId = 0 };
        response.Brokers.Add(new MetadataResponse.MetadataResponseBroker { NodeId = 0, Host = "127.0.0.1", Port = Port });
        IEnumerable<Topic> topics = request.Topics is null || (request.Topics.Count == 0 && version == 0)
            ? _topics.Values
            : request.Topics.Where(t => !string.IsNullOrEmpty(t.Name)).Select(t => GetTopic(t.Name!));
        foreach (var topic in topics)
        {
            var t = new MetadataResponse.MetadataResponseTopic { Name = topic.Name, TopicId = topic.Id };
            for (var p = 0; p < topic.Spec.Partitions; p++)
                t.Partitions.Add(new MetadataResponse.MetadataResponsePartition
                {
                    PartitionIndex = p, LeaderId = 0, LeaderEpoch = 0, ReplicaNodes = [0], IsrNodes = [0], OfflineReplicas = [],
                });
            response.Topics.Add(t);
        }
        return response;
    }

    private ListOffsetsResponse ListOffsets(ListOffsetsRequest request, short version)
    {
        var response = new ListOffsetsResponse();
        foreach (var topic in request.Topics)
        {
            var t = GetTopic(topic.Name);
            var tr = new ListOffsetsResponse.ListOffsetsTopicResponse { Name = topic.Name };
            foreach (var p in topic.Partitions)
            {
                var known = p.PartitionIndex >= 0 && p.PartitionIndex < t.Spec.Partitions;
                tr.Partitions.Add(new ListOffsetsResponse.ListOffsetsPartitionResponse
                {
                    PartitionIndex = p.PartitionIndex,
                    ErrorCode = known ? (short)0 : (short)3,
                    Timestamp = -1,
                    Offset = p.Timestamp == -1 ? HighWatermark : 0, // latest, or earliest / any time
                    LeaderEpoch = version >= 4 ? 0 : -1,
                });
            }
            response.Topics.Add(tr);
        }
        return response;
    }

    private ProduceResponse Produce(ProduceRequest request)
    {
        var response = new ProduceResponse();
        foreach (var topic in request.TopicData)
        {
            var t = GetTopic(topic.Name);
            var tr = new ProduceResponse.TopicProduceResponse { Name = topic.Name };
            foreach (var p in topic.PartitionData)
            {
                var pr = new ProduceResponse.PartitionProduceResponse { Index = p.Index, LogAppendTimeMs = -1, LogStartOffset = 0 };
                if (p.Index < 0 || p.Index >= t.Spec.Partitions) pr.ErrorCode = 3; // UNKNOWN_TOPIC_OR_PARTITION
                else if (!TryCount(p.Records.GetValueOrDefault().Span, out var records, out var batches, out var checksum))
                {
                    pr.ErrorCode = 2; // CORRUPT_MESSAGE
                    Interlocked.Increment(ref t.Errors);
                }
                else
                {
                    pr.BaseOffset = Interlocked.Add(ref t.Next[p.Index], records) - records;
                    Interlocked.Add(ref t.Records, records);
                    Interlocked.Add(ref t.Batches, batches);
                    Interlocked.Add(ref t.Bytes, p.Records.GetValueOrDefault().Length);
                    Interlocked.Add(ref t.Checksum, (long)checksum);
                }
                tr.PartitionResponses.Add(pr);
            }
            response.Responses.Add(tr);
        }
        return response;
    }

    private static readonly RecordReaderOptions UncheckedReads = new() { VerifyCrc = false, AllowTruncatedTail = false };

    /// <summary>Checks every batch's header and CRC; counts records from the headers, or reads every record when verifying.</summary>
    private bool TryCount(ReadOnlySpan<byte> records, out long count, out long batches, out ulong checksum)
    {
        count = 0;
        batches = 0;
        checksum = 0;
        var position = 0;
        while (position < records.Length)
        {
            if (records.Length - position < RecordBatchHeader.Size) return false;
            var batch = records[position..];
            var batchLength = BinaryPrimitives.ReadInt32BigEndian(batch[RecordBatchHeader.BatchLengthOffset..]);
            if (batchLength < RecordBatchHeader.MinBatchLength || batchLength > records.Length - position - RecordBatchHeader.LogOverhead) return false;
            if (batch[RecordBatchHeader.MagicOffset] != 2) return false;
            var whole = batch[..(RecordBatchHeader.LogOverhead + batchLength)];
            var crc = BinaryPrimitives.ReadUInt32BigEndian(whole[RecordBatchHeader.CrcOffset..]);
            if (Crc32C.Compute(whole[RecordBatchHeader.AttributesOffset..]) != crc) return false;
            var recordCount = BinaryPrimitives.ReadInt32BigEndian(whole[RecordBatchHeader.RecordCountOffset..]);
            if (recordCount < 0) return false;
            count += recordCount;
            batches++;
            position += whole.Length;
        }
        if (_verify)
        {
            long read = 0;
            try
            {
                // The loop above checked every batch's CRC: a second check here cost as much again (at 10 KiB the broker's
                // two CRC passes and the payload hash took 40% of its connection thread, which then ran near a full core).
                var reader = new RecordSetReader(records, options: UncheckedReads);
                try
                {
                    while (reader.MoveNext())
                    {
                        checksum += Payloads.Hash(reader.Current.Value);
                        read++;
                    }
                }
                finally
                {
                    reader.Dispose();
                }
            }
            catch (Exception e) when (e is KafkaProtocolException or CorruptRecordException)
            {
                return false;
            }
            if (read != count) return false;
        }
        return true;
    }

    private FetchResponse Fetch(FetchRequest request, FetchSlots slots)
    {
        var response = new FetchResponse { SessionId = 0 };
        long budget = request.MaxBytes <= 0 ? int.MaxValue : request.MaxBytes;
        var first = true;
        var slot = 0;
        foreach (var topic in request.Topics)
        {
            var t = GetTopic(topic.Topic);
            var batch = t.FetchBatch;
            var tr = new FetchResponse.FetchableTopicResponse { Topic = topic.Topic };
            foreach (var p in topic.Partitions)
            {
                var pd = new FetchResponse.PartitionData
                {
                    PartitionIndex = p.Partition, HighWatermark = HighWatermark, LastStableOffset = HighWatermark, LogStartOffset = 0,
                    Records = ReadOnlyMemory<byte>.Empty,
                };
                if (p.Partition < 0 || p.Partition >= t.Spec.Partitions) pd.ErrorCode = 3;
                else if (p.FetchOffset < 0 || p.FetchOffset > HighWatermark) pd.ErrorCode = 1; // OFFSET_OUT_OF_RANGE
                else if (p.FetchOffset < HighWatermark && (budget > 0 || first))
                {
                    // Whole batches up to the partition's and the response's limits, at least one for the first partition.
                    var limit = Math.Min(budget, p.PartitionMaxBytes <= 0 ? int.MaxValue : p.PartitionMaxBytes);
                    var copies = (int)Math.Clamp(limit / batch.Length, first ? 1 : 0, 4096);
                    if (copies == 0 && p.PartitionMaxBytes >= 0 && budget >= batch.Length) copies = 1;
                    if (copies > 0)
                    {
                        pd.Records = slots.Records(slot++, batch, copies, p.FetchOffset / t.PerBatch * t.PerBatch, t.PerBatch);
                        budget -= copies * batch.Length;
                        first = false;
                    }
                }
                tr.Partitions.Add(pd);
            }
            response.Responses.Add(tr);
        }
        return response;
    }

    /// <summary>
    /// One connection's fetched records: per partition of an answer (its slot), a buffer of copies of the topic's batch,
    /// written once; each fetch only sets the copies' base offsets (outside the CRC, which starts at the attributes).
    /// The answer refers to the buffer in place, so a slot is written again only after its answer has been sent.
    /// </summary>
    internal sealed class FetchSlots : IDisposable
    {
        // Each slot's buffer holds whole copies of its batch, as many as its length says.
        private readonly List<(SharedBuffer Buffer, byte[] Batch)> _slots = [];

        public ReadOnlyMemory<byte> Records(int slot, byte[] batch, int copies, long baseOffset, int perBatch)
        {
            while (_slots.Count <= slot) _slots.Add(default);
            var (buffer, filledWith) = _slots[slot];
            if (buffer is null || filledWith != batch || buffer.Array.Length < copies * batch.Length)
            {
                buffer?.Release();
                var array = GC.AllocateUninitializedArray<byte>(copies * batch.Length);
                for (var i = 0; i < copies; i++) batch.CopyTo(array.AsSpan(i * batch.Length));
                buffer = new SharedBuffer(array, static _ => { });
                _slots[slot] = (buffer, batch);
            }
            var records = buffer.Array.AsSpan(0, copies * batch.Length);
            for (var i = 0; i < copies; i++)
                BinaryPrimitives.WriteInt64BigEndian(records[(i * batch.Length)..], baseOffset + (long)i * perBatch);
            return buffer.Memory[..(copies * batch.Length)];
        }

        public void Dispose()
        {
            foreach (var (buffer, _) in _slots) buffer?.Release();
            _slots.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accept;
        Task[] all;
        lock (_connections) all = [.. _connections];
        try { await Task.WhenAll(all).WaitAsync(TimeSpan.FromSeconds(5)); }
        catch (TimeoutException) { }
        _stop.Dispose();
    }

    private sealed class Topic
    {
        public Topic(string name)
        {
            Name = name;
            Spec = TopicSpec.Parse(name);
            Id = new Guid(System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(name)));
            Next = new long[Spec.Partitions];
            PerBatch = Payloads.RecordsPerBatch(Spec.ValueSize);
            using var builder = new RecordBatchBuilder(Spec.Compression, maxBatchBytes: 64 * 1024 * 1024);
            var values = Payloads.Values(Spec.ValueSize, PerBatch);
            for (var i = 0; i < PerBatch; i++) builder.Append(BaseTimestamp + i, default, values[i], keyIsNull: true);
            FetchBatch = builder.Seal().ToArray();
        }

        public string Name { get; }
        public TopicSpec Spec { get; }
        public Guid Id { get; }
        public long[] Next { get; }
        public int PerBatch { get; }
        public byte[] FetchBatch { get; }
        public long Records, Batches, Bytes, Checksum, Errors;
    }
}

/// <summary>What the bench broker received for one topic: records, batches, record-set bytes, the payload checksum (when verifying) and refused batches.</summary>
public readonly record struct TopicStats(long Records, long Batches, long Bytes, ulong Checksum, long Errors);
