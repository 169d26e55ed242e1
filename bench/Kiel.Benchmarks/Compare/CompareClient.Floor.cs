using System.Buffers.Binary;
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
/// The floor under the awaited rows (<c>compare-client client=floor mode=awaited …</c>): no Kafka client, only what an
/// awaited record with a linger cannot avoid. One thread and a blocking socket: the record waits the linger in a timed
/// wait (the primitive Kiel's sender sleeps in), then one Produce request, pre-encoded with a one-record batch, is
/// written and its answer read on the same thread. So each record costs one timer wake and one socket wake, fewer than
/// either client. What its p50 and p99 show is the machine's own cost of an exchange after the linger's idleness.
/// </summary>
internal static partial class CompareClient
{
    private const short FloorProduceVersion = 9;

    private static void FloorAwaited(ClientRun run, Dictionary<string, string> result)
    {
        var (host, port) = ParseFloorBootstrap(run.Bootstrap);
        var values = Payloads.Values(run.Size, ClientRun.Distinct);
        // One frame per (partition, value) pair, correlation ids patched per send.
        var frames = new byte[run.Partitions * ClientRun.Distinct][];
        for (var p = 0; p < run.Partitions; p++)
        for (var v = 0; v < ClientRun.Distinct; v++)
            frames[p * ClientRun.Distinct + v] = FloorFrame(run.Topic, p, values[v]);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(host, port); // synchronous: the socket stays in blocking mode (an async call would make it non-blocking for good)
        using var linger = new ManualResetEventSlim(false, spinCount: 0);
        var answer = new byte[64 * 1024];
        long i = 0;
        var correlation = 0;

        void One()
        {
            if (run.LingerMs > 0) linger.Wait(run.LingerMs);
            var frame = frames[(int)(i % run.Partitions) * ClientRun.Distinct + (int)(i % ClientRun.Distinct)];
            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(8), ++correlation);
            for (var sent = 0; sent < frame.Length;) sent += socket.Send(frame, sent, frame.Length - sent, SocketFlags.None);
            ReadExactly(socket, answer, 4);
            var size = BinaryPrimitives.ReadInt32BigEndian(answer);
            if (size < 8 || size > answer.Length) throw new InvalidDataException($"a Produce answer of {size} bytes");
            ReadExactly(socket, answer, size);
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
        var settleUntil = Stopwatch.GetTimestamp() + Stopwatch.Frequency; // nothing to compile after the cold phase: 1 s of records
        while (Stopwatch.GetTimestamp() < settleUntil) One();
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

    private static void ReadExactly(Socket socket, byte[] into, int count)
    {
        for (var have = 0; have < count;)
        {
            var n = socket.Receive(into, have, count - have, SocketFlags.None);
            if (n == 0) throw new IOException("the broker closed the connection");
            have += n;
        }
    }

    private static (string Host, int Port) ParseFloorBootstrap(string bootstrap)
    {
        var colon = bootstrap.LastIndexOf(':');
        return (bootstrap[..colon], int.Parse(bootstrap[(colon + 1)..], CultureInfo.InvariantCulture));
    }
}
