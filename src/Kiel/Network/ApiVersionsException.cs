using Kiel.Protocol;

namespace Kiel;

/// <summary>
/// A broker answered ApiVersions with an error other than UNSUPPORTED_VERSION, so versions could not be negotiated.
/// Retriable when the error code is (per <see cref="ErrorCodes"/>): a timeout, a coordinator or storage still
/// loading; INVALID_REQUEST and the like mean the request itself (for example the client software name) was refused.
/// </summary>
public sealed class ApiVersionsException : KielException
{
    /// <summary>Creates the exception.</summary>
    internal ApiVersionsException(BrokerEndpoint broker, short version, short errorCode)
        : base($"Broker {broker} answered ApiVersions v{version} with error code {errorCode} ({ErrorCodes.Info(errorCode).Name})" +
               ((ErrorCode)errorCode switch
               {
                   Kiel.ErrorCode.InvalidRequest => ": check ClientSoftwareName and ClientSoftwareVersion",
                   Kiel.ErrorCode.UnsupportedVersion => ": even v0 is refused, so the broker predates ApiVersions; set BrokerVersionFallback, for example \"0.9.0\"",
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
    public override bool IsRetriable => ((ErrorCode)ErrorCode).IsRetriable();
}
