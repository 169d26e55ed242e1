using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kiel.Testing;

/// <summary>
/// Certificates made at start for the secured front: a CA, a server certificate for 127.0.0.1 and localhost (and
/// expired or wrong-host variants), a client certificate signed by the CA and one signed by an unrelated CA, with PEM
/// files in a temporary folder that <see cref="Dispose"/> deletes.
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    private TestCertificates(string folder) => Folder = folder;

    public string Folder { get; }
    public X509Certificate2 Ca { get; private set; } = null!;
    public X509Certificate2 Server { get; private set; } = null!;
    public string CaPath => Path.Combine(Folder, "ca.pem");
    public string ClientCertificatePath => Path.Combine(Folder, "client.pem");
    public string ClientKeyPath => Path.Combine(Folder, "client.key");
    public string UntrustedClientCertificatePath => Path.Combine(Folder, "untrusted-client.pem");
    public string UntrustedClientKeyPath => Path.Combine(Folder, "untrusted-client.key");
    public string ClientKeystorePath => Path.Combine(Folder, "client-keystore.pem");
    public string OtherCaPath => Path.Combine(Folder, "other-ca.pem");

    /// <summary>The server's private key (PKCS#8) followed by its certificate, as one PEM file (a PEM key store, as ZooKeeper reads it).</summary>
    public string ServerKeystorePath => Path.Combine(Folder, "server-keystore.pem");

    /// <param name="kind">Which server certificate to make.</param>
    /// <param name="parent">The folder to make the certificates' folder in (default the temp folder).</param>
    public static TestCertificates Create(ServerCertificateKind kind, string? parent = null)
    {
        var folder = Path.Combine(parent ?? Path.GetTempPath(), "kiel-embedded-tls-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        var certificates = new TestCertificates(folder);
        try
        {
            var now = DateTimeOffset.UtcNow;
            using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var ca = CreateCa("CN=Kiel Embedded Test CA", caKey, now);
            using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var other = CreateCa("CN=Some Other CA", otherKey, now);
            certificates.Ca = ca;

            var (notBefore, notAfter) = kind == ServerCertificateKind.Expired ? (now.AddDays(-30), now.AddDays(-1)) : (now.AddHours(-1), now.AddDays(30));
            var server = Issue(ca, "CN=localhost", notBefore, notAfter, serverAuth: true,
                kind == ServerCertificateKind.WrongHost ? ["wrong-host.invalid"] : ["localhost"],
                kind == ServerCertificateKind.WrongHost ? [] : [IPAddress.Loopback]);
            // SslStream on Linux wants a key it can use for the handshake; an exported and re-imported PKCS#12 always works.
            certificates.Server = X509CertificateLoader.LoadPkcs12(server.Export(X509ContentType.Pkcs12), null);
            File.WriteAllText(certificates.ServerKeystorePath,
                server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n" + server.ExportCertificatePem() + "\n");
            server.Dispose();

            File.WriteAllText(certificates.CaPath, ca.ExportCertificatePem() + "\n");
            File.WriteAllText(certificates.OtherCaPath, other.ExportCertificatePem() + "\n");
            WritePair(Issue(ca, "CN=kiel-client", now.AddHours(-1), now.AddDays(30), serverAuth: false, [], []), certificates.ClientCertificatePath, certificates.ClientKeyPath);
            WritePair(Issue(other, "CN=untrusted-client", now.AddHours(-1), now.AddDays(30), serverAuth: false, [], []), certificates.UntrustedClientCertificatePath, certificates.UntrustedClientKeyPath);
            other.Dispose();
            File.WriteAllText(certificates.ClientKeystorePath, File.ReadAllText(certificates.ClientKeyPath) + File.ReadAllText(certificates.ClientCertificatePath));
            return certificates;
        }
        catch
        {
            certificates.Dispose();
            throw;
        }
    }

    private static X509Certificate2 CreateCa(string subject, ECDsa key, DateTimeOffset now)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(now.AddDays(-60), now.AddDays(60));
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string subject, DateTimeOffset notBefore, DateTimeOffset notAfter, bool serverAuth,
        string[] dnsNames, IPAddress[] addresses)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [serverAuth ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (dnsNames.Length + addresses.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var name in dnsNames) san.AddDnsName(name);
            foreach (var address in addresses) san.AddIpAddress(address);
            request.CertificateExtensions.Add(san.Build());
        }
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        using var issued = request.Create(ca, notBefore, notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    private static void WritePair(X509Certificate2 certificate, string certPath, string keyPath)
    {
        File.WriteAllText(certPath, certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(keyPath, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n");
        certificate.Dispose();
    }

    public void Dispose()
    {
        Server?.Dispose();
        Ca?.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
