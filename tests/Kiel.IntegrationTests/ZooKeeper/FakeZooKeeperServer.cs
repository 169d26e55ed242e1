using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Kiel.IntegrationTests.ZooKeeper;

/// <summary>A scripted ZooKeeper peer on 127.0.0.1: records connect requests and misbehaves on purpose.</summary>
public sealed class FakeZooKeeperServer : IAsyncDisposable
{
    public enum Behaviour
    {
        /// <summary>Read the connect request and close, as a server behind the client's zxid does.</summary>
        RefuseHandshake,
        /// <summary>Accept the session, then answer the first request with a 2 GiB frame length.</summary>
        HostileReplyLength,
        /// <summary>Answer a request for an existing session with timeout 0 (the session expired); refuse new sessions.</summary>
        ExpireSession,
        /// <summary>Accept the session with a 90 s timeout, then read requests (counting pings) and never answer.</summary>
        SilentSession,
    }

    /// <summary>The negotiated session timeout <see cref="Behaviour.SilentSession"/> grants.</summary>
    public static readonly TimeSpan SilentSessionTimeout = TimeSpan.FromSeconds(90);

    private int _pings;

    /// <summary>Pings received (xid -2, type 11) by <see cref="Behaviour.SilentSession"/>.</summary>
    public int Pings => Volatile.Read(ref _pings);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _cts = new();
    private readonly Behaviour _behaviour;
    private readonly Task _loop;

    public FakeZooKeeperServer(Behaviour behaviour)
    {
        _behaviour = behaviour;
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public string ConnectString => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>(lastZxidSeen, sessionId) of every connect request received.</summary>
    public ConcurrentQueue<(long LastZxid, long SessionId)> ConnectRequests { get; } = new();

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                using var socket = await _listener.AcceptSocketAsync(_cts.Token);
                try { await ServeAsync(socket); }
                catch (Exception e) when (e is SocketException or IOException) { }
            }
        }
        // Stopping the listener while the loop is between accepts surfaces as InvalidOperationException ("Not listening").
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException || (e is InvalidOperationException && _cts.IsCancellationRequested)) { }
    }

    private async Task ServeAsync(Socket socket)
    {
        var request = new byte[49];
        await ReadExactAsync(socket, request);
        ConnectRequests.Enqueue((BinaryPrimitives.ReadInt64BigEndian(request.AsSpan(8)), BinaryPrimitives.ReadInt64BigEndian(request.AsSpan(20))));
        if (_behaviour == Behaviour.RefuseHandshake) return;
        if (_behaviour == Behaviour.ExpireSession)
        {
            if (BinaryPrimitives.ReadInt64BigEndian(request.AsSpan(20)) == 0) return;
            var expired = new byte[4 + 4 + 4 + 8 + 4 + 16 + 1];
            BinaryPrimitives.WriteInt32BigEndian(expired, expired.Length - 4);
            BinaryPrimitives.WriteInt32BigEndian(expired.AsSpan(20), 16);
            await socket.SendAsync(expired, SocketFlags.None, _cts.Token);
            return;
        }

        var reply = new byte[4 + 4 + 4 + 8 + 4 + 16 + 1];
        BinaryPrimitives.WriteInt32BigEndian(reply, reply.Length - 4);
        BinaryPrimitives.WriteInt32BigEndian(reply.AsSpan(8), _behaviour == Behaviour.SilentSession ? (int)SilentSessionTimeout.TotalMilliseconds : 4000);
        BinaryPrimitives.WriteInt64BigEndian(reply.AsSpan(12), 0x5eed);
        BinaryPrimitives.WriteInt32BigEndian(reply.AsSpan(20), 16);
        await socket.SendAsync(reply, SocketFlags.None, _cts.Token);
        if (_behaviour == Behaviour.SilentSession)
        {
            var length = new byte[4];
            while (true)
            {
                await ReadExactAsync(socket, length);
                var frame = new byte[BinaryPrimitives.ReadInt32BigEndian(length)];
                await ReadExactAsync(socket, frame);
                if (frame.Length >= 8 && BinaryPrimitives.ReadInt32BigEndian(frame) == -2 && BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(4)) == 11)
                    Interlocked.Increment(ref _pings);
            }
        }
        var header = new byte[4];
        await ReadExactAsync(socket, header);
        await ReadExactAsync(socket, new byte[BinaryPrimitives.ReadInt32BigEndian(header)]);
        var hostile = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(hostile, 0x7fff_fff0);
        await socket.SendAsync(hostile, SocketFlags.None, _cts.Token);
        await Task.Delay(TimeSpan.FromSeconds(10), _cts.Token);
    }

    private async Task ReadExactAsync(Socket socket, Memory<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, _cts.Token);
            if (n == 0) throw new IOException("closed");
            buffer = buffer[n..];
        }
    }

    public async ValueTask DisposeAsync()
    {
        _cts.Cancel();
        _listener.Stop();
        try { await _loop.WaitAsync(TimeSpan.FromSeconds(5)); } catch (TimeoutException) { }
    }
}
