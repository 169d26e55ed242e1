using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Kiel.Network;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.Security;

/// <summary>
/// TLS over another transport (a TCP socket): an <see cref="SslStream"/> that checks the broker's certificate against
/// the configured CAs (or the system store) and its host name, and presents the client certificate when one is
/// set. SNI is the broker's host name. A refused certificate is an <see cref="AuthenticationException"/> that names
/// the problem (unknown CA, host name mismatch, expired).
/// </summary>
internal sealed class TlsTransportFactory(IConnectionTransportFactory inner, TlsSettings tls, ConnectionSecurity owner) : IConnectionTransportFactory
{
    /// <inheritdoc />
    public async ValueTask<Stream> ConnectAsync(BrokerEndpoint endpoint, ConnectionOptions options, CancellationToken cancellationToken)
    {
        var logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kiel.Security");
        owner.WarnIfHostnameUnchecked(logger);
        var stream = await inner.ConnectAsync(endpoint, options, cancellationToken).ConfigureAwait(false);
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        string? problem = null;
        var authentication = new SslClientAuthenticationOptions
        {
            TargetHost = endpoint.Host,
            ClientCertificates = tls.ClientCertificates,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Check(endpoint, certificate, chain, errors, out problem),
        };
        try
        {
            await ssl.AuthenticateAsClientAsync(authentication, cancellationToken).ConfigureAwait(false);
            SecurityLog.TlsEstablished(logger, endpoint, ssl.SslProtocol.ToString(), ssl.NegotiatedCipherSuite.ToString());
            // With TLS 1.3 a broker refuses a client certificate after the client's handshake has finished: the first
            // read then finds the connection closed. Say what that most likely means.
            return tls.ClientCertificates is { Count: > 0 } ? new FirstReadHintStream(ssl,
                "the broker closed the TLS connection before answering anything; it probably refused the client certificate: check that SslCertificateLocation is signed by a CA the broker trusts and is valid") : ssl;
        }
        catch (System.Security.Authentication.AuthenticationException e)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            var reason = problem ?? $"the TLS handshake failed ({e.InnerException?.Message ?? e.Message})";
            SecurityLog.TlsFailed(logger, endpoint, reason);
            throw new AuthenticationException(endpoint.ToString(), "TLS", reason,
                problem is null
                    ? "that the broker's listener speaks TLS, and that it accepts the client certificate (SslCertificateLocation) if it asks for one"
                    : "SslCaLocation (the CA that signed the broker's certificate), the broker address, and the certificate's validity", e);
        }
        catch (IOException e)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new KafkaConnectionException(endpoint, $"the TLS handshake broke off ({e.Message}); is the listener a TLS one?", e);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private bool Check(BrokerEndpoint endpoint, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, out string? problem)
    {
        problem = null;
        if (certificate is null)
        {
            problem = "the broker sent no certificate";
            return false;
        }
        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var effective = errors;
        X509Chain? ownChain = null;
        var used = chain;
        try
        {
            if (tls.CaCertificates is { } cas)
            {
                ownChain = new X509Chain();
                ownChain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                ownChain.ChainPolicy.CustomTrustStore.AddRange(cas);
                ownChain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                if (chain is not null)
                    foreach (var element in chain.ChainElements)
                        ownChain.ChainPolicy.ExtraStore.Add(element.Certificate);
                effective &= ~SslPolicyErrors.RemoteCertificateChainErrors;
                if (!ownChain.Build(leaf)) effective |= SslPolicyErrors.RemoteCertificateChainErrors;
                used = ownChain;
            }
            if (!tls.VerifyHostname) effective &= ~SslPolicyErrors.RemoteCertificateNameMismatch;
            if (tls.Validation is { } callback)
            {
                var accepted = callback(leaf, used ?? new X509Chain(), effective);
                if (!accepted) problem = "the SslCertificateValidation callback refused the broker's certificate (" + Describe(endpoint, leaf, used, effective) + ")";
                return accepted;
            }
            if (effective == SslPolicyErrors.None) return true;
            problem = Describe(endpoint, leaf, used, effective);
            return false;
        }
        finally
        {
            ownChain?.Dispose();
        }
    }

    /// <summary>Says what is wrong with the certificate in words an operator acts on.</summary>
    internal static string Describe(BrokerEndpoint endpoint, X509Certificate2 leaf, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None) return "no problem";
        var problems = new List<string>();
        if ((errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0) problems.Add("the broker sent no certificate");
        if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            var statuses = chain?.ChainStatus.Select(s => s.Status).ToHashSet() ?? [];
            var now = DateTime.Now;
            if (statuses.Contains(X509ChainStatusFlags.NotTimeValid) || leaf.NotAfter < now || leaf.NotBefore > now)
                problems.Add(leaf.NotAfter < now
                    ? $"the certificate expired on {leaf.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC"
                    : $"the certificate (or one in its chain) is not valid now (valid {leaf.NotBefore.ToUniversalTime():yyyy-MM-dd} to {leaf.NotAfter.ToUniversalTime():yyyy-MM-dd})");
            if (statuses.Contains(X509ChainStatusFlags.UntrustedRoot) || statuses.Contains(X509ChainStatusFlags.PartialChain))
                problems.Add($"the certificate is signed by an unknown CA (issuer '{leaf.Issuer}'), not one the client trusts");
            var others = statuses.Except([X509ChainStatusFlags.NotTimeValid, X509ChainStatusFlags.UntrustedRoot, X509ChainStatusFlags.PartialChain, X509ChainStatusFlags.NoError]).ToList();
            if (others.Count > 0) problems.Add("the certificate chain is invalid (" + string.Join(", ", others) + ")");
            if (problems.Count == 0) problems.Add($"the certificate chain does not verify (issuer '{leaf.Issuer}')");
        }
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            problems.Add($"host name mismatch: the certificate is for {Names(leaf)}, not {endpoint.Host}");
        return string.Join("; ", problems);
    }

    private static string Names(X509Certificate2 leaf)
    {
        var names = new List<string>();
        foreach (var extension in leaf.Extensions)
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                names.AddRange(san.EnumerateDnsNames());
                names.AddRange(san.EnumerateIPAddresses().Select(a => a.ToString()));
            }
        if (names.Count == 0) names.Add(leaf.GetNameInfo(X509NameType.SimpleName, false));
        return string.Join(", ", names);
    }
}

/// <summary>A stream that turns an end of stream or a failure on its very first read into an <see cref="IOException"/> with a hint.</summary>
internal sealed class FirstReadHintStream(Stream inner, string hint) : Stream
{
    private bool _received;

    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_received) return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        int n;
        try
        {
            n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new IOException(hint + $" ({e.Message})", e);
        }
        if (n == 0 && buffer.Length > 0) throw new IOException(hint);
        _received = true;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}
