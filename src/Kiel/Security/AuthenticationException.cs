namespace Kiel;

/// <summary>
/// A broker refused the client's credentials, or the TLS handshake failed (an untrusted or expired certificate, a
/// host name the certificate does not cover). Not retriable: the same settings fail the same way. The message
/// names the broker, the mechanism (or <c>TLS</c>) and what to check, and never holds a secret.
/// </summary>
public sealed class AuthenticationException : KielException
{
    internal AuthenticationException(string broker, string mechanism, string problem, string check, Exception? innerException = null)
        : base($"Authentication with broker {broker} using {mechanism} failed: {problem}. Check {check}.", innerException)
    {
        Broker = broker;
        Mechanism = mechanism;
    }

    /// <summary>The broker (<c>host:port</c>, with its id when known).</summary>
    public string Broker { get; }

    /// <summary>The SASL mechanism (<c>PLAIN</c>, <c>SCRAM-SHA-256</c>, ...) or <c>TLS</c> for a handshake failure.</summary>
    public string Mechanism { get; }

    /// <inheritdoc />
    public override bool IsRetriable => false;
}
