using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Confluent.Kafka;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;
using static Kiel.IntegrationTests.Capture.CaptureScenario;

namespace Kiel.IntegrationTests.Capture;

/// <summary>
/// Captures the SASL exchange real peers have with the secured front (SASL_PLAINTEXT, one broker, throwaway
/// credentials <c>kiel</c> / <see cref="Password"/>): Confluent.Kafka 2.16 with PLAIN and SCRAM-SHA-512
/// (ApiVersions, SaslHandshake v1, SaslAuthenticate), and kafka-python 2.0.2 as a 0.10.1 client against the front's
/// pre-KIP-152 form (SaslHandshake v0, then one raw PLAIN token). A raw frame recorder sits in front of the front
/// (the frames are not decoded on the way, so raw tokens pass as they are), and each run checks the captured frames
/// decode with Kiel's generated messages and hold the expected tokens. With <c>KIEL_WRITE_FIXTURES</c> set they are
/// saved to <c>sasl-peers.txt</c> for the byte-level tests in Kiel.Tests (<c>Security/SaslPeerFixtureTests</c>).
/// </summary>
public sealed class SaslCaptureTests
{
    /// <summary>A throwaway password for test fixtures only.</summary>
    internal const string Password = "kiel-fixture-password";

    private static readonly ConcurrentDictionary<string, List<string>> Lines = new();

    [Theory]
    [InlineData("confluent-plain", "PLAIN")]
    [InlineData("confluent-scram-sha-512", "SCRAM-SHA-512")]
    public async Task ConfluentSaslExchange(string scenario, string mechanism)
    {
        var frames = await CaptureAsync(legacy: false, bootstrap => Task.Run(() =>
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig
            {
                BootstrapServers = bootstrap,
                SecurityProtocol = Confluent.Kafka.SecurityProtocol.SaslPlaintext,
                SaslMechanism = mechanism == "PLAIN" ? Confluent.Kafka.SaslMechanism.Plain : Confluent.Kafka.SaslMechanism.ScramSha512,
                SaslUsername = "kiel",
                SaslPassword = Password,
            }).Build();
            Assert.NotNull(admin.GetMetadata(TimeSpan.FromSeconds(30)));
        }));

        var handshake = frames.Single(f => f.IsRequest && f.Key == ApiKey.SaslHandshake);
        Assert.Equal(1, handshake.Version);
        var authenticate = frames.Where(f => f.IsRequest && f.Key == ApiKey.SaslAuthenticate).ToList();
        Assert.Equal(mechanism == "PLAIN" ? 1 : 2, authenticate.Count);
        var reader = new KafkaReader(handshake.Bytes.AsMemory());
        KafkaHeaders.ReadRequestHeader(ref reader);
        Assert.Equal(mechanism, SaslHandshakeRequest.Read(ref reader, handshake.Version).Mechanism);
        reader = new KafkaReader(authenticate[0].Bytes.AsMemory());
        KafkaHeaders.ReadRequestHeader(ref reader);
        var first = Encoding.UTF8.GetString(SaslAuthenticateRequest.Read(ref reader, authenticate[0].Version).AuthBytes.Span);
        Assert.Equal(mechanism == "PLAIN" ? "\0kiel\0" + Password : "n,,n=kiel,r=", mechanism == "PLAIN" ? first : first[..12]);
        foreach (var response in frames.Where(f => !f.IsRequest && f.Key == ApiKey.SaslAuthenticate))
        {
            var r = new KafkaReader(response.Bytes.AsMemory());
            KafkaHeaders.ReadResponseHeader(ref r, response.Key!.Value, response.Version);
            Assert.Equal(0, SaslAuthenticateResponse.Read(ref r, response.Version).ErrorCode);
        }
        Save(scenario, frames);
    }

    [Fact]
    public async Task KafkaPythonLegacyPlainTokens()
    {
        if (!File.Exists(Python)) Assert.Fail("kafka-python needs /usr/bin/python3 with python3-kafka");
        var script = Path.Combine(AppContext.BaseDirectory, "Capture", "sasl_kafka_python_legacy.py");
        var frames = await CaptureAsync(legacy: true, async bootstrap =>
        {
            var result = await ProcessRunner.RunAsync(Python, [script, bootstrap, "kiel", Password], TimeSpan.FromSeconds(60));
            Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        });
        var handshake = frames.Single(f => f.IsRequest && f.Key == ApiKey.SaslHandshake);
        Assert.Equal(0, handshake.Version);
        var token = frames.Single(f => f.IsRequest && f.Key is null);
        // kafka-python 2.0.2 sends the user as the authorization id too (librdkafka and Kiel leave it empty).
        Assert.Equal("kiel\0kiel\0" + Password, Encoding.UTF8.GetString(token.Bytes));
        Assert.Single(frames, f => !f.IsRequest && f.Key is null);
        Save("kafka-python-plain", frames);
    }

    private static void Save(string scenario, List<RawFrame> frames)
    {
        var folder = Environment.GetEnvironmentVariable("KIEL_WRITE_FIXTURES");
        if (string.IsNullOrEmpty(folder)) return;
        Lines[scenario] = [.. frames.Select(f => $"{scenario} {(f.IsRequest ? "request" : "response")} {(f.Key is { } k ? ((short)k).ToString(System.Globalization.CultureInfo.InvariantCulture) : "token")} {f.Version} {Convert.ToHexString(f.Bytes)}")];
        // The three scenarios run one after another in this class; each run rewrites the file with what it has so far.
        lock (Lines)
            File.WriteAllLines(Path.Combine(folder, "sasl-peers.txt"), Lines.OrderBy(p => p.Key, StringComparer.Ordinal).SelectMany(p => p.Value));
    }

    /// <summary>One frame without its size prefix; <see cref="Key"/> null for a raw pre-KIP-152 token.</summary>
    internal sealed record RawFrame(bool IsRequest, ApiKey? Key, short Version, byte[] Bytes);

    /// <summary>
    /// Starts a one-broker SASL_PLAINTEXT cluster, runs <paramref name="peer"/> against a raw recorder in front of it,
    /// and returns the first connection's frames up to the first request that is not part of authentication.
    /// </summary>
    private static async Task<List<RawFrame>> CaptureAsync(bool legacy, Func<string, Task> peer)
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions
        {
            Brokers = 1,
            Security = new EmbeddedSecurityOptions
            {
                Protocol = Kiel.SecurityProtocol.SaslPlaintext,
                Password = Password,
                LegacySasl = legacy,
            },
        });
        await using var recorder = RawRecorder.Start(cluster.BootstrapServers);
        await peer(recorder.BootstrapServers);
        return recorder.Authentication();
    }

    /// <summary>A loopback proxy that records the size-prefixed frames of its first connection both ways, as they are.</summary>
    private sealed class RawRecorder : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly IPEndPoint _upstream;
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentQueue<(bool Request, byte[] Frame)> _first = new();
        private readonly ConcurrentBag<Socket> _sockets = [];
        private readonly ConcurrentBag<Task> _tasks = [];
        private readonly Task _accept;

        private RawRecorder(IPEndPoint upstream)
        {
            _upstream = upstream;
            _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(16);
            _accept = AcceptAsync();
        }

        public static RawRecorder Start(string bootstrap)
        {
            var hostPort = bootstrap.Split(',')[0];
            var colon = hostPort.LastIndexOf(':');
            return new RawRecorder(new IPEndPoint(IPAddress.Parse(hostPort[..colon]), int.Parse(hostPort[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture)));
        }

        public string BootstrapServers => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}";

        private async Task AcceptAsync()
        {
            var id = 0;
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptAsync(_stop.Token);
                    var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    _sockets.Add(client);
                    _sockets.Add(server);
                    await server.ConnectAsync(_upstream, _stop.Token);
                    var record = id++ == 0;
                    _tasks.Add(PumpAsync(client, server, record, request: true));
                    _tasks.Add(PumpAsync(server, client, record, request: false));
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
            }
        }

        private async Task PumpAsync(Socket from, Socket to, bool record, bool request)
        {
            var size = new byte[4];
            try
            {
                while (true)
                {
                    if (!await ReadExactlyAsync(from, size)) break;
                    var length = BinaryPrimitives.ReadInt32BigEndian(size);
                    if (length is < 0 or > 16 << 20) throw new InvalidDataException($"frame size {length}");
                    var frame = new byte[length];
                    if (!await ReadExactlyAsync(from, frame)) break;
                    if (record) _first.Enqueue((request, frame));
                    await to.SendAsync(size, SocketFlags.None, _stop.Token);
                    await to.SendAsync(frame, SocketFlags.None, _stop.Token);
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
            }
            catch (SocketException)
            {
            }
            finally
            {
                try { to.Shutdown(SocketShutdown.Send); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            }
        }

        private async Task<bool> ReadExactlyAsync(Socket socket, byte[] buffer)
        {
            var read = 0;
            while (read < buffer.Length)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, _stop.Token);
                if (n == 0) return false;
                read += n;
            }
            return true;
        }

        /// <summary>
        /// The first connection's frames, requests paired with their responses (authentication is lock-step), up to the
        /// first request that is neither ApiVersions, SaslHandshake, SaslAuthenticate nor a raw token after SaslHandshake v0.
        /// </summary>
        public List<RawFrame> Authentication()
        {
            var requests = _first.Where(f => f.Request).Select(f => f.Frame).ToList();
            var responses = _first.Where(f => !f.Request).Select(f => f.Frame).ToList();
            var result = new List<RawFrame>();
            var rawTokens = false;
            for (var i = 0; i < requests.Count && i < responses.Count; i++)
            {
                ApiKey? key;
                short version;
                if (rawTokens)
                {
                    (key, version) = (null, 0);
                    rawTokens = false;
                }
                else
                {
                    key = (ApiKey)BinaryPrimitives.ReadInt16BigEndian(requests[i]);
                    version = BinaryPrimitives.ReadInt16BigEndian(requests[i].AsSpan(2));
                    if (key is not (ApiKey.ApiVersions or ApiKey.SaslHandshake or ApiKey.SaslAuthenticate)) break;
                    rawTokens = key == ApiKey.SaslHandshake && version == 0;
                }
                result.Add(new RawFrame(true, key, version, requests[i]));
                result.Add(new RawFrame(false, key, version, responses[i]));
            }
            return result;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Dispose();
            foreach (var s in _sockets) s.Dispose();
            try { await _accept; } catch (Exception) { }
            foreach (var t in _tasks) try { await t; } catch (Exception) { }
            _stop.Dispose();
        }
    }
}
