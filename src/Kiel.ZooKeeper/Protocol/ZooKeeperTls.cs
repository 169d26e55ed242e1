using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Kiel.ZooKeeper;

namespace Kiel.ZooKeeper.Protocol;

/// <summary>
/// The client side of a TLS handshake with a ZooKeeper server's secure port: the server's certificate is checked
/// against the configured CAs (or the system store) and the host name, the client certificate presented when set.
/// A refused certificate is an <see cref="AuthenticationException"/> whose message names the problem.
/// </summary>
internal static class ZooKeeperTls
{
    internal static async Task<SslStream> AuthenticateAsync(Stream inner, string host, LoadedTls tls, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        string? problem = null;
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            ClientCertificates = tls.ClientCertificates,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Check(host, tls, certificate, chain, errors, out problem),
        };
        try
        {
            await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
            return ssl;
        }
        catch (AuthenticationException e)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new AuthenticationException(problem is null
                ? $"The TLS handshake with ZooKeeper at {host} failed ({e.InnerException?.Message ?? e.Message}); check that the port is the server's secureClientPort and that it accepts the client certificate (SslCertificateLocation) if it asks for one."
                : $"ZooKeeper at {host}: {problem}; check SslCaLocation (the CA that signed the server's certificate), the server address, and the certificate's validity.", e);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static bool Check(string host, LoadedTls tls, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, out string? problem)
    {
        problem = null;
        if (certificate is null)
        {
            problem = "the server sent no certificate";
            return false;
        }
        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var effective = errors;
        X509Chain? own = null;
        var used = chain;
        try
        {
            if (tls.CaCertificates is { } cas)
            {
                own = new X509Chain();
                own.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                own.ChainPolicy.CustomTrustStore.AddRange(cas);
                own.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                if (chain is not null)
                    foreach (var element in chain.ChainElements) own.ChainPolicy.ExtraStore.Add(element.Certificate);
                effective &= ~SslPolicyErrors.RemoteCertificateChainErrors;
                if (!own.Build(leaf)) effective |= SslPolicyErrors.RemoteCertificateChainErrors;
                used = own;
            }
            if (!tls.VerifyHostname) effective &= ~SslPolicyErrors.RemoteCertificateNameMismatch;
            if (tls.Validation is { } callback)
            {
                var accepted = callback(leaf, used ?? new X509Chain(), effective);
                if (!accepted) problem = "the SslCertificateValidation callback refused the server's certificate (" + Describe(host, leaf, used, effective) + ")";
                return accepted;
            }
            if (effective == SslPolicyErrors.None) return true;
            problem = Describe(host, leaf, used, effective);
            return false;
        }
        finally
        {
            own?.Dispose();
        }
    }

    /// <summary>Says what is wrong with the certificate.</summary>
    internal static string Describe(string host, X509Certificate2 leaf, X509Chain? chain, SslPolicyErrors errors)
    {
        var problems = new List<string>();
        if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            var statuses = chain?.ChainStatus.Select(s => s.Status).ToHashSet() ?? [];
            var now = DateTime.Now;
            if (leaf.NotAfter < now) problems.Add($"the server's certificate expired on {leaf.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC");
            else if (leaf.NotBefore > now || statuses.Contains(X509ChainStatusFlags.NotTimeValid)) problems.Add("the server's certificate (or one in its chain) is not valid now");
            if (statuses.Contains(X509ChainStatusFlags.UntrustedRoot) || statuses.Contains(X509ChainStatusFlags.PartialChain))
                problems.Add($"the server's certificate is signed by an unknown CA (issuer '{leaf.Issuer}'), not one the client trusts");
            if (problems.Count == 0) problems.Add($"the server's certificate chain does not verify (issuer '{leaf.Issuer}')");
        }
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            problems.Add($"host name mismatch: the server's certificate is not for {host}");
        if ((errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0) problems.Add("the server sent no certificate");
        return problems.Count == 0 ? "no problem" : string.Join("; ", problems);
    }
}
