using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Kiel.Protocol;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Capture;

/// <summary>Which way a captured frame went.</summary>
internal enum FrameDirection
{
    Request,
    Response,
}

/// <summary>One Kafka frame as it crossed the proxy, without its 4-byte size prefix; responses as the broker sent them.</summary>
internal sealed record CapturedFrame(int Connection, FrameDirection Direction, ApiKey ApiKey, short ApiVersion, int CorrelationId, byte[] Frame);

/// <summary>
/// A loopback TCP proxy in front of one broker that records every request and response frame. The broker addresses in
/// Metadata, FindCoordinator and DescribeCluster responses are rewritten to the proxy (by Kiel.Testing's
/// <see cref="BrokerAddressRewriter"/>), so a client that bootstraps through the proxy keeps all its connections on it.
/// </summary>
internal sealed class RecordingProxy : IAsyncDisposable
{
    private const int MaxFrame = 64 << 20;
    private readonly Socket _listener;
    private readonly EndPoint _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<CapturedFrame> _frames = new();
    private readonly ConcurrentBag<Socket> _sockets = [];
    private readonly ConcurrentBag<Task> _tasks = [];
    private readonly Task _acceptLoop;
    private int _connections;

    private readonly Func<ApiKey, bool>? _closesOn;

    private RecordingProxy(EndPoint upstream, Func<ApiKey, bool>? closesOn = null)
    {
        _upstream = upstream;
        _closesOn = closesOn;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>Starts a proxy for the broker at <paramref name="upstreamBootstrap"/> (one <c>host:port</c>).</summary>
    /// <param name="upstreamBootstrap">The broker.</param>
    /// <param name="closesOn">
    /// API keys the proxy does not forward: it closes the client's connection instead, without a response, as a real
    /// 0.8/0.9 broker does on an API key it does not know. Null forwards everything.
    /// </param>
    public static RecordingProxy Start(string upstreamBootstrap, Func<ApiKey, bool>? closesOn = null)
    {
        var hostPort = upstreamBootstrap.Split(',')[0];
        var colon = hostPort.LastIndexOf(':');
        return new RecordingProxy(new IPEndPoint(IPAddress.Parse(hostPort[..colon]), int.Parse(hostPort[(colon + 1)..])), closesOn);
    }

    /// <summary>The proxy's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The bootstrap string that sends a client through the proxy.</summary>
    public string BootstrapServers => $"127.0.0.1:{Port}";

    /// <summary>
    /// Rewrites responses before they reach the client: given the request's API key and version and the response frame
    /// (correlation id first, no size prefix), returns the frame to forward. Used to add aborted-transaction lists to the
    /// mock's Fetch responses. Null forwards frames as they are.
    /// </summary>
    public Func<ApiKey, short, byte[], byte[]>? ResponseHook { get; set; }

    /// <summary>
    /// Sees each request before it is forwarded: given its API key and version and the request frame (header first, no
    /// size prefix), returns null to forward it, or a response frame (correlation id first) that the proxy sends the
    /// client instead, once every earlier response on that connection has been sent. Used to answer for a transaction
    /// coordinator the mock does not emulate. Null forwards everything.
    /// </summary>
    public Func<ApiKey, short, byte[], CancellationToken, Task<byte[]?>>? RequestHook { get; set; }

    /// <summary>Sends one request frame (header first, no size prefix) to the broker on a connection of its own and returns the response frame.</summary>
    public async Task<byte[]> RoundTripAsync(byte[] request, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(_upstream, timeout.Token);
        await WriteFrameAsync(socket, request, timeout.Token);
        return await ReadFrameAsync(socket, timeout.Token) ?? throw new IOException("The broker closed the connection without a response.");
    }

    /// <summary>Every frame so far, in the order seen.</summary>
    public IReadOnlyList<CapturedFrame> Frames => [.. _frames];

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptAsync(_stop.Token);
                _sockets.Add(client);
                _tasks.Add(ServeAsync(client, Interlocked.Increment(ref _connections)));
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task ServeAsync(Socket client, int id)
    {
        using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(upstream);
        var pending = new ConcurrentDictionary<int, (ApiKey Key, short Version)>();
        var connection = new ClientSide();
        try
        {
            await upstream.ConnectAsync(_upstream, _stop.Token);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var up = PumpRequestsAsync(client, upstream, id, pending, connection, linked.Token);
            var down = PumpResponsesAsync(upstream, client, id, pending, connection, linked.Token);
            await Task.WhenAny(up, down);
            linked.Cancel();
            // A pump ended by a reset connection faults: observe that here, or the finalizer reports it to whichever
            // test watches for unobserved task exceptions next.
            await Task.WhenAll(up, down).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }
        catch (Exception)
        {
            // A closed client or broker ends the connection; the capture keeps what crossed before.
        }
        finally
        {
            client.Dispose();
        }
    }

    /// <summary>Writes to one client: forwarded responses still owed to it, and a lock so a local answer keeps the order.</summary>
    private sealed class ClientSide
    {
        public readonly SemaphoreSlim Write = new(1, 1);
        public int Owed;
    }

    private async Task PumpRequestsAsync(Socket from, Socket to, int id, ConcurrentDictionary<int, (ApiKey, short)> pending, ClientSide client, CancellationToken ct)
    {
        while (await ReadFrameAsync(from, ct) is { } frame)
        {
            var key = (ApiKey)BinaryPrimitives.ReadInt16BigEndian(frame);
            var version = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(2));
            var correlationId = BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(4));
            _frames.Enqueue(new CapturedFrame(id, FrameDirection.Request, key, version, correlationId, frame));
            if (_closesOn?.Invoke(key) == true) return; // ends the connection, as an old broker does on an unknown key
            if (RequestHook is { } hook && await hook(key, version, frame, ct) is { } answer)
            {
                // Kafka answers a connection's requests in order: wait until every forwarded one has been answered.
                var waited = System.Diagnostics.Stopwatch.StartNew();
                while (Volatile.Read(ref client.Owed) > 0)
                {
                    if (waited.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("responses owed to the client did not arrive");
                    await Task.Delay(5, ct);
                }
                _frames.Enqueue(new CapturedFrame(id, FrameDirection.Response, key, version, correlationId, answer));
                await client.Write.WaitAsync(ct);
                try { await WriteFrameAsync(from, answer, ct); }
                finally { client.Write.Release(); }
                continue;
            }
            pending[correlationId] = (key, version);
            Interlocked.Increment(ref client.Owed);
            await WriteFrameAsync(to, frame, ct);
        }
    }

    private async Task PumpResponsesAsync(Socket from, Socket to, int id, ConcurrentDictionary<int, (ApiKey Key, short Version)> pending, ClientSide client, CancellationToken ct)
    {
        while (await ReadFrameAsync(from, ct) is { } frame)
        {
            var correlationId = BinaryPrimitives.ReadInt32BigEndian(frame);
            pending.TryRemove(correlationId, out var request);
            _frames.Enqueue(new CapturedFrame(id, FrameDirection.Response, request.Key, request.Version, correlationId, frame));
            var forward = frame.Length <= 4 || !BrokerAddressRewriter.CarriesAddresses((short)request.Key)
                ? frame
                : BrokerAddressRewriter.Rewrite((short)request.Key, request.Version, frame, (_, _) => ("127.0.0.1", Port));
            if (ResponseHook is { } hook && forward.Length > 4) forward = hook(request.Key, request.Version, forward);
            await client.Write.WaitAsync(ct);
            try { await WriteFrameAsync(to, forward, ct); }
            finally
            {
                client.Write.Release();
                Interlocked.Decrement(ref client.Owed);
            }
        }
    }

    private static async Task<byte[]?> ReadFrameAsync(Socket socket, CancellationToken ct)
    {
        var size = new byte[4];
        if (!await ReadExactlyAsync(socket, size, ct)) return null;
        var length = BinaryPrimitives.ReadInt32BigEndian(size);
        if (length < 4 || length > MaxFrame) throw new InvalidDataException($"frame size {length}");
        var frame = new byte[length];
        return await ReadExactlyAsync(socket, frame, ct) ? frame : null;
    }

    private static async Task<bool> ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken ct)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, ct);
            if (n == 0) return false;
            read += n;
        }
        return true;
    }

    private static async Task WriteFrameAsync(Socket socket, byte[] frame, CancellationToken ct)
    {
        var buffer = new byte[4 + frame.Length];
        BinaryPrimitives.WriteInt32BigEndian(buffer, frame.Length);
        frame.CopyTo(buffer, 4);
        var sent = 0;
        while (sent < buffer.Length) sent += await socket.SendAsync(buffer.AsMemory(sent), SocketFlags.None, ct);
    }

    /// <summary>Stops listening and closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        foreach (var s in _sockets) s.Dispose();
        var all = Task.WhenAll([_acceptLoop, .. _tasks]);
        _ = all.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(5)));
        _stop.Dispose();
    }
}
