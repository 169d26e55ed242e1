using Kiel.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kiel.Network;

/// <summary>Source-generated log methods of the connection layer; ids are in <see cref="LogEvents"/>.</summary>
internal static partial class NetworkLog
{
    [LoggerMessage(LogEvents.Connected, LogLevel.Debug, "Connected to {Broker} ({Purpose}) in {ElapsedMs:0.0} ms")]
    public static partial void Connected(ILogger logger, BrokerEndpoint broker, string purpose, double elapsedMs);

    [LoggerMessage(LogEvents.ConnectFailed, LogLevel.Warning, "Could not connect to {Broker} ({Purpose}): {Reason}")]
    public static partial void ConnectFailed(ILogger logger, BrokerEndpoint broker, string purpose, string reason);

    [LoggerMessage(LogEvents.Disconnected, LogLevel.Information, "Disconnected from {Broker} ({Purpose}): {Reason}; {Failed} request(s) failed")]
    public static partial void Disconnected(ILogger logger, BrokerEndpoint broker, string purpose, string reason, int failed);

    [LoggerMessage(LogEvents.VersionsNegotiated, LogLevel.Debug, "Negotiated versions with {Broker} via {Source}: {Versions}")]
    public static partial void VersionsNegotiated(ILogger logger, BrokerEndpoint broker, string source, ApiVersionTable versions);

    [LoggerMessage(LogEvents.ApiVersionsDowngraded, LogLevel.Debug, "{Broker} rejected ApiVersions v{Asked}; retrying at v{Retry}")]
    public static partial void ApiVersionsDowngraded(ILogger logger, BrokerEndpoint broker, short asked, short retry);

    [LoggerMessage(LogEvents.ApiVersionsFallback, LogLevel.Warning, "{Broker} did not answer ApiVersions ({Reason}); assuming Kafka {Fallback} as configured by BrokerVersionFallback")]
    public static partial void ApiVersionsFallback(ILogger logger, BrokerEndpoint broker, string reason, string fallback);

    [LoggerMessage(LogEvents.Throttled, LogLevel.Information, "{Broker} throttled {Api} for {ThrottleMs} ms")]
    public static partial void Throttled(ILogger logger, BrokerEndpoint broker, string api, int throttleMs);

    [LoggerMessage(LogEvents.RequestTimedOut, LogLevel.Warning, "{Broker} ({Purpose}): {Api} v{Version} request (correlation id {CorrelationId}) timed out after {TimeoutMs:0} ms; closing the connection")]
    public static partial void RequestTimedOut(ILogger logger, BrokerEndpoint broker, string purpose, string api, short version, int correlationId, double timeoutMs);

    [LoggerMessage(LogEvents.IdleClosed, LogLevel.Debug, "Closing idle connection to {Broker} ({Purpose}) after {IdleMs:0} ms")]
    public static partial void IdleClosed(ILogger logger, BrokerEndpoint broker, string purpose, double idleMs);

    [LoggerMessage(LogEvents.StrayReplyDropped, LogLevel.Debug, "{Broker}: dropped a reply (correlation id {CorrelationId}) to a request sent without expecting one")]
    public static partial void StrayReplyDropped(ILogger logger, BrokerEndpoint broker, int correlationId);

    [LoggerMessage(LogEvents.ProtocolViolation, LogLevel.Error, "{Broker} ({Purpose}) broke the protocol: {Problem}")]
    public static partial void ProtocolViolation(ILogger logger, BrokerEndpoint broker, string purpose, string problem);

    [LoggerMessage(LogEvents.OldBrokerDetected, LogLevel.Information, "{Broker} predates ApiVersions ({Reason}); detected Kafka {Release} because {Evidence}; set BrokerVersionFallback to pin a release instead")]
    public static partial void OldBrokerDetected(ILogger logger, BrokerEndpoint broker, string reason, string release, string evidence);
}
