using Kiel.Security;

namespace Kiel.Network;

internal partial record ConnectionOptions
{
    /// <summary>TLS and SASL for the connection, or null (the default) for plaintext.</summary>
    public ConnectionSecurity? Security { get; init; }

    /// <summary>The transport: <see cref="TransportFactory"/> (or a TCP socket), with TLS over it when <see cref="Security"/> asks for it.</summary>
    internal IConnectionTransportFactory EffectiveTransport
    {
        get
        {
            var inner = TransportFactory ?? SocketTransportFactory.Instance;
            return Security is { } security ? security.Transport(inner) : inner;
        }
    }
}
