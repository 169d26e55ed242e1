using Kiel.Protocol;

namespace Kiel;

/// <summary>
/// A broker and Kiel share no version of an API that the caller needs. The message names the API, the broker
/// and both version ranges, so that an operator can tell whether the broker is too old or too new.
/// </summary>
public sealed class UnsupportedVersionException : KielException
{
    /// <summary>Creates the exception.</summary>
    internal UnsupportedVersionException(ApiKey apiKey, BrokerEndpoint? broker, ApiVersionRange? brokerRange, ApiVersionRange clientRange)
        : base(Format(apiKey, broker, brokerRange, clientRange))
    {
        ApiKey = apiKey;
        Broker = broker;
        BrokerRange = brokerRange;
        ClientRange = clientRange;
    }

    /// <summary>The API without a common version.</summary>
    internal ApiKey ApiKey { get; }

    /// <summary>The broker, when known.</summary>
    internal BrokerEndpoint? Broker { get; }

    /// <summary>What the broker supports, or null when it does not offer the API at all.</summary>
    internal ApiVersionRange? BrokerRange { get; }

    /// <summary>What the caller can use.</summary>
    internal ApiVersionRange ClientRange { get; }

    private static string Format(ApiKey apiKey, BrokerEndpoint? broker, ApiVersionRange? brokerRange, ApiVersionRange clientRange)
    {
        var who = broker is null ? "The broker" : $"Broker {broker}";
        var name = Enum.IsDefined(apiKey) ? $"{apiKey} (key {(short)apiKey})" : $"API key {(short)apiKey}";
        return brokerRange is { } b
            ? $"{who} supports {name} {b}, but Kiel needs {clientRange}; there is no common version. Upgrade the broker, or use a feature that the broker supports."
            : $"{who} does not offer {name} at all; Kiel needs {clientRange}. The broker is too old for this operation (or ApiVersions was capped).";
    }
}
