using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Kiel.Network;
using Kiel.Protocol;

namespace Kiel.Tests.Network;

/// <summary>
/// A loopback TCP server for tests that plays a scripted broker: each accepted connection runs the script,
/// which reads requests and answers (or misbehaves) byte by byte.
/// </summary>
internal sealed class ScriptedBroker : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<ScriptedConnection, Task> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accept;

    public ScriptedBroker(Func<ScriptedConnection, Task> script)
    {
        _script = script;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accept = AcceptLoopAsync();
    }

    public int Port { get; }

    public BrokerEndpoint Endpoint => new(1, "127.0.0.1", Port);

    private int _accepted;

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Set by a connection's script when it saw the client close the socket.</summary>
    public TaskCompletionSource ClientClosed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                Interlocked.Increment(ref _accepted);
                var connection = new ScriptedConnection(socket, this, _stop.Token);
                lock (_connections) _connections.Add(Task.Run(async () =>
                {
                    try { await _script(connection); }
                    catch (Exception) { }
                    finally { connection.Dispose(); }
                }));
            }
        }
        catch (Exception) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accept;
        Task[] all;
        lock (_connections) all = [.. _connections];
        await Task.WhenAll(all).WaitAsync(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }

    /// <summary>ApiVersions ranges the scripted broker advertises by default.</summary>
    public static readonly (short Key, short Min, short Max)[] DefaultRanges =
        [(0, 0, 10), (1, 0, 16), (3, 0, 12), (10, 0, 3), (18, 0, 3)];
}
