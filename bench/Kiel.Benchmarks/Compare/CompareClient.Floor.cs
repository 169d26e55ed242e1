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
}
