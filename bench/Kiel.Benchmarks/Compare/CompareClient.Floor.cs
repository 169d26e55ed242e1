using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
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
    /// <summary>The awaited floor's Produce version (a whole pre-encoded request per record).</summary>
    private const short FloorAwaitedVersion = 9;

    /// <summary>
    /// The produce floor's Produce version: not flexible, so the records' length is the frame's last fixed-width field
    /// and can be patched per send (<see cref="FloorPrefix"/>).
    /// </summary>
    private const short FloorBatchVersion = 3;

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
            var id = ReadFloorAnswer(stream, answer, FloorAwaitedVersion) ?? throw new EndOfStreamException("the broker closed before answering");
            if (id != correlation) throw new InvalidDataException($"answer {id} to request {correlation}");
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
        return FloorRequestFrame(topic, partition, builder.Seal().ToArray(), FloorAwaitedVersion);
    }

    /// <summary>A whole Produce request frame (acks all) of <paramref name="records"/> for one partition, correlation id 0.</summary>
    private static byte[] FloorRequestFrame(string topic, int partition, byte[] records, short version)
    {
        var request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 30_000,
            TopicData = [new() { Name = topic, PartitionData = [new() { Index = partition, Records = records }] }],
        };
        using var buffer = new PooledBufferWriter();
        FrameCodec.WriteRequest(buffer, request, version, 0, "kiel-floor");
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Reads one Produce answer into <paramref name="answer"/> and checks it: a plausible size, and no error for its
    /// partition. Returns its correlation id, or null when the stream ended before an answer began.
    /// </summary>
    private static int? ReadFloorAnswer(Stream stream, byte[] answer, short version)
    {
        if (stream.ReadAtLeast(answer.AsSpan(0, FrameCodec.SizePrefixLength), FrameCodec.SizePrefixLength, throwOnEndOfStream: false) < FrameCodec.SizePrefixLength)
            return null;
        var size = FrameCodec.ReadSize(answer);
        if (size < 8 || size > answer.Length) throw new InvalidDataException($"a Produce answer of {size} bytes");
        stream.ReadExactly(answer, 0, size);
        var offset = FrameCodec.ReadResponseHeader(answer.AsSpan(0, size), HeaderVersions.Response(ApiKey.Produce, version), out var id);
        var reader = new KafkaReader(answer.AsSpan(offset, size - offset), "ProduceResponse", version);
        var response = ProduceResponse.Read(ref reader, version);
        var error = response.Responses[0].PartitionResponses[0].ErrorCode;
        if (error != 0) throw new InvalidDataException($"Produce refused with error {error}");
        return id;
    }

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
                    if (ReadFloorAnswer(input, answer, FloorBatchVersion) is not { } id)
                    {
                        if (!sent.IsEmpty) throw new EndOfStreamException("the broker closed with requests unanswered");
                        return;
                    }
                    if (!sent.TryDequeue(out var request) || request.Correlation != id) throw new InvalidDataException($"answer {id} out of order");
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

        var header = RecordBatchHeader.Size;
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
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            RecordBatchWriter.FinishBatch(batch.AsSpan(0, length), 0, count, now, now, producerId: -1, producerEpoch: -1, baseSequence: -1);
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
            // Keyless, no headers, every record at the batch's timestamp (delta 0).
            var body = RecordBatchWriter.RecordBodySize(0, count, -1, value.Length, 0, 0);
            if (length + RecordBatchWriter.RecordSize(body) > batch.Length)
            {
                Send();
                body = RecordBatchWriter.RecordBodySize(0, count, -1, value.Length, 0, 0);
            }
            length += RecordBatchWriter.WriteRecordStart(batch.AsSpan(length), body, 0, count, default, -1, value, value.Length, 0);
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

    /// <summary>
    /// A Produce v3 frame for one partition of <paramref name="topic"/> with no records: its last bytes are the
    /// partition index and the records' length, patched per send with the size and correlation id; the batch follows it.
    /// </summary>
    private static (byte[] Frame, int PartitionOffset) FloorPrefix(string topic)
    {
        var frame = FloorRequestFrame(topic, 0, [], FloorBatchVersion);
        return (frame, frame.Length - 8);
    }
}
