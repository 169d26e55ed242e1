using System.Net;
using System.Net.Sockets;

namespace Kiel.Testing;

/// <summary>
/// The listeners of a front placed before each broker (the <see cref="FaultProxy"/>, the <see cref="HostileBroker"/>,
/// the secured front): one loopback listener per upstream broker port, the map from an upstream port to its
/// listener's port (for <see cref="BrokerAddressRewriter"/>), and the accept loops. Shared by every such front.
/// </summary>
internal sealed class FrontListeners
{
    private readonly List<TcpListener> _listeners = [];
    private readonly List<int> _upstreamPorts = [];
    private readonly Dictionary<int, int> _portMap = []; // upstream port -> front port

    /// <summary>Opens one listener per port of <paramref name="upstreamPorts"/>, in that order; on a failure the ones opened are stopped.</summary>
    public FrontListeners(IEnumerable<int> upstreamPorts)
    {
        try
        {
            foreach (var port in upstreamPorts)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                _listeners.Add(listener);
                _upstreamPorts.Add(port);
                _portMap[port] = ((IPEndPoint)listener.LocalEndpoint).Port;
            }
        }
        catch
        {
            Stop();
            throw;
        }
    }

    /// <summary>How many listeners (upstream brokers).</summary>
    public int Count => _listeners.Count;

    /// <summary>Comma-separated <c>127.0.0.1:port</c> list of the listeners, in the upstream order.</summary>
    public string BootstrapServers => string.Join(',', _listeners.Select(l => $"127.0.0.1:{((IPEndPoint)l.LocalEndpoint).Port}"));

    /// <summary>The upstream broker port of listener <paramref name="index"/>.</summary>
    public int UpstreamPort(int index) => _upstreamPorts[index];

    /// <summary>The port of listener <paramref name="index"/>.</summary>
    public int Port(int index) => ((IPEndPoint)_listeners[index].LocalEndpoint).Port;

    /// <summary>Maps an advertised broker address to the front's listener for it; an unknown port is left as it is.</summary>
    public (string Host, int Port) Map(string host, int port) => _portMap.TryGetValue(port, out var front) ? ("127.0.0.1", front) : (host, port);

    /// <summary>
    /// Starts an accept loop per listener until <paramref name="stopping"/>: each accepted socket (with no delay set)
    /// goes to <paramref name="serve"/> with its listener's index, and every loop and every task <paramref name="serve"/>
    /// returns is handed to <paramref name="track"/>.
    /// </summary>
    public void Accept(Func<int, Socket, Task> serve, Action<Task> track, CancellationToken stopping)
    {
        for (var i = 0; i < _listeners.Count; i++) track(AcceptLoopAsync(i, serve, track, stopping));
    }

    /// <summary>Stops every listener.</summary>
    public void Stop()
    {
        foreach (var listener in _listeners) listener.Stop();
    }

    private async Task AcceptLoopAsync(int index, Func<int, Socket, Task> serve, Action<Task> track, CancellationToken stopping)
    {
        var listener = _listeners[index];
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            socket.NoDelay = true;
            track(serve(index, socket));
        }
    }
}
