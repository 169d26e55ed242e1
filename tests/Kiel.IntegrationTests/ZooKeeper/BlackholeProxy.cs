using System.Net;
using System.Net.Sockets;

namespace Kiel.IntegrationTests.ZooKeeper;

/// <summary>
/// A TCP proxy on 127.0.0.1 that can silently stop forwarding (keeping sockets open), as a network partition does;
/// the client then sees neither replies nor a closed socket.
/// </summary>
public sealed class BlackholeProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _cts = new();
    private readonly List<Socket> _sockets = [];
    private readonly Task _accept;
    private volatile bool _blackholed;

    public BlackholeProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _accept = Task.Run(AcceptLoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string ConnectString => $"127.0.0.1:{Port}";

    /// <summary>Stops forwarding: bytes in both directions are read and dropped.</summary>
    public void Blackhole() => _blackholed = true;

    /// <summary>Forwards again; connections opened while blackholed are closed (their streams lost bytes).</summary>
    public void Restore()
    {
        _blackholed = false;
        lock (_sockets)
        {
            foreach (var s in _sockets) s.Dispose();
            _sockets.Clear();
        }
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptSocketAsync(_cts.Token);
                var server = new Socket(SocketType.Stream, ProtocolType.Tcp);
                try { await server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _targetPort), _cts.Token); }
                catch (SocketException) { client.Dispose(); server.Dispose(); continue; }
                lock (_sockets) { _sockets.Add(client); _sockets.Add(server); }
                _ = PumpAsync(client, server);
                _ = PumpAsync(server, client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, _cts.Token);
                if (n == 0) break;
                if (_blackholed) continue;
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _cts.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        finally
        {
            if (!_blackholed) { from.Dispose(); to.Dispose(); }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _cts.Cancel();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (var s in _sockets) s.Dispose();
            _sockets.Clear();
        }
        try { await _accept.WaitAsync(TimeSpan.FromSeconds(5)); } catch (TimeoutException) { }
    }
}
