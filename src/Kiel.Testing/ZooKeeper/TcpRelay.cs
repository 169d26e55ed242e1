using System.Net;
using System.Net.Sockets;

namespace Kiel.Testing.ZooKeeper;

/// <summary>
/// A plain TCP relay on 127.0.0.1 to one target port, which a test can stall: while stalled nothing is forwarded in
/// either direction, not even a close, as on a network link that stops carrying packets. Used between ensemble members
/// so that one member's link to the others can be cut off without stopping any process.
/// It can also drop (<see cref="Drop"/>): bytes in both directions are read and thrown away and no close is passed
/// on, as in a network partition, until <see cref="Restore"/> closes every connection (their streams lost bytes) and
/// forwards again. The integration tests put it between a ZooKeeper client and its server.
/// </summary>
internal sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly Lock _gate = new();
    private TaskCompletionSource _flowing = NewFlowing(open: true);
    private volatile bool _dropping;
    private readonly Task _accepting;

    public TcpRelay(int target)
    {
        _target = target;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>The relay's own port.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The relay as a one-host connect string, <c>127.0.0.1:port</c>.</summary>
    public string ConnectString => $"127.0.0.1:{Port}";

    /// <summary>
    /// Drops from now on: bytes in both directions (also of connections opened meanwhile) are read and thrown away,
    /// and a close is not passed on, until <see cref="Restore"/>.
    /// </summary>
    public void Drop() => _dropping = true;

    /// <summary>Ends <see cref="Drop"/>: closes every connection relayed so far (their streams lost bytes) and forwards new ones.</summary>
    public void Restore()
    {
        _dropping = false;
        CloseConnections();
    }

    /// <summary>Closes every connection relayed so far, both sides (the listener stays open).</summary>
    public void CloseConnections()
    {
        lock (_gate)
        {
            foreach (var s in _sockets) s.Dispose();
            _sockets.Clear();
        }
    }

    /// <summary>Stops forwarding (both directions) until <see cref="Resume"/>.</summary>
    public void Stall()
    {
        lock (_gate) if (_flowing.Task.IsCompleted) _flowing = NewFlowing(open: false);
    }

    /// <summary>Forwards again what was held back, and from then on.</summary>
    public void Resume()
    {
        lock (_gate) _flowing.TrySetResult();
    }

    private static TaskCompletionSource NewFlowing(bool open)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (open) tcs.SetResult();
        return tcs;
    }

    private Task Flowing
    {
        get { lock (_gate) return _flowing.Task; }
    }

    private async Task AcceptAsync()
    {
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var inbound = await _listener.AcceptSocketAsync(token).ConfigureAwait(false);
                var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                inbound.NoDelay = true;
                try { await outbound.ConnectAsync(IPAddress.Loopback, _target, token).ConfigureAwait(false); }
                catch (SocketException)
                {
                    inbound.Dispose();
                    outbound.Dispose();
                    continue;
                }
                lock (_gate) _sockets.AddRange([inbound, outbound]);
                _ = PumpAsync(inbound, outbound, token);
                _ = PumpAsync(outbound, inbound, token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { }
    }

    private async Task PumpAsync(Socket from, Socket to, CancellationToken token)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                // Hold here while stalled: nothing is read, so nothing (data or end of stream) goes on.
                await Flowing.WaitAsync(token).ConfigureAwait(false);
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, token).ConfigureAwait(false);
                await Flowing.WaitAsync(token).ConfigureAwait(false);
                if (_dropping)
                {
                    // A partition: the bytes are lost and the other side hears nothing, not even this side's close.
                    if (n == 0) return;
                    continue;
                }
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // One side failed: close both, as a link that breaks does (not while dropping: the other side hears nothing).
            if (!_dropping)
            {
                from.Dispose();
                to.Dispose();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _listener.Stop();
        CloseConnections();
        try { await _accepting.ConfigureAwait(false); } catch (Exception) { }
        _stop.Dispose();
    }
}
