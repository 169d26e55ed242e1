using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Kiel.BenchBroker;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Protocol.Records;

namespace Kiel.Benchmarks.Compare;

/// <summary>
/// The floors under the compare rows: no Kafka client, only what a scenario cannot avoid (the produce floor is
/// described at <see cref="FloorProduce"/>). The awaited floor (<c>compare-client client=floor mode=awaited …</c>): what
/// an awaited record with a linger cannot avoid. One thread and a blocking socket: the record waits the linger in a timed
/// wait (the primitive Kiel's sender sleeps in), then one Produce request, pre-encoded with a one-record batch, is
/// written and its answer read on the same thread. So each record costs one timer wake and one socket wake, fewer than
/// either client. What its p50 and p99 show is the machine's own cost of an exchange after the linger's idleness.
/// </summary>
internal static partial class CompareClient
{
    private const short FloorProduceVersion = 9;

    private static void FloorAwaited(ClientRun run, Dictionary<string, string> result)
    {
        var broker = BrokerEndpoint.Parse(run.Bootstrap);
        var values = Payloads.Values(run.Size, ClientRun.Distinct);
        // One frame per (partition, value) pair, correlation ids patched per send.
        var frames = new byte[run.Partitions * ClientRun.Distinct][];
        for (var p = 0; p < run.Partitions; p++)
        for (var v = 0; v < ClientRun.Distinct; v++)
            frames[p * ClientRun.Distinct + v] = FloorFrame(run.Topic, p, values[v]);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(broker.Host, broker.Port); // synchronous: the socket stays in blocking mode (an async call would make it non-blocking for good)
        using var stream = new NetworkStream(socket); // its synchronous reads and writes keep it so
        using var linger = new ManualResetEventSlim(false, spinCount: 0);
        var answer = new byte[64 * 1024];
        long i = 0;
        var correlation = 0;

        void One()
        {
            if (run.LingerMs > 0) linger.Wait(run.LingerMs);
            var frame = frames[(int)(i % run.Partitions) * ClientRun.Distinct + (int)(i % ClientRun.Distinct)];
            FrameCodec.PatchCorrelationId(frame, ++correlation);
            stream.Write(frame);
            stream.ReadExactly(answer, 0, FrameCodec.SizePrefixLength);
            var size = FrameCodec.ReadSize(answer);
            if (size < 8 || size > answer.Length) throw new InvalidDataException($"a Produce answer of {size} bytes");
            stream.ReadExactly(answer, 0, size);
            var offset = FrameCodec.ReadResponseHeader(answer.AsSpan(0, size), HeaderVersions.Response(ApiKey.Produce, FloorProduceVersion), out var id);
            if (id != correlation) throw new InvalidDataException($"answer {id} to request {correlation}");
            var reader = new KafkaReader(answer.AsSpan(offset, size - offset), "ProduceResponse", FloorProduceVersion);
            var response = ProduceResponse.Read(ref reader, FloorProduceVersion);
            var error = response.Responses[0].PartitionResponses[0].ErrorCode;
            if (error != 0) throw new InvalidDataException($"Produce refused with error {error}");
            i++;
        }

        while (i < run.Cold) One();
        Cold(run.Cold, result);
        for (var settle = new Settle(); !settle.Done();) One();
        var ticks = new long[4_000_000];
        var n = 0;
        var window = new Window();
        while (window.Elapsed < run.WindowSeconds && n < ticks.Length)
        {
            var t0 = Stopwatch.GetTimestamp();
            One();
            ticks[n++] = Stopwatch.GetTimestamp() - t0;
        }
        window.End(n, result);
        Latencies(ticks, n, result);
        result["produced"] = i.ToString(CultureInfo.InvariantCulture);
        result["delivered"] = i.ToString(CultureInfo.InvariantCulture);
        result["failed"] = "0";
    }

    private static byte[] FloorFrame(string topic, int partition, byte[] value)
    {
        using var builder = new RecordBatchBuilder();
        builder.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), default, value, keyIsNull: true);
        var request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 30_000,
            TopicData = [new() { Name = topic, PartitionData = [new() { Index = partition, Records = builder.Seal().ToArray() }] }],
        };
        using var buffer = new PooledBufferWriter();
        FrameCodec.WriteRequest(buffer, request, FloorProduceVersion, 0, "kiel-floor");
        return buffer.WrittenSpan.ToArray();
    }

    private const short FloorProduceRequestVersion = 3;

    /// <summary>
    /// The floor under the fire-and-forget produce rows (<c>compare-client client=floor mode=produce …</c>): no Kafka
    /// client, only the work any producer of these records must do. The producing thread copies each value into a batch
    /// (the caller keeps its array), writes the record's varints, and when the batch is as full as
    /// <see cref="ClientRun.BatchBytes"/> allows, computes its CRC-32C while its bytes are still hot and writes it to a
    /// blocking socket as one Produce request (v3: the batch is the frame's last bytes, sent from where it lies, so the
    /// kernel's copy is the only other one). A second thread reads the answers in order, checks each, and gives the batch's
    /// buffer back; at most <see cref="ClientRun.InFlight"/> requests are outstanding. There is no metadata, partitioner,
    /// accumulator, linger, idempotence or delivery report: what its rate and CPU per record show is what the machine
    /// allows a producer of this payload, against which both clients' rows can be read.
    /// </summary>
    private static void FloorProduce(ClientRun run, Dictionary<string, string> result)
    {
        if (run.Compression != CompressionType.None) throw new ArgumentException("the produce floor sends uncompressed batches only");
        var broker = BrokerEndpoint.Parse(run.Bootstrap);
        var values = Payloads.Values(run.Size, ClientRun.Distinct);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(broker.Host, broker.Port); // synchronous: the socket stays blocking
        var prefix = FloorPrefix(run.Topic);
        var free = new ConcurrentBag<byte[]>();
        var inFlight = new SemaphoreSlim(ClientRun.InFlight, ClientRun.InFlight);
        var sent = new ConcurrentQueue<(int Correlation, byte[] Batch, int Records)>();
        long delivered = 0;
        Exception? readerFailure = null;
        var finished = false;
        using var input = new NetworkStream(socket); // its synchronous reads keep the socket blocking
        var reader = new Thread(() =>
        {
            try
            {
                var answer = new byte[64 * 1024];
                while (true)
                {
                    if (input.ReadAtLeast(answer.AsSpan(0, 4), 4, throwOnEndOfStream: false) < 4) { if (!sent.IsEmpty) throw new EndOfStreamException("the broker closed with requests unanswered"); return; }
                    var size = FrameCodec.ReadSize(answer);
                    if (size < 8 || size > answer.Length) throw new InvalidDataException($"a Produce answer of {size} bytes");
                    input.ReadExactly(answer, 0, size);
                    var offset = FrameCodec.ReadResponseHeader(answer.AsSpan(0, size), HeaderVersions.Response(ApiKey.Produce, FloorProduceRequestVersion), out var id);
                    if (!sent.TryDequeue(out var request) || request.Correlation != id) throw new InvalidDataException($"answer {id} out of order");
                    var r = new KafkaReader(answer.AsSpan(offset, size - offset), "ProduceResponse", FloorProduceRequestVersion);
                    var response = ProduceResponse.Read(ref r, FloorProduceRequestVersion);
                    var error = response.Responses[0].PartitionResponses[0].ErrorCode;
                    if (error != 0) throw new InvalidDataException($"Produce refused with error {error}");
                    Interlocked.Add(ref delivered, request.Records);
                    free.Add(request.Batch);
                    inFlight.Release();
                }
            }
            catch (Exception e) when (!Volatile.Read(ref finished))
            {
                // The producing thread sees the failure when it next waits for room, and throws it.
                Volatile.Write(ref readerFailure, e);
                var waiting = ClientRun.InFlight - inFlight.CurrentCount;
                if (waiting > 0) inFlight.Release(waiting);
            }
            catch (Exception) { } // the socket shut at the end
        }) { IsBackground = true, Name = "floor answers" };
        reader.Start();

        var header = FloorBatchHeaderSize;
        var batch = new byte[ClientRun.BatchBytes];
        var length = header;
        var count = 0;
        var correlation = 0;
        var partition = 0;
        var pieces = new ArraySegment<byte>[2];
        long i = 0;

        void Send()
        {
            if (count == 0) return;
            SealFloorBatch(batch.AsSpan(0, length), count);
            if (!inFlight.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("no answer from the broker in 30 s");
            if (Volatile.Read(ref readerFailure) is { } failure) throw new InvalidOperationException("the answer reader failed", failure);
            var frame = prefix.Frame;
            BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length - 4 + length);
            FrameCodec.PatchCorrelationId(frame, ++correlation);
            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(prefix.PartitionOffset), partition);
            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(prefix.PartitionOffset + 4), length);
            sent.Enqueue((correlation, batch, count));
            pieces[0] = frame;
            pieces[1] = new ArraySegment<byte>(batch, 0, length);
            if (socket.Send(pieces, SocketFlags.None) != frame.Length + length) throw new IOException("a send ended short");
            partition = (partition + 1) % run.Partitions;
            batch = free.TryTake(out var reused) ? reused : new byte[ClientRun.BatchBytes];
            length = header;
            count = 0;
        }

        void One()
        {
            var value = values[i % ClientRun.Distinct];
            var body = FloorRecordBody(count, value.Length);
            if (length + VarInt.SizeOfVarInt(body) + body > batch.Length)
            {
                Send();
                body = FloorRecordBody(count, value.Length);
            }
            var span = batch.AsSpan(length);
            var at = VarInt.WriteVarInt(span, body);
            span[at++] = 0; // attributes
            span[at++] = 0; // timestamp delta
            at += VarInt.WriteVarInt(span[at..], count); // offset delta
            span[at++] = 1; // key length -1 (zigzag)
            at += VarInt.WriteVarInt(span[at..], value.Length);
            value.CopyTo(span[at..]);
            at += value.Length;
            span[at++] = 0; // no headers
            length += at;
            count++;
            i++;
        }

        void Flush()
        {
            Send();
            for (var k = 0; k < ClientRun.InFlight; k++) if (!inFlight.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("no answer from the broker in 30 s");
            if (Volatile.Read(ref readerFailure) is { } failure) throw new InvalidOperationException("the answer reader failed", failure);
            inFlight.Release(ClientRun.InFlight);
        }

        while (i < run.Cold) One();
        Flush();
        Cold(run.Cold, result);
        for (var settle = new Settle(); !settle.Done();)
            for (var j = 0; j < 1000; j++) One();
        Flush();
        var start = i;
        var window = new Window();
        while (window.Elapsed < run.WindowSeconds)
            for (var j = 0; j < 1000; j++) One();
        Flush();
        window.End(i - start, result);
        Volatile.Write(ref finished, true);
        socket.Shutdown(SocketShutdown.Both);
        if (!reader.Join(TimeSpan.FromSeconds(30))) throw new TimeoutException("the answer reader did not end in 30 s");
        result["produced"] = i.ToString(CultureInfo.InvariantCulture);
        result["delivered"] = Interlocked.Read(ref delivered).ToString(CultureInfo.InvariantCulture);
        result["failed"] = "0";
    }

    // attributes, timestamp delta 0, offset delta, key length -1, value length, value, no headers
    private static int FloorRecordBody(int offsetDelta, int valueLength) =>
        1 + 1 + VarInt.SizeOfVarInt(offsetDelta) + 1 + VarInt.SizeOfVarInt(valueLength) + valueLength + 1;

    // baseOffset 8, batchLength 4, partitionLeaderEpoch 4, magic 1, crc 4, attributes 2, lastOffsetDelta 4,
    // baseTimestamp 8, maxTimestamp 8, producerId 8, producerEpoch 2, baseSequence 4, records 4.
    private const int FloorBatchHeaderSize = 61;

    private static void SealFloorBatch(Span<byte> batch, int count)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        BinaryPrimitives.WriteInt64BigEndian(batch, 0);
        BinaryPrimitives.WriteInt32BigEndian(batch[8..], batch.Length - 12);
        BinaryPrimitives.WriteInt32BigEndian(batch[12..], -1);
        batch[16] = 2;
        BinaryPrimitives.WriteInt16BigEndian(batch[21..], 0);
        BinaryPrimitives.WriteInt32BigEndian(batch[23..], count - 1);
        BinaryPrimitives.WriteInt64BigEndian(batch[27..], now);
        BinaryPrimitives.WriteInt64BigEndian(batch[35..], now);
        BinaryPrimitives.WriteInt64BigEndian(batch[43..], -1);
        BinaryPrimitives.WriteInt16BigEndian(batch[51..], -1);
        BinaryPrimitives.WriteInt32BigEndian(batch[53..], -1);
        BinaryPrimitives.WriteInt32BigEndian(batch[57..], count);
        BinaryPrimitives.WriteUInt32BigEndian(batch[17..], Crc32C.Compute(batch[21..]));
    }

    /// <summary>A Produce v3 frame up to its records' length; size, correlation id, partition and length are patched per send.</summary>
    private static (byte[] Frame, int PartitionOffset) FloorPrefix(string topic)
    {
        var clientId = "kiel-floor"u8;
        var name = Encoding.UTF8.GetBytes(topic);
        var frame = new byte[4 + 2 + 2 + 4 + 2 + clientId.Length + 2 + 2 + 4 + 4 + 2 + name.Length + 4 + 4 + 4];
        var at = 4;
        BinaryPrimitives.WriteInt16BigEndian(frame.AsSpan(at), (short)ApiKey.Produce); at += 2;
        BinaryPrimitives.WriteInt16BigEndian(frame.AsSpan(at), FloorProduceRequestVersion); at += 2;
        at += 4; // correlation id
        BinaryPrimitives.WriteInt16BigEndian(frame.AsSpan(at), (short)clientId.Length); at += 2;
        clientId.CopyTo(frame.AsSpan(at)); at += clientId.Length;
        BinaryPrimitives.WriteInt16BigEndian(frame.AsSpan(at), -1); at += 2; // no transactional id
        BinaryPrimitives.WriteInt16BigEndian(frame.AsSpan(at), -1); at += 2; // acks all
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(at), 30_000); at += 4;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(at), 1); at += 4;
        BinaryPrimitives.WriteInt16BigEndian(frame.AsSpan(at), (short)name.Length); at += 2;
        name.CopyTo(frame.AsSpan(at)); at += name.Length;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(at), 1); at += 4;
        return (frame, at);
    }
}
