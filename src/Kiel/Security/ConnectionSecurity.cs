using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kiel.Network;
using Microsoft.Extensions.Logging;

namespace Kiel.Security;

/// <summary>
/// The security settings of a client in the form its connections use: certificates loaded once, SASL credentials.
/// Built from <see cref="KielClientOptions"/> (or the CLI); shared by every connection of the client. Its
/// <see cref="ToString"/> shows no secret.
/// </summary>
internal sealed class ConnectionSecurity
{
    private int _hostnameWarned;

    public required SecurityProtocol Protocol { get; init; }

    /// <summary>The TLS settings, or null without TLS.</summary>
    public TlsSettings? Tls { get; init; }

    /// <summary>The SASL settings, or null without SASL.</summary>
    public SaslSettings? Sasl { get; init; }

    /// <summary>Logs once per client that host name verification is off.</summary>
    public void WarnIfHostnameUnchecked(ILogger logger)
    {
        if (Tls is { VerifyHostname: false } && Interlocked.Exchange(ref _hostnameWarned, 1) == 0)
            SecurityLog.HostnameVerificationDisabled(logger);
    }

    /// <summary>The security of <paramref name="options"/>, or null for plaintext.</summary>
    /// <exception cref="ArgumentException">A certificate or key file cannot be read.</exception>
    public static ConnectionSecurity? Create(KielClientOptions options)
    {
        if (options.SecurityProtocol == SecurityProtocol.Plaintext) return null;
        var owner = options.GetType().Name;
        return new ConnectionSecurity
        {
            Protocol = options.SecurityProtocol,
            Tls = options.SecurityProtocol.UsesTls()
                ? new TlsSettings
                {
                    CaCertificates = options.SslCaCertificates ?? (options.SslCaLocation is { } ca ? LoadCa(ca, $"{owner}.{nameof(options.SslCaLocation)}") : null),
                    ClientCertificates = options.SslCertificateLocation is { } cert
                        ? [LoadClientCertificate(cert, options.SslKeyLocation, options.SslKeyPassword, $"{owner}.{nameof(options.SslCertificateLocation)}")]
                        : null,
                    VerifyHostname = options.SslEndpointIdentification,
                    Validation = options.SslCertificateValidation,
                }
                : null,
            Sasl = options.SecurityProtocol.UsesSasl()
                ? new SaslSettings(options.SaslMechanism, options.SaslUsername ?? "", options.SaslPassword ?? "", options.OAuthBearerTokenProvider)
                : null,
        };
    }

    /// <summary>Reads a PEM bundle of CA certificates.</summary>
    public static X509Certificate2Collection LoadCa(string path, string setting)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is IOException or CryptographicException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{setting}: cannot read CA certificates from '{path}': {e.Message}; give a PEM file (-----BEGIN CERTIFICATE-----).", setting, e);
        }
        if (collection.Count == 0)
            throw new ArgumentException($"{setting}: '{path}' holds no PEM certificate; give a PEM file (-----BEGIN CERTIFICATE-----).", setting);
        return collection;
    }

    /// <summary>Reads a client certificate with its key: PKCS#12, or PEM with the key in <paramref name="keyPath"/> or the same file.</summary>
    public static X509Certificate2 LoadClientCertificate(string certPath, string? keyPath, string? password, string setting)
    {
        try
        {
            var ext = Path.GetExtension(certPath).ToLowerInvariant();
            if (ext is ".pfx" or ".p12")
                return X509CertificateLoader.LoadPkcs12FromFile(certPath, password);
            return password is null
                ? X509Certificate2.CreateFromPemFile(certPath, keyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(certPath, password, keyPath);
        }
        catch (Exception e) when (e is IOException or CryptographicException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ArgumentException($"{setting}: cannot read the client certificate '{certPath}'{(keyPath is null ? "" : $" with key '{keyPath}'")}: {e.Message}.", setting, e);
        }
    }

    /// <summary>The transport for these settings: TLS over <paramref name="inner"/>, or <paramref name="inner"/> itself.</summary>
    public IConnectionTransportFactory Transport(IConnectionTransportFactory inner) => Tls is null ? inner : new TlsTransportFactory(inner, Tls, this);

    /// <inheritdoc />
    public override string ToString() =>
        $"{SecurityNames.Of(Protocol)}{(Sasl is null ? "" : " " + SecurityNames.Of(Sasl.Mechanism) + (Sasl.Username.Length > 0 ? " user " + Sasl.Username : ""))}";
}

/// <summary>TLS settings, certificates loaded.</summary>
internal sealed class TlsSettings
{
    /// <summary>The CAs to trust instead of the system store, or null for the system store.</summary>
    public X509Certificate2Collection? CaCertificates { get; init; }

    /// <summary>The client certificate (with key), or null.</summary>
    public X509Certificate2Collection? ClientCertificates { get; init; }

    /// <summary>Check the broker's host name against its certificate.</summary>
    public bool VerifyHostname { get; init; } = true;

    /// <summary>A user callback that has the last word, or null.</summary>
    public Func<X509Certificate2, X509Chain, SslPolicyErrors, bool>? Validation { get; init; }
}

/// <summary>SASL settings. <see cref="ToString"/> hides the password.</summary>
internal sealed class SaslSettings(SaslMechanism mechanism, string username, string password, Func<CancellationToken, ValueTask<OAuthBearerToken>>? tokenProvider)
{
    public SaslMechanism Mechanism { get; } = mechanism;
    public string Username { get; } = username;
    public string Password { get; } = password;
    public Func<CancellationToken, ValueTask<OAuthBearerToken>>? TokenProvider { get; } = tokenProvider;

    /// <inheritdoc />
    public override string ToString() => $"{SecurityNames.Of(Mechanism)} user {Username}";
}
