namespace Kiel.Network;

/// <summary>
/// A broker answered ApiVersions with an error other than UNSUPPORTED_VERSION, so versions could not be negotiated.
/// Retriable only for transient broker states (timeouts, a coordinator or storage still loading); INVALID_REQUEST
/// and the like mean the request itself (for example the client software name) was refused.
/// </summary>
public sealed class ApiVersionsException : KielException
{
    // REQUEST_TIMED_OUT, NETWORK_EXCEPTION, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, KAFKA_STORAGE_ERROR, THROTTLING_QUOTA_EXCEEDED
    private static readonly HashSet<short> Transient = [7, 13, 14, 15, 56, 89];

    /// <summary>Creates the exception.</summary>
    internal ApiVersionsException(BrokerEndpoint broker, short version, short errorCode)
        : base($"Broker {broker} answered ApiVersions v{version} with error code {errorCode}" +
               (errorCode switch
               {
                   42 => " (INVALID_REQUEST: check ClientSoftwareName and ClientSoftwareVersion)",
                   35 => " (UNSUPPORTED_VERSION even at v0: the broker predates ApiVersions; set BrokerVersionFallback, for example \"0.9.0\")",
                   _ => "",
               }) + "; versions could not be negotiated.")
    {
        Broker = broker;
        ErrorCode = errorCode;
    }

    /// <summary>The broker.</summary>
    internal BrokerEndpoint Broker { get; }

    /// <summary>The Kafka error code it answered.</summary>
    public short ErrorCode { get; }

    /// <inheritdoc />
    public override bool IsRetriable => Transient.Contains(ErrorCode);
}
