using System.Net.Security;
using System.Reflection;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kiel.Security;

namespace Kiel;

public abstract partial record KielClientOptions
{
    /// <summary>How to talk to brokers: <see cref="SecurityProtocol.Plaintext"/> (default), TLS, SASL, or SASL over TLS. Kafka's <c>security.protocol</c>.</summary>
    public SecurityProtocol SecurityProtocol { get; init; } = SecurityProtocol.Plaintext;

    /// <summary>
    /// A PEM file of the certificate authorities that sign the brokers' certificates (<c>ssl.ca.location</c>, or a
    /// PEM <c>ssl.truststore.location</c>). Null with no <see cref="SslCaCertificates"/> (the default): the system's trust store.
    /// </summary>
    public string? SslCaLocation { get; init; }

    /// <summary>The certificate authorities to trust instead of the system store, as certificates. Takes precedence over <see cref="SslCaLocation"/>.</summary>
    public X509Certificate2Collection? SslCaCertificates { get; init; }

    /// <summary>
    /// The client certificate for mutual TLS: a PEM file (with its key in <see cref="SslKeyLocation"/>, or in the same
    /// file) or a PKCS#12 (<c>.pfx</c>/<c>.p12</c>) file with its key. Null (default): no client certificate.
    /// </summary>
    public string? SslCertificateLocation { get; init; }

    /// <summary>The PEM private key of <see cref="SslCertificateLocation"/>, when it is not in the same file.</summary>
    public string? SslKeyLocation { get; init; }

    /// <summary>The password of an encrypted key or of a PKCS#12 file. A secret: never printed or logged.</summary>
    public string? SslKeyPassword { get; init; }

    /// <summary>
    /// Check that the broker's certificate is for the host name connected to (Kafka's
    /// <c>ssl.endpoint.identification.algorithm=https</c>). Default true; turning it off logs a warning once.
    /// </summary>
    public bool SslEndpointIdentification { get; init; } = true;

    /// <summary>
    /// Decides whether to accept a broker's certificate, for pinning: it gets the certificate, the chain built
    /// against the configured authorities, and the problems found; its answer replaces Kiel's check. Default null.
    /// </summary>
    public Func<X509Certificate2, X509Chain, SslPolicyErrors, bool>? SslCertificateValidation { get; init; }

    /// <summary>The SASL mechanism (<c>sasl.mechanism</c>) when <see cref="SecurityProtocol"/> is a SASL one. Default <see cref="SaslMechanism.Plain"/>.</summary>
    public SaslMechanism SaslMechanism { get; init; } = SaslMechanism.Plain;

    /// <summary>The SASL user name for PLAIN and SCRAM.</summary>
    public string? SaslUsername { get; init; }

    /// <summary>The SASL password for PLAIN and SCRAM. A secret: never printed or logged.</summary>
    public string? SaslPassword { get; init; }

    /// <summary>
    /// Gets a bearer token for OAUTHBEARER; called at every connection and re-authentication. Required for
    /// <see cref="SaslMechanism.OAuthBearer"/>. <see cref="OAuthBearerToken.CreateUnsecured"/> builds test tokens.
    /// </summary>
    public Func<CancellationToken, ValueTask<OAuthBearerToken>>? OAuthBearerTokenProvider { get; init; }

    private static readonly HashSet<string> SecretSettings = [nameof(SaslPassword), nameof(SslKeyPassword)];

    /// <summary>Prints every setting, with secrets (<see cref="SaslPassword"/>, <see cref="SslKeyPassword"/>) masked.</summary>
    protected virtual bool PrintMembers(StringBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var first = true;
        foreach (var property in typeof(KielClientOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || property.Name == "EqualityContract") continue;
            if (!first) builder.Append(", ");
            first = false;
            builder.Append(property.Name).Append(" = ");
            var value = property.GetValue(this);
            if (SecretSettings.Contains(property.Name)) builder.Append(value is null ? "" : "***");
            else builder.Append(value);
        }
        return true;
    }

    /// <summary>The problems of the security settings, as <see cref="ClientSettingProblems"/> reports them.</summary>
    private protected IEnumerable<(string Setting, string Problem)> SecuritySettingProblems()
    {
        if (!Enum.IsDefined(SecurityProtocol))
            yield return (nameof(SecurityProtocol), $"is {(int)SecurityProtocol}; use Plaintext, Ssl, SaslPlaintext or SaslSsl.");
        if (SecurityProtocol.UsesTls())
        {
            if (SslCaLocation is not null && SslCaCertificates is null && !File.Exists(SslCaLocation))
                yield return (nameof(SslCaLocation), $"'{SslCaLocation}' does not exist; give the PEM file of the CA that signed the brokers' certificates, or leave it unset for the system store.");
            if (SslCertificateLocation is not null && !File.Exists(SslCertificateLocation))
                yield return (nameof(SslCertificateLocation), $"'{SslCertificateLocation}' does not exist; give the client certificate as PEM or PKCS#12.");
            if (SslKeyLocation is not null && !File.Exists(SslKeyLocation))
                yield return (nameof(SslKeyLocation), $"'{SslKeyLocation}' does not exist; give the PEM private key of the client certificate.");
            if (SslKeyLocation is not null && SslCertificateLocation is null)
                yield return (nameof(SslKeyLocation), "is set without SslCertificateLocation; set both for mutual TLS, or neither.");
        }
        if (SecurityProtocol.UsesSasl())
        {
            if (!Enum.IsDefined(SaslMechanism))
                yield return (nameof(SaslMechanism), $"is {(int)SaslMechanism}; use Plain, ScramSha256, ScramSha512 or OAuthBearer.");
            else if (SaslMechanism == SaslMechanism.OAuthBearer)
            {
                if (OAuthBearerTokenProvider is null)
                    yield return (nameof(OAuthBearerTokenProvider), "is null, and SaslMechanism OAuthBearer needs a token; set a provider (OAuthBearerToken.CreateUnsecured makes test tokens).");
            }
            else
            {
                if (string.IsNullOrEmpty(SaslUsername))
                    yield return (nameof(SaslUsername), $"is empty, and SaslMechanism {SecurityNames.Of(SaslMechanism)} needs a user name.");
                if (SaslPassword is null)
                    yield return (nameof(SaslPassword), $"is null, and SaslMechanism {SecurityNames.Of(SaslMechanism)} needs a password (sasl.jaas.config's password, or KIEL_SASL_PASSWORD for the kiel tool).");
            }
        }
    }

    /// <summary>The connection-level form of the security settings (certificates loaded), or null for plaintext.</summary>
    /// <exception cref="ArgumentException">A certificate or key file cannot be read.</exception>
    internal ConnectionSecurity? CreateConnectionSecurity() => ConnectionSecurity.Create(this);
}
