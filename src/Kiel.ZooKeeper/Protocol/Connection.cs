using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Kiel.ZooKeeper.Protocol;

/// <summary>
/// One TCP connection to one server for one session: the handshake, a send loop that coalesces queued frames,
/// a receive loop that matches replies by xid, and pings. The first failure ends it for good and fails every
/// request still waiting with <see cref="ConnectionLossException"/>; the client then opens another.
/// </summary>
internal sealed class Connection
{
    private readonly Socket _socket;
    // Writes go to the transport (the socket's stream, or TLS over it); reads through a buffer over it.
    private readonly Stream _transport;
    private readonly Stream _stream;
    private readonly Channel<(byte[] Buffer, int Length)> _outgoing =
        Channel.CreateUnbounded<(byte[], int)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<int, PendingRequest> _pending = new();
    private readonly ConcurrentQueue<PendingRequest> _authPending = new();
    private readonly ConcurrentQueue<PendingRequest> _setWatchesPending = new();
    private readonly CancellationTokenSource _cts = new();
    private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _sendLock = new();
    private readonly Action<WatcherEventMessage> _onNotification;
    private readonly Action<long> _onZxid;
    private readonly int _maxReplySize;
    private readonly TimeSpan _readTimeout;
    private readonly TimeSpan _pingInterval;
    private readonly TimeProvider _time;
    private long _lastSendTimestamp;
    private long _lastContact;
    private readonly ConcurrentQueue<long> _pingsQueuedAt = new();
    private int _nextXid;
    private volatile bool _failed;

    private Connection(Socket socket, Stream transport, string server, ConnectResponse session, int maxReplySize,
        Action<WatcherEventMessage> onNotification, Action<long> onZxid, TimeProvider time)
    {
        _socket = socket;
        _time = time;
        _transport = transport;
        _stream = new BufferedStream(transport, 64 * 1024);
        Server = server;
        Session = session;
        _maxReplySize = maxReplySize;
        _onNotification = onNotification;
        _onZxid = onZxid;
        _readTimeout = TimeSpan.FromMilliseconds(session.TimeoutMs * 2.0 / 3);
        _pingInterval = TimeSpan.FromMilliseconds(session.TimeoutMs / 3.0);
        _lastSendTimestamp = time.GetTimestamp();
    }

    internal string Server { get; }

    /// <summary>True once the connection has failed or closed.</summary>
    internal bool IsFailed => _failed;
    internal ConnectResponse Session { get; }

    /// <summary>
    /// The timestamp (of the client's <see cref="TimeProvider"/>) at which the newest answered request (or the handshake) was queued: the
    /// server held the session at least until then. A reply read late (after a freeze) is no fresher than its request.
    /// </summary>
    internal long LastContact => Volatile.Read(ref _lastContact);

    private void NoteContact(long queuedAt)
    {
        long current;
        while (queuedAt > (current = Volatile.Read(ref _lastContact)))
            if (Interlocked.CompareExchange(ref _lastContact, queuedAt, current) == current) break;
    }

    /// <summary>Completes when the connection ends, with the reason (null for an orderly close).</summary>
    internal Task<Exception?> Closed => _closed.Task;

    /// <summary>Thrown by <see cref="OpenAsync"/> when the server says the session has expired.</summary>
    internal sealed class SessionExpiredAtHandshake : Exception;

    /// <summary>Connects, performs the handshake and starts the loops. The whole is bounded by <paramref name="timeout"/>.</summary>
    internal static async Task<Connection> OpenAsync(string host, int port, long lastZxid, int requestedTimeoutMs, long sessionId,
        byte[] password, int maxReplySize, Action<WatcherEventMessage> onNotification, Action<long> onZxid,
        TimeSpan timeout, TimeProvider time, LoadedTls? tls, CancellationToken cancellationToken)
    {
        using var limit = new CancellationTokenSource(timeout, time);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? transport = null;
        try
        {
            if (IPAddress.TryParse(host, out var address))
                await socket.ConnectAsync(new IPEndPoint(address, port), cts.Token).ConfigureAwait(false);
            else
                await socket.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
            transport = new NetworkStream(socket, ownsSocket: false);
            if (tls is not null) transport = await ZooKeeperTls.AuthenticateAsync(transport, host, tls, cts.Token).ConfigureAwait(false);
            var handshakeQueuedAt = time.GetTimestamp();
            using (var w = new JuteWriter(64))
            {
                ConnectResponse.WriteRequest(w, lastZxid, requestedTimeoutMs, sessionId, password, readOnly: false);
                await transport.WriteAsync(w.WrittenMemory, cts.Token).ConfigureAwait(false);
                await transport.FlushAsync(cts.Token).ConfigureAwait(false);
            }
            var header = new byte[4];
            await ReceiveExactAsync(transport, header, cts.Token).ConfigureAwait(false);
            var length = BinaryPrimitives.ReadInt32BigEndian(header);
            // The answer is 36 or 37 bytes; anything else is not a ZooKeeper server we can talk to.
            if (length is < 20 or > 1024)
                throw new ZooKeeperProtocolException("ConnectResponse", "length", $"is {length}");
            var body = new byte[length];
            await ReceiveExactAsync(transport, body, cts.Token).ConfigureAwait(false);
            var reader = new JuteReader(body, "ConnectResponse");
            var response = ConnectResponse.Read(ref reader);
            if (response.TimeoutMs <= 0) throw new SessionExpiredAtHandshake();
            var connection = new Connection(socket, transport, $"{host}:{port}", response, maxReplySize, onNotification, onZxid, time);
            connection._lastContact = handshakeQueuedAt;
            connection.Start();
            return connection;
        }
        catch
        {
            if (transport is not null) await transport.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
            throw;
        }
    }

    private static async Task ReceiveExactAsync(Stream stream, Memory<byte> buffer, CancellationToken ct)
    {
        while (buffer.Length > 0)
        {
            var n = await stream.ReadAsync(buffer, ct).ConfigureAwait(false);
            if (n == 0) throw new EndOfStreamException("The server closed the connection during the handshake (a server behind our last seen zxid refuses us).");
            buffer = buffer[n..];
        }
    }

    private void Start()
    {
        _ = Task.Run(SendLoopAsync);
        _ = Task.Run(ReceiveLoopAsync);
        _ = Task.Run(PingLoopAsync);
    }

    /// <summary>Queues a request. The writer must hold a frame whose bytes 4..8 are the xid placeholder.</summary>
    /// <returns>False when the connection has already failed (the request was not queued).</returns>
    internal bool TrySend(JuteWriter frame, PendingRequest pending, int fixedXid = 0)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(frame.Length);
        frame.WrittenSpan.CopyTo(buffer);
        lock (_sendLock)
        {
            if (_failed)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                return false;
            }
            var xid = fixedXid;
            if (fixedXid == 0)
            {
                // Server xids only need to be unique among the requests in flight; skip the reserved negatives on wrap.
                xid = ++_nextXid;
                if (xid <= 0) { _nextXid = 1; xid = 1; }
                pending.QueuedAt = _time.GetTimestamp();
                _pending[xid] = pending;
            }
            else if (fixedXid == SpecialXid.Auth) _authPending.Enqueue(pending);
            else if (fixedXid == SpecialXid.SetWatches) _setWatchesPending.Enqueue(pending);
            BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(4), xid);
            _outgoing.Writer.TryWrite((buffer, frame.Length));
        }
        return true;
    }

    private void SendPing()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(12);
        BinaryPrimitives.WriteInt32BigEndian(buffer, 8);
        BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(4), SpecialXid.Ping);
        BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(8), (int)OpCode.Ping);
        lock (_sendLock)
        {
            if (_failed) { ArrayPool<byte>.Shared.Return(buffer); return; }
            // Pings are answered in order: each reply takes the oldest queue time.
            _pingsQueuedAt.Enqueue(_time.GetTimestamp());
            _outgoing.Writer.TryWrite((buffer, 12));
        }
    }

    private async Task SendLoopAsync()
    {
        var batch = new byte[64 * 1024];
        try
        {
            var reader = _outgoing.Reader;
            while (await reader.WaitToReadAsync(_cts.Token).ConfigureAwait(false))
            {
                var used = 0;
                while (reader.TryRead(out var item))
                {
                    try
                    {
                        if (used + item.Length > batch.Length)
                        {
                            if (used > 0) { await SendAllAsync(batch.AsMemory(0, used)).ConfigureAwait(false); used = 0; }
                            if (item.Length > batch.Length) { await SendAllAsync(item.Buffer.AsMemory(0, item.Length)).ConfigureAwait(false); continue; }
                        }
                        item.Buffer.AsSpan(0, item.Length).CopyTo(batch.AsSpan(used));
                        used += item.Length;
                    }
                    finally { ArrayPool<byte>.Shared.Return(item.Buffer); }
                }
                if (used > 0) await SendAllAsync(batch.AsMemory(0, used)).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    private async Task SendAllAsync(ReadOnlyMemory<byte> data)
    {
        await _transport.WriteAsync(data, _cts.Token).ConfigureAwait(false);
        Volatile.Write(ref _lastSendTimestamp, _time.GetTimestamp());
    }

    private async Task PingLoopAsync()
    {
        try
        {
            var tick = TimeSpan.FromMilliseconds(Math.Max(10, _pingInterval.TotalMilliseconds / 4));
            while (!_cts.IsCancellationRequested)
            {
                await Task.Delay(tick, _time, _cts.Token).ConfigureAwait(false);
                if (_time.GetElapsedTime(Volatile.Read(ref _lastSendTimestamp)) >= _pingInterval) SendPing();
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task ReceiveLoopAsync()
    {
        var header = new byte[4];
        byte[] body = ArrayPool<byte>.Shared.Rent(64 * 1024);
        // Created with the clock, so that CancelAfter below runs on it.
        using var readTimeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token, readTimeout.Token);
        try
        {
            while (true)
            {
                // Pings every third of the timeout make the server answer; silence for two thirds means the server is gone.
                readTimeout.CancelAfter(_readTimeout);
                try { await _stream.ReadExactlyAsync(header, linked.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (readTimeout.IsCancellationRequested && !_cts.IsCancellationRequested)
                {
                    throw new TimeoutException($"No reply from {Server} for {_readTimeout.TotalMilliseconds:0} ms (two thirds of the session timeout).");
                }
                var length = BinaryPrimitives.ReadInt32BigEndian(header);
                if (length < 16 || length > _maxReplySize)
                    throw new ZooKeeperProtocolException("reply", "length", $"is {length} (allowed 16..{_maxReplySize})");
                if (length > body.Length)
                {
                    ArrayPool<byte>.Shared.Return(body);
                    body = ArrayPool<byte>.Shared.Rent(length);
                }
                await _stream.ReadExactlyAsync(body.AsMemory(0, length), linked.Token).ConfigureAwait(false);
                Dispatch(body.AsSpan(0, length));
            }
        }
        catch (Exception e)
        {
            Fail(e is EndOfStreamException ? new IOException($"{Server} closed the connection.", e) : e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    private void Dispatch(ReadOnlySpan<byte> frame)
    {
        var reader = new JuteReader(frame, "ReplyHeader");
        var xid = reader.ReadInt("xid");
        var zxid = reader.ReadLong("zxid");
        var err = (ZooKeeperErrorCode)reader.ReadInt("err");
        if (zxid > 0) _onZxid(zxid);
        switch (xid)
        {
            case SpecialXid.Ping:
                if (_pingsQueuedAt.TryDequeue(out var pingQueuedAt)) NoteContact(pingQueuedAt);
                return;
            case SpecialXid.Notification:
                {
                    var body = new JuteReader(frame[reader.Position..], "WatcherEvent");
                    _onNotification(WatcherEventMessage.Read(ref body));
                    return;
                }
            case SpecialXid.Auth:
                {
                    _authPending.TryDequeue(out var p);
                    // The server closes the connection after a failed auth: mark it failed before the caller hears of the
                    // failure, so that its next request waits for the reconnect instead of going out on a dying socket.
                    if (err == ZooKeeperErrorCode.AuthFailed) Fail(new AuthFailedException(null));
                    if (p is not null) { var b = new JuteReader(frame[reader.Position..], "AuthReply"); p.Complete(err, ref b); }
                    if (err == ZooKeeperErrorCode.AuthFailed) throw new AuthFailedException(null);
                    return;
                }
            case SpecialXid.SetWatches:
                {
                    if (_setWatchesPending.TryDequeue(out var p)) { var b = new JuteReader(frame[reader.Position..], "SetWatchesReply"); p.Complete(err, ref b); }
                    return;
                }
        }
        if (!_pending.TryRemove(xid, out var pending))
            throw new ZooKeeperProtocolException("reply", "xid", $"{xid} matches no request in flight");
        if (err != ZooKeeperErrorCode.SessionExpired) NoteContact(pending.QueuedAt);
        var replyBody = new JuteReader(frame[reader.Position..], pending.Op.ToString());
        pending.Complete(err, ref replyBody);
    }

    /// <summary>Ends the connection and fails everything still waiting.</summary>
    internal void Fail(Exception? reason)
    {
        lock (_sendLock)
        {
            if (_failed) return;
            _failed = true;
            _outgoing.Writer.TryComplete();
        }
        _cts.Cancel();
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        _socket.Dispose();
        // TLS state (and the socket's stream) go with the socket; a failed dispose of a broken stream does not matter.
        try { _transport.Dispose(); } catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException) { }
        foreach (var key in _pending.Keys)
            if (_pending.TryRemove(key, out var p))
                p.Fail(new ConnectionLossException(p.Path, $"The connection to {Server} was lost" + (p.Path is null ? "." : $" while {p.Op} {p.Path} was in flight; it may or may not have been applied."), reason));
        while (_authPending.TryDequeue(out var a)) a.Fail(new ConnectionLossException(null, null, reason));
        while (_setWatchesPending.TryDequeue(out var s)) s.Fail(new ConnectionLossException(null, null, reason));
        while (_outgoing.Reader.TryRead(out var item)) ArrayPool<byte>.Shared.Return(item.Buffer);
        _closed.TrySetResult(reason);
    }
}
