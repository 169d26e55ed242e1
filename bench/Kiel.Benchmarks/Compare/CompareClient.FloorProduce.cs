using System.Buffers.Binary;
using System.Collections.Concurrent;
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
internal static partial class CompareClient
{
    private const short FloorProduceRequestVersion = 3;

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
        var reader = new Thread(() =>
        {
            try
            {
                var answer = new byte[64 * 1024];
                while (true)
                {
                    if (!ReadFully(socket, answer.AsSpan(0, 4))) { if (!sent.IsEmpty) throw new EndOfStreamException("the broker closed with requests unanswered"); return; }
                    var size = FrameCodec.ReadSize(answer);
                    if (size < 8 || size > answer.Length) throw new InvalidDataException($"a Produce answer of {size} bytes");
                    if (!ReadFully(socket, answer.AsSpan(0, size))) throw new EndOfStreamException("the broker closed mid-answer");
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

    private static bool ReadFully(Socket socket, Span<byte> buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = socket.Receive(buffer[read..]);
            if (n == 0) return false;
            read += n;
        }
        return true;
    }

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
