using System.Diagnostics.Metrics;
using Kiel.Diagnostics;
using Kiel.Network;
using Microsoft.Extensions.Logging;

namespace Kiel.Security;

/// <summary>Source-generated log methods of TLS and SASL; ids are in <see cref="LogEvents"/>. No message carries a secret.</summary>
internal static partial class SecurityLog
{
    [LoggerMessage(LogEvents.SaslAuthenticated, LogLevel.Debug, "Authenticated to {Broker} with {Mechanism} as {Principal}; session lifetime {SessionLifetimeMs} ms (0: none)")]
    public static partial void Authenticated(ILogger logger, BrokerEndpoint broker, string mechanism, string principal, long sessionLifetimeMs);

    [LoggerMessage(LogEvents.SaslAuthenticationFailed, LogLevel.Warning, "Authentication to {Broker} with {Mechanism} failed: {Problem}")]
    public static partial void AuthenticationFailed(ILogger logger, BrokerEndpoint broker, string mechanism, string problem);

    [LoggerMessage(LogEvents.SaslReauthenticated, LogLevel.Information, "Re-authenticated to {Broker} ({Purpose}) with {Mechanism}; next session lifetime {SessionLifetimeMs} ms")]
    public static partial void Reauthenticated(ILogger logger, BrokerEndpoint broker, string purpose, string mechanism, long sessionLifetimeMs);

    [LoggerMessage(LogEvents.SaslReauthenticationFailed, LogLevel.Warning, "Re-authentication to {Broker} ({Purpose}) failed, closing the connection: {Problem}")]
    public static partial void ReauthenticationFailed(ILogger logger, BrokerEndpoint broker, string purpose, string problem);

    [LoggerMessage(LogEvents.TlsHostnameVerificationDisabled, LogLevel.Warning, "TLS host name verification is off (SslEndpointIdentification = false): any certificate from a trusted CA is accepted for any broker")]
    public static partial void HostnameVerificationDisabled(ILogger logger);

    [LoggerMessage(LogEvents.TlsEstablished, LogLevel.Debug, "TLS with {Broker}: {Protocol}, {CipherSuite}")]
    public static partial void TlsEstablished(ILogger logger, BrokerEndpoint broker, string protocol, string cipherSuite);

    [LoggerMessage(LogEvents.TlsFailed, LogLevel.Warning, "TLS handshake with {Broker} failed: {Problem}")]
    public static partial void TlsFailed(ILogger logger, BrokerEndpoint broker, string problem);

    [LoggerMessage(LogEvents.UnknownClientProperties, LogLevel.Warning, "client.properties: Kiel does not use {Keys}; they are ignored")]
    public static partial void UnknownProperties(ILogger logger, string keys);
}

/// <summary>The security instruments.</summary>
internal static class SecurityMetrics
{
    public static readonly Counter<long> Reauthentications = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.client.reauthentications", "{reauthentication}", "SASL re-authentications before a session lifetime ended (KIP-368).");

    public static readonly Counter<long> AuthenticationFailures = KielDiagnostics.Meter.CreateCounter<long>(
        "kiel.client.authentication.failures", "{failure}", "Failed SASL authentications and TLS handshakes.");
}
