using System.Diagnostics;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;

namespace Kiel.Benchmarks.Network;

/// <summary>
/// Request round trips on loopback against the embedded mock broker:
/// <c>dotnet run -c Release --project bench/Kiel.Benchmarks -- roundtrip [sequential-count] [pipelined-seconds]</c>.
/// Prints p50/p99 latency one request at a time, then requests per second with 1, 5 and 32 requests in flight,
/// and managed bytes allocated per round trip.
/// </summary>
public static class RoundTripRunner
{
    [BenchRunner("roundtrip")]
    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 20_000;
        var seconds = args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3;
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        await using var echo = new EchoServer();
        var endpoint = BrokerEndpoint.Parse(kafka.BootstrapServers, 1);
        Console.WriteLine($"roundtrip: embedded mock broker at {endpoint}, echo server at {echo.Endpoint}, {Environment.ProcessorCount} cores, .NET {Environment.Version}");

        var targets = new (string Name, BrokerEndpoint Endpoint, ConnectionOptions Options)[]
        {
            ("mock", endpoint, new ConnectionOptions { MaxInFlight = 64 }),
            // The echo server answers every frame with an empty body, so this measures the client alone.
            ("echo", echo.Endpoint, new ConnectionOptions { MaxInFlight = 64, ApiVersionRequest = false, BrokerVersionFallback = "0.11.0" }),
        };
        var request = new MetadataRequest { Topics = [] };
        foreach (var (target, broker, options) in targets)
        {
            var name = $"{target} Metadata(no topics)";
            await using var conn = await BrokerConnection.ConnectAsync(broker, options, "bench");
            var version = target == "echo" ? (short)0 : conn.Versions.Choose(ApiKey.Metadata);
            for (var i = 0; i < 2000; i++) using (await conn.SendRawAsync(request, version)) { } // warm up

            var samples = new double[count];
            var allocBefore = GC.GetTotalAllocatedBytes(precise: true);
            var total = Stopwatch.StartNew();
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                using (await conn.SendRawAsync(request, version)) { }
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            }
            total.Stop();
            var allocPerRequest = (GC.GetTotalAllocatedBytes(precise: true) - allocBefore) / (double)count;
            Array.Sort(samples);
            Console.WriteLine($"{name} v{version}, one at a time, {count} requests: p50 {Pct(samples, 0.50):0.0} µs, p99 {Pct(samples, 0.99):0.0} µs, " +
                              $"max {samples[^1]:0.0} µs, {count / total.Elapsed.TotalSeconds:0} req/s, {allocPerRequest:0} B allocated per round trip (raw frame, not decoded)");

            foreach (var inFlight in new[] { 1, 5, 32 })
            {
                var done = 0L;
                var stop = Stopwatch.StartNew();
                var deadline = TimeSpan.FromSeconds(seconds);
                allocBefore = GC.GetTotalAllocatedBytes(precise: true);
                var workers = Enumerable.Range(0, inFlight).Select(async _ =>
                {
                    while (stop.Elapsed < deadline)
                    {
                        using (await conn.SendRawAsync(request, version)) { }
                        Interlocked.Increment(ref done);
                    }
                }).ToArray();
                await Task.WhenAll(workers);
                var elapsed = stop.Elapsed.TotalSeconds;
                allocPerRequest = (GC.GetTotalAllocatedBytes(precise: true) - allocBefore) / (double)done;
                Console.WriteLine($"{name} pipelined, {inFlight,2} in flight: {done / elapsed:0} req/s over {elapsed:0.0} s, {allocPerRequest:0} B allocated per round trip");
            }

            if (target == "echo") continue; // an empty body does not decode as Metadata
            // Decoded (typed) round trips, for the cost of decoding and copying the response.
            allocBefore = GC.GetTotalAllocatedBytes(precise: true);
            var typed = Stopwatch.StartNew();
            for (var i = 0; i < count; i++) await conn.SendAsync(request, version);
            typed.Stop();
            Console.WriteLine($"{name} typed SendAsync one at a time: {count / typed.Elapsed.TotalSeconds:0} req/s, " +
                              $"{(GC.GetTotalAllocatedBytes(precise: true) - allocBefore) / (double)count:0} B allocated per round trip");
        }
        return 0;
    }

    private static double Pct(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    /// <summary>A loopback server that answers every request frame with its correlation id and an empty body.</summary>
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public EchoServer()
        {
            _listener.Start();
            Endpoint = new BrokerEndpoint(1, "127.0.0.1", ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port);
            _loop = Task.Run(AcceptAsync);
        }

        public BrokerEndpoint Endpoint { get; }

        private async Task AcceptAsync()
        {
            var serving = new List<Task>();
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    socket.NoDelay = true;
                    serving.Add(Task.Run(() => ServeAsync(socket)));
                }
            }
            catch (Exception) { }
            await Task.WhenAll(serving);
        }

        private async Task ServeAsync(System.Net.Sockets.Socket socket)
        {
            using var _ = socket;
            var stream = new System.Net.Sockets.NetworkStream(socket);
            var size = new byte[4];
            var frame = new byte[64 * 1024];
            var reply = new byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(reply, 4);
            try
            {
                while (true)
                {
                    await stream.ReadExactlyAsync(size, _stop.Token);
                    var n = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(size);
                    await stream.ReadExactlyAsync(frame.AsMemory(0, n), _stop.Token);
                    frame.AsSpan(4, 4).CopyTo(reply.AsSpan(4));
                    await stream.WriteAsync(reply, _stop.Token);
                }
            }
            catch (Exception) { }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _loop;
        }
    }
}
