namespace Kiel;

/// <summary>How a client talks to brokers, with Kafka's names (<c>security.protocol</c>).</summary>
public enum SecurityProtocol
{
    /// <summary><c>PLAINTEXT</c>: no TLS, no SASL. The default.</summary>
    Plaintext = 0,

    /// <summary><c>SSL</c>: TLS, optionally with a client certificate (mutual TLS).</summary>
    Ssl = 1,

    /// <summary><c>SASL_PLAINTEXT</c>: SASL authentication without TLS (credentials and data in the clear).</summary>
    SaslPlaintext = 2,

    /// <summary><c>SASL_SSL</c>: SASL authentication over TLS.</summary>
    SaslSsl = 3,
}

/// <summary>The SASL mechanism a client authenticates with (<c>sasl.mechanism</c>).</summary>
public enum SaslMechanism
{
    /// <summary><c>PLAIN</c>: user name and password (RFC 4616). Use it over TLS only.</summary>
    Plain = 0,

    /// <summary><c>SCRAM-SHA-256</c> (RFC 5802, RFC 7677): the password never crosses the wire and the broker proves it knows it.</summary>
    ScramSha256 = 1,

    /// <summary><c>SCRAM-SHA-512</c>.</summary>
    ScramSha512 = 2,

    /// <summary><c>OAUTHBEARER</c> (KIP-255): a bearer token from <see cref="KielClientOptions.OAuthBearerTokenProvider"/>.</summary>
    OAuthBearer = 3,
}

/// <summary>Kafka's names of <see cref="SecurityProtocol"/> and <see cref="SaslMechanism"/> values.</summary>
internal static class SecurityNames
{
    public static string Of(SecurityProtocol protocol) => protocol switch
    {
        SecurityProtocol.Plaintext => "PLAINTEXT",
        SecurityProtocol.Ssl => "SSL",
        SecurityProtocol.SaslPlaintext => "SASL_PLAINTEXT",
        SecurityProtocol.SaslSsl => "SASL_SSL",
        _ => protocol.ToString(),
    };

    public static string Of(SaslMechanism mechanism) => mechanism switch
    {
        SaslMechanism.Plain => "PLAIN",
        SaslMechanism.ScramSha256 => "SCRAM-SHA-256",
        SaslMechanism.ScramSha512 => "SCRAM-SHA-512",
        SaslMechanism.OAuthBearer => "OAUTHBEARER",
        _ => mechanism.ToString(),
    };

    public static bool TryParseProtocol(string? text, out SecurityProtocol protocol)
    {
        protocol = default;
        switch (text?.Trim().Replace('-', '_').ToUpperInvariant())
        {
            case "PLAINTEXT": protocol = SecurityProtocol.Plaintext; return true;
            case "SSL": protocol = SecurityProtocol.Ssl; return true;
            case "SASL_PLAINTEXT": protocol = SecurityProtocol.SaslPlaintext; return true;
            case "SASL_SSL": protocol = SecurityProtocol.SaslSsl; return true;
            default: return false;
        }
    }

    public static bool TryParseMechanism(string? text, out SaslMechanism mechanism)
    {
        mechanism = default;
        switch (text?.Trim().Replace('_', '-').ToUpperInvariant())
        {
            case "PLAIN": mechanism = SaslMechanism.Plain; return true;
            case "SCRAM-SHA-256": mechanism = SaslMechanism.ScramSha256; return true;
            case "SCRAM-SHA-512": mechanism = SaslMechanism.ScramSha512; return true;
            case "OAUTHBEARER": mechanism = SaslMechanism.OAuthBearer; return true;
            default: return false;
        }
    }

    public static bool UsesTls(this SecurityProtocol p) => p is SecurityProtocol.Ssl or SecurityProtocol.SaslSsl;

    public static bool UsesSasl(this SecurityProtocol p) => p is SecurityProtocol.SaslPlaintext or SecurityProtocol.SaslSsl;
}
