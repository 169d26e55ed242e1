using Kiel;

namespace Kiel.Testing;

/// <summary>
/// A secured front for <see cref="EmbeddedKafkaCluster"/> (set <see cref="EmbeddedKafkaOptions.Security"/>): per mock
/// broker a listener that speaks TLS and/or SASL, authenticates clients, and forwards every other frame to the
/// plaintext mock broker. Certificates (a CA, a server certificate for 127.0.0.1 and localhost, a client
/// certificate) are generated at start into a temporary folder that is deleted on dispose.
/// </summary>
public sealed record EmbeddedSecurityOptions
{
    /// <summary>What the listeners speak. Default <see cref="SecurityProtocol.SaslSsl"/>; <see cref="SecurityProtocol.Plaintext"/> is not allowed here.</summary>
    public SecurityProtocol Protocol { get; init; } = SecurityProtocol.SaslSsl;

    /// <summary>The SASL mechanisms the listeners enable. Default all four: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (unsecured JWS).</summary>
    public IReadOnlyList<SaslMechanism> SaslMechanisms { get; init; } = [SaslMechanism.Plain, SaslMechanism.ScramSha256, SaslMechanism.ScramSha512, SaslMechanism.OAuthBearer];

    /// <summary>The user that PLAIN and SCRAM accept. Default <c>kiel</c>.</summary>
    public string Username { get; init; } = "kiel";

    /// <summary>The user's password; null (the default) generates a random one (see <see cref="EmbeddedSecurity.Password"/>).</summary>
    public string? Password { get; init; }

    /// <summary>
    /// The session lifetime given to authenticated clients (KIP-368, SaslAuthenticate v1+); a connection that sends a
    /// request after it ends without re-authenticating is closed, as a broker does. Null (default): no limit.
    /// </summary>
    public TimeSpan? SessionLifetime { get; init; }

    /// <summary>Ask TLS clients for a certificate signed by the generated CA, and refuse the handshake without one. Default false.</summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary>
    /// Act as a pre-KIP-152 broker (Kafka 0.10.0-0.11.0): ApiVersions offers SaslHandshake v0 only and no
    /// SaslAuthenticate, so clients exchange raw size-prefixed SASL tokens after the handshake. Default false.
    /// </summary>
    internal bool LegacySasl { get; init; }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message says which and what is allowed.</exception>
    public void Validate()
    {
        if (Protocol is SecurityProtocol.Plaintext || !Enum.IsDefined(Protocol))
            throw new ArgumentException($"Security.Protocol must be Ssl, SaslPlaintext or SaslSsl (was {Protocol}); leave Security null for a plaintext cluster.", nameof(Protocol));
        if (Protocol is SecurityProtocol.SaslPlaintext or SecurityProtocol.SaslSsl && (SaslMechanisms is null || SaslMechanisms.Count == 0))
            throw new ArgumentException("Security.SaslMechanisms is empty; enable at least one mechanism for a SASL listener.", nameof(SaslMechanisms));
        if (string.IsNullOrEmpty(Username) || Username.Contains('\0', StringComparison.Ordinal))
            throw new ArgumentException("Security.Username must be a non-empty name without NUL.", nameof(Username));
        if (SessionLifetime is { } lifetime && (lifetime <= TimeSpan.Zero || lifetime.TotalMilliseconds > int.MaxValue))
            throw new ArgumentException($"Security.SessionLifetime must be positive (was {lifetime}); leave it null for no limit.", nameof(SessionLifetime));
        if (RequireClientCertificate && Protocol == SecurityProtocol.SaslPlaintext)
            throw new ArgumentException("Security.RequireClientCertificate needs a TLS protocol (Ssl or SaslSsl).", nameof(RequireClientCertificate));
    }

    /// <summary>Which server certificate the front presents; tests pick a broken one to check client errors.</summary>
    internal ServerCertificateKind ServerCertificate { get; init; } = ServerCertificateKind.Valid;

    /// <summary>
    /// Rewrites responses the mock sends (after the front's own rewriting of broker addresses): it gets the API key,
    /// the API version and the whole response without its size prefix (header and body), and returns a replacement
    /// (again without the size prefix) or null to pass the response on unchanged. Called on the front's I/O task.
    /// </summary>
    internal Func<short, short, ReadOnlyMemory<byte>, byte[]?>? ResponseHook { get; init; }
}

/// <summary>The server certificate variants the front can present.</summary>
internal enum ServerCertificateKind
{
    /// <summary>Signed by the generated CA, for 127.0.0.1 and localhost, valid now.</summary>
    Valid,
    /// <summary>Signed by the CA, right names, but expired yesterday.</summary>
    Expired,
    /// <summary>Signed by the CA, valid, but for another host name only.</summary>
    WrongHost,
}
