namespace Kiel.Cluster;

/// <summary>
/// A broker answered a cluster-level request (Metadata, FindCoordinator) with an error code. Carries the code,
/// its name and whether it is retriable.
/// </summary>
public sealed class BrokerErrorException : KielException
{
    /// <summary>Creates the exception.</summary>
    public BrokerErrorException(short errorCode, string context, string? brokerMessage = null)
        : base($"{context}: {ErrorCodes.Name(errorCode)} ({errorCode}){(string.IsNullOrEmpty(brokerMessage) ? "" : ": " + brokerMessage)}")
    {
        ErrorCode = errorCode;
    }

    /// <summary>The Kafka error code.</summary>
    public short ErrorCode { get; }

    /// <summary>The error's name, for example <c>NOT_COORDINATOR</c>.</summary>
    public string ErrorName => ErrorCodes.Name(ErrorCode);

    /// <inheritdoc />
    public override bool IsRetriable => ErrorCodes.IsRetriable(ErrorCode);
}
