using Kiel.Protocol;

namespace Kiel;

/// <summary>A request got no response within its timeout. Retriable; the connection it used is closed and reopened.</summary>
public sealed class KafkaRequestTimeoutException : KafkaConnectionException
{
    /// <summary>Creates the exception.</summary>
    internal KafkaRequestTimeoutException(BrokerEndpoint broker, ApiKey apiKey, short version, int correlationId, TimeSpan timeout, bool queued)
        : base(broker, queued
            ? $"{apiKey} v{version} request waited {timeout.TotalMilliseconds:0} ms for a free in-flight slot and timed out"
            : $"no response to {apiKey} v{version} request (correlation id {correlationId}) within {timeout.TotalMilliseconds:0} ms")
    {
        ApiKey = apiKey;
        Version = version;
        Timeout = timeout;
    }

    /// <summary>The API of the request that timed out.</summary>
    internal ApiKey ApiKey { get; }

    /// <summary>The version of the request that timed out.</summary>
    public short Version { get; }

    /// <summary>The timeout that passed.</summary>
    public TimeSpan Timeout { get; }
}
