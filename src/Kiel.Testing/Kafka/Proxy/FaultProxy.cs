using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.Testing;

/// <summary>
/// A loopback TCP proxy in front of each broker of a Kafka cluster (the embedded one or any other) that breaks
/// connections on command: <see cref="Cut"/> resets them (RST), <see cref="HalfOpen"/> stops forwarding while the
/// sockets stay open, <see cref="Stall"/> does that for a while, and <see cref="Slow"/> delays every forwarded frame.
/// Clients bootstrap from <see cref="BootstrapServers"/>; the brokers' addresses in Metadata, FindCoordinator and
/// DescribeCluster responses are rewritten to the proxy's listeners, so every later connection goes through it too.
/// </summary>
/// <remarks>
/// Faults apply to one broker's listener (by its index in the upstream bootstrap list) or to all of them. Random
/// choices (<see cref="CutSome"/>) come from the seed given at start, so a run can be replayed. Thread-safe.
/// </remarks>
public sealed class FaultProxy : IAsyncDisposable
{
    private const int MaxFrame = 128 * 1024 * 1024;
    private readonly List<Front> _fronts = [];
    private readonly FrontListeners _listeners;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, bool> _tasks = new();
    private readonly Random _random;
    private readonly ILogger _logger;
    private long _cuts;

    private FaultProxy(IReadOnlyList<(string Host, int Port)> upstreams, int seed, ILogger logger)
    {
        _random = new Random(seed);
        _logger = logger;
        _listeners = new FrontListeners(upstreams.Select(u => u.Port));
        for (var i = 0; i < upstreams.Count; i++)
        {
            _fronts.Add(new Front(this, i, upstreams[i].Host, upstreams[i].Port));
        }

        _listeners.Accept((i, socket) => _fronts[i].Serve(socket, _stopping.Token), Track, _stopping.Token);
    }

    /// <summary>Comma-separated <c>127.0.0.1:port</c> list of the proxy's listeners, one per upstream broker, in the upstream order.</summary>
    public string BootstrapServers => _listeners.BootstrapServers;

    /// <summary>Number of listeners (upstream brokers).</summary>
    public int ListenerCount => _fronts.Count;

    /// <summary>Client connections open through the proxy now.</summary>
    public int OpenConnections => _fronts.Sum(f => f.Connections.Count);

    /// <summary>Connections cut (reset) so far by <see cref="Cut"/> and <see cref="CutSome"/>.</summary>
    public long ConnectionsCut => Interlocked.Read(ref _cuts);

    /// <summary>
    /// Starts a proxy with one loopback listener per broker of <paramref name="upstreamBootstrapServers"/>
    /// (for the embedded cluster, its <see cref="EmbeddedKafkaCluster.BootstrapServers"/>).
    /// </summary>
    /// <param name="upstreamBootstrapServers">Comma-separated <c>host:port</c> list of every broker.</param>
    /// <param name="seed">Seeds the random choices of <see cref="CutSome"/>.</param>
    /// <param name="loggerFactory">Logs faults and ended connections; null logs nothing.</param>
    /// <exception cref="ArgumentException">The list is empty or an entry is not <c>host:port</c>.</exception>
    public static FaultProxy Start(string upstreamBootstrapServers, int seed = 0, ILoggerFactory? loggerFactory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(upstreamBootstrapServers);
        var upstreams = new List<(string, int)>();
        foreach (var entry in upstreamBootstrapServers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = entry.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(entry.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw new ArgumentException($"'{entry}' is not host:port; pass the brokers as host:port,host:port.", nameof(upstreamBootstrapServers));
            }

            upstreams.Add((entry[..colon], port));
        }

        if (upstreams.Count == 0)
        {
            throw new ArgumentException("No broker given; pass the brokers as host:port,host:port.", nameof(upstreamBootstrapServers));
        }

        return new FaultProxy(upstreams, seed, loggerFactory?.CreateLogger<FaultProxy>() ?? (ILogger)NullLogger.Instance);
    }

    /// <summary>Resets (TCP RST) every open connection of one listener, or of all with <paramref name="listener"/> null. New connections are accepted as before.</summary>
    /// <returns>How many connections were cut.</returns>
    public int Cut(int? listener = null) => Targets(listener).Sum(f => f.CutAll());

    /// <summary>Resets each open connection with probability <paramref name="fraction"/> (0–1), chosen from the seed.</summary>
    /// <returns>How many connections were cut.</returns>
    public int CutSome(double fraction)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fraction, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fraction, 1);
        var cut = 0;
        foreach (var f in _fronts)
        {
            foreach (var c in f.Connections.Keys.OrderBy(c => c.Id).ToArray())
            {
                bool pick;
                lock (_random)
                {
                    pick = _random.NextDouble() < fraction;
                }

                if (pick && c.Cut())
                {
                    cut++;
                }
            }
        }

        return cut;
    }

    /// <summary>
    /// Half-open: stops forwarding in both directions on every connection of the listener (and on connections
    /// accepted meanwhile) while keeping the sockets open, until <see cref="Heal"/>. Clients see silence, not a close.
    /// </summary>
    public void HalfOpen(int? listener = null)
    {
        foreach (var f in Targets(listener)) f.Block();
        ProxyLog.Fault(_logger, "half-open", Describe(listener));
    }

    /// <summary>Half-open for <paramref name="duration"/>, then forwarding resumes (a stall: the connections survive).</summary>
    public void Stall(TimeSpan duration, int? listener = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        var targets = Targets(listener).ToArray();
        foreach (var f in targets) f.Block();
        ProxyLog.Fault(_logger, FormattableString.Invariant($"stall {duration.TotalMilliseconds:F0} ms"), Describe(listener));
        Track(Task.Delay(duration, _stopping.Token).ContinueWith(_ =>
        {
            foreach (var f in targets) f.Unblock();
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default));
    }

    /// <summary>Delays every frame forwarded by the listener, in either direction, by <paramref name="perFrame"/>; <see cref="TimeSpan.Zero"/> turns it off.</summary>
    public void Slow(TimeSpan perFrame, int? listener = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perFrame, TimeSpan.Zero);
        foreach (var f in Targets(listener)) f.Latency = perFrame;
        ProxyLog.Fault(_logger, FormattableString.Invariant($"slow {perFrame.TotalMilliseconds:F0} ms per frame"), Describe(listener));
    }

    /// <summary>Ends every fault: forwarding resumes without delay on every listener (cut connections stay cut).</summary>
    public void Heal()
    {
        foreach (var f in _fronts)
        {
            f.Latency = TimeSpan.Zero;
            f.Unblock();
        }

        ProxyLog.Fault(_logger, "heal", "all listeners");
    }

    /// <summary>Stops listening and closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listeners.Stop();
        foreach (var f in _fronts)
        {
            f.Unblock();
            foreach (var c in f.Connections.Keys.ToArray()) c.Close();
        }

        try
        {
            await Task.WhenAll(_tasks.Keys.ToArray()).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    private IEnumerable<Front> Targets(int? listener)
    {
        if (listener is { } i)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(i, nameof(listener));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(i, _fronts.Count, nameof(listener));
            return [_fronts[i]];
        }

        return _fronts;
    }

    private static string Describe(int? listener) => listener is { } i ? $"listener {i}" : "all listeners";

    private void Track(Task task)
    {
        _tasks[task] = true;
        _ = task.ContinueWith(t => _tasks.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private static async Task<byte[]?> ReadFrameAsync(Stream stream, CancellationToken token)
    {
        var size = new byte[4];
        try
        {
            await stream.ReadExactlyAsync(size, token).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            return null;
        }

        var length = BinaryPrimitives.ReadInt32BigEndian(size);
        if (length is < 0 or > MaxFrame)
        {
            throw new IOException($"frame size {length} is out of range");
        }

        var frame = new byte[length + 4];
        size.CopyTo(frame, 0);
        await stream.ReadExactlyAsync(frame.AsMemory(4), token).ConfigureAwait(false);
        return frame;
    }

    /// <summary>One listener (one upstream broker) and its connections.</summary>
    private sealed class Front(FaultProxy proxy, int index, string upstreamHost, int upstreamPort)
    {
        private readonly Lock _gate = new();
        private TaskCompletionSource _open = Opened();
        private long _latencyTicks;
        private long _nextId;

        public ConcurrentDictionary<Connection, bool> Connections { get; } = new();

        public TimeSpan Latency
        {
            get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
            set => Interlocked.Exchange(ref _latencyTicks, value.Ticks);
        }

        /// <summary>Completes when forwarding is allowed.</summary>
        public Task Open
        {
            get
            {
                lock (_gate)
                {
                    return _open.Task;
                }
            }
        }

        private static TaskCompletionSource Opened()
        {
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            tcs.SetResult();
            return tcs;
        }

        public void Block()
        {
            lock (_gate)
            {
                if (_open.Task.IsCompleted)
                {
                    _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
        }

        public void Unblock()
        {
            lock (_gate)
            {
                _open.TrySetResult();
            }
        }

        public int CutAll()
        {
            var n = 0;
            foreach (var c in Connections.Keys.ToArray())
            {
                if (c.Cut()) n++;
            }

            ProxyLog.Fault(proxy._logger, FormattableString.Invariant($"cut {n} connection(s)"), $"listener {index}");
            return n;
        }

        /// <summary>Forwards one accepted client connection to the upstream broker.</summary>
        public Task Serve(Socket socket, CancellationToken token)
        {
            var connection = new Connection(this, Interlocked.Increment(ref _nextId), socket);
            Connections[connection] = true;
            return connection.RunAsync(upstreamHost, upstreamPort, token);
        }

        /// <summary>Waits until forwarding is allowed, then for the listener's latency.</summary>
        public async Task GateAsync(CancellationToken token)
        {
            await Open.WaitAsync(token).ConfigureAwait(false);
            var latency = Latency;
            if (latency > TimeSpan.Zero)
            {
                await Task.Delay(latency, token).ConfigureAwait(false);
            }
        }

        public void Ended(Connection connection, Exception? e)
        {
            Connections.TryRemove(connection, out _);
            if (e is not null)
            {
                ProxyLog.ConnectionEnded(proxy._logger, index, e.GetType().Name, e.Message);
            }
        }

        public (string Host, int Port) Map(string host, int port) => proxy._listeners.Map(host, port);

        public void CountCut() => Interlocked.Increment(ref proxy._cuts);
    }

    /// <summary>One client connection and its upstream connection; frames are forwarded whole.</summary>
    private sealed class Connection(Front front, long id, Socket client)
    {
        // Requests forwarded upstream whose responses may carry addresses: correlation id -> (api key, version).
        private readonly ConcurrentDictionary<int, (short ApiKey, short Version)> _pending = new();
        private readonly CancellationTokenSource _stop = new();
        private Socket? _upstream;
        private int _closed;

        public long Id { get; } = id;

        public async Task RunAsync(string upstreamHost, int upstreamPort, CancellationToken stopping)
        {
            Exception? ended = null;
            using var link = CancellationTokenSource.CreateLinkedTokenSource(stopping, _stop.Token);
            var token = link.Token;
            try
            {
                var upstream = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                _upstream = upstream;
                await upstream.ConnectAsync(upstreamHost, upstreamPort, token).ConfigureAwait(false);
                await using var clientStream = new NetworkStream(client, ownsSocket: false);
                await using var upstreamStream = new NetworkStream(upstream, ownsSocket: false);
                var up = PumpAsync(clientStream, upstreamStream, requests: true, token);
                var down = PumpAsync(upstreamStream, clientStream, requests: false, token);
                await Task.WhenAny(up, down).ConfigureAwait(false);
                await _stop.CancelAsync().ConfigureAwait(false);
                try
                {
                    await Task.WhenAll(up, down).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
                {
                }

                ended = up.Exception?.InnerException ?? down.Exception?.InnerException;
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                ended = e;
            }
            finally
            {
                Close();
                front.Ended(this, ended);
            }
        }

        private async Task PumpAsync(Stream from, Stream to, bool requests, CancellationToken token)
        {
            while (!token.IsCancellationRequested)
            {
                var frame = await ReadFrameAsync(from, token).ConfigureAwait(false);
                if (frame is null)
                {
                    return;
                }

                await front.GateAsync(token).ConfigureAwait(false);
                if (requests)
                {
                    if (frame.Length >= 12)
                    {
                        var apiKey = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(4));
                        if (BrokerAddressRewriter.Concerns(apiKey))
                        {
                            _pending[BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(8))] = (apiKey, BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(6)));
                        }
                    }
                }
                else if (frame.Length >= 8 && _pending.TryRemove(BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(4)), out var request))
                {
                    frame = RewriteFrame(frame, request.ApiKey, request.Version);
                }

                await to.WriteAsync(frame, token).ConfigureAwait(false);
            }
        }

        private byte[] RewriteFrame(byte[] frame, short apiKey, short version)
        {
            byte[] body;
            try
            {
                body = BrokerAddressRewriter.Rewrite(apiKey, version, frame[4..], front.Map);
            }
            catch (Kiel.KafkaProtocolException)
            {
                return frame; // passed on unchanged; the client sees the broker's own answer
            }

            var rewritten = new byte[body.Length + 4];
            BinaryPrimitives.WriteInt32BigEndian(rewritten, body.Length);
            body.CopyTo(rewritten, 4);
            return rewritten;
        }

        /// <summary>Resets the client side (RST: linger 0) and closes the upstream side.</summary>
        public bool Cut()
        {
            if (Volatile.Read(ref _closed) != 0)
            {
                return false;
            }

            try
            {
                client.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            Close();
            front.CountCut();
            return true;
        }

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            _stop.Cancel();
            client.Dispose();
            _upstream?.Dispose();
        }
    }
}

internal static partial class ProxyLog
{
    [LoggerMessage(30, LogLevel.Information, "Fault proxy: {Fault} on {Target}")]
    public static partial void Fault(ILogger logger, string fault, string target);

    [LoggerMessage(31, LogLevel.Debug, "Fault proxy: a connection through listener {Listener} ended ({Kind}: {Message})")]
    public static partial void ConnectionEnded(ILogger logger, int listener, string kind, string message);
}
