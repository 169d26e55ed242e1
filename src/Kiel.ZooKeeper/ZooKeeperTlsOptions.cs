using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kiel.ZooKeeper;

/// <summary>
/// TLS to the ZooKeeper servers' secure client port (<c>secureClientPort</c>, which the server serves with its Netty
/// connection factory), as the Java client's <c>zookeeper.client.secure=true</c> and kazoo's <c>use_ssl=True</c>.
/// The settings have the names of Kiel's Kafka TLS settings. <see cref="ToString"/> masks <see cref="SslKeyPassword"/>.
/// </summary>
public sealed record ZooKeeperTlsOptions
{
    /// <summary>
    /// A PEM file of the certificate authorities that sign the servers' certificates (the Java client's
    /// <c>zookeeper.ssl.trustStore.location</c> with type PEM). Null with no <see cref="SslCaCertificates"/> (the default): the system's trust store.
    /// </summary>
    public string? SslCaLocation { get; init; }

    /// <summary>The certificate authorities to trust instead of the system store, as certificates. Takes precedence over <see cref="SslCaLocation"/>.</summary>
    public X509Certificate2Collection? SslCaCertificates { get; init; }

    /// <summary>
    /// The client certificate, for a server that asks for one (<c>ssl.clientAuth=need</c>): a PEM file (with its key in
    /// <see cref="SslKeyLocation"/>, or in the same file) or a PKCS#12 (<c>.pfx</c>/<c>.p12</c>) file. Null (default): none.
    /// </summary>
    public string? SslCertificateLocation { get; init; }

    /// <summary>The PEM private key of <see cref="SslCertificateLocation"/>, when it is not in the same file.</summary>
    public string? SslKeyLocation { get; init; }

    /// <summary>The password of an encrypted key or of a PKCS#12 file. A secret: never printed or logged.</summary>
    public string? SslKeyPassword { get; init; }

    /// <summary>Check that the server's certificate is for the host name of the connect string (default true).</summary>
    public bool SslEndpointIdentification { get; init; } = true;

    /// <summary>
    /// Decides whether to accept a server's certificate, for pinning: it gets the certificate, the chain built against
    /// the configured authorities, and the problems found; its answer replaces the client's check. Default null.
    /// </summary>
    public Func<X509Certificate2, X509Chain, SslPolicyErrors, bool>? SslCertificateValidation { get; init; }

    /// <summary>Checks the settings and throws <see cref="ArgumentException"/> saying what is wrong and how to fix it.</summary>
    public void Validate()
    {
        if (SslCaLocation is not null && SslCaCertificates is null && !File.Exists(SslCaLocation))
            throw new ArgumentException($"SslCaLocation '{SslCaLocation}' does not exist; give the PEM file of the CA that signed the ZooKeeper servers' certificates, or leave it unset for the system store.", nameof(SslCaLocation));
        if (SslCertificateLocation is not null && !File.Exists(SslCertificateLocation))
            throw new ArgumentException($"SslCertificateLocation '{SslCertificateLocation}' does not exist; give the client certificate as PEM or PKCS#12.", nameof(SslCertificateLocation));
        if (SslKeyLocation is not null && !File.Exists(SslKeyLocation))
            throw new ArgumentException($"SslKeyLocation '{SslKeyLocation}' does not exist; give the PEM private key of the client certificate.", nameof(SslKeyLocation));
        if (SslKeyLocation is not null && SslCertificateLocation is null)
            throw new ArgumentException("SslKeyLocation is set without SslCertificateLocation; set both for a client certificate, or neither.", nameof(SslKeyLocation));
    }

    /// <summary>Prints the settings with <see cref="SslKeyPassword"/> masked.</summary>
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("SslCaLocation = ").Append(SslCaLocation)
            .Append(", SslCaCertificates = ").Append(SslCaCertificates is null ? "" : $"{SslCaCertificates.Count} certificate(s)")
            .Append(", SslCertificateLocation = ").Append(SslCertificateLocation)
            .Append(", SslKeyLocation = ").Append(SslKeyLocation)
            .Append(", SslKeyPassword = ").Append(SslKeyPassword is null ? "" : "***")
            .Append(", SslEndpointIdentification = ").Append(SslEndpointIdentification)
            .Append(", SslCertificateValidation = ").Append(SslCertificateValidation is null ? "" : "set");
        return true;
    }

    /// <summary>The certificates loaded once per client.</summary>
    internal LoadedTls Load()
    {
        X509Certificate2Collection? cas = SslCaCertificates;
        if (cas is null && SslCaLocation is { } caPath)
        {
            cas = [];
            try { cas.ImportFromPemFile(caPath); }
            catch (Exception e) when (e is IOException or CryptographicException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"SslCaLocation: cannot read CA certificates from '{caPath}': {e.Message}; give a PEM file (-----BEGIN CERTIFICATE-----).", nameof(SslCaLocation), e);
            }
            if (cas.Count == 0)
                throw new ArgumentException($"SslCaLocation: '{caPath}' holds no PEM certificate; give a PEM file (-----BEGIN CERTIFICATE-----).", nameof(SslCaLocation));
        }
        X509Certificate2Collection? client = null;
        if (SslCertificateLocation is { } certPath)
        {
            try
            {
                var ext = Path.GetExtension(certPath).ToLowerInvariant();
                var certificate = ext is ".pfx" or ".p12"
                    ? X509CertificateLoader.LoadPkcs12FromFile(certPath, SslKeyPassword)
                    : SslKeyPassword is null
                        ? X509Certificate2.CreateFromPemFile(certPath, SslKeyLocation)
                        : X509Certificate2.CreateFromEncryptedPemFile(certPath, SslKeyPassword, SslKeyLocation);
                // SslStream on Linux presents a PEM-loaded key reliably only after a PKCS#12 round trip.
                if (ext is not (".pfx" or ".p12"))
                {
                    using var loaded = certificate;
                    certificate = X509CertificateLoader.LoadPkcs12(loaded.Export(X509ContentType.Pkcs12), null);
                }
                client = [certificate];
            }
            catch (Exception e) when (e is IOException or CryptographicException or UnauthorizedAccessException or ArgumentException)
            {
                throw new ArgumentException($"SslCertificateLocation: cannot read the client certificate '{certPath}'{(SslKeyLocation is null ? "" : $" with key '{SslKeyLocation}'")}: {e.Message}.", nameof(SslCertificateLocation), e);
            }
        }
        return new LoadedTls(cas, client, SslEndpointIdentification, SslCertificateValidation);
    }
}

/// <summary>TLS settings with the certificates loaded.</summary>
internal sealed record LoadedTls(X509Certificate2Collection? CaCertificates, X509Certificate2Collection? ClientCertificates, bool VerifyHostname,
    Func<X509Certificate2, X509Chain, SslPolicyErrors, bool>? Validation);
