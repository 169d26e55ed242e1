using System.Net.Sockets;

namespace Kiel.Network;

/// <summary>
/// Opens the byte stream a <see cref="BrokerConnection"/> runs over. The default is a TCP socket wrapped in a
/// <see cref="NetworkStream"/>; TLS slots in here as an <c>SslStream</c> over that stream, and tests pass an
/// in-memory duplex stream. The connection owns and disposes the stream it is given.
/// </summary>
internal interface IConnectionTransportFactory
{
    /// <summary>Connects to <paramref name="endpoint"/> and returns a readable, writable stream.</summary>
    /// <exception cref="KafkaConnectionException">The broker is unreachable.</exception>
    ValueTask<Stream> ConnectAsync(BrokerEndpoint endpoint, ConnectionOptions options, CancellationToken cancellationToken);
}

/// <summary>Plain TCP: a socket with Nagle off and the configured buffer sizes, as a <see cref="NetworkStream"/> that owns it.</summary>
internal sealed class SocketTransportFactory : IConnectionTransportFactory
{
    /// <summary>The one instance.</summary>
    public static SocketTransportFactory Instance { get; } = new();

    private SocketTransportFactory()
    {
    }

    /// <inheritdoc />
    public async ValueTask<Stream> ConnectAsync(BrokerEndpoint endpoint, ConnectionOptions options, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (options.SocketBufferSize > 0)
            {
                socket.ReceiveBufferSize = options.SocketBufferSize;
                socket.SendBufferSize = options.SocketBufferSize;
            }
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new KafkaConnectionException(endpoint, $"could not connect ({e.SocketErrorCode}: {e.Message})", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
