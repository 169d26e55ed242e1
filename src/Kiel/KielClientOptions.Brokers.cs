using Kiel.Network;

namespace Kiel;

/// <summary>The settings for old brokers, those that predate ApiVersions (Kafka 0.8.x and 0.9.x).</summary>
public abstract partial record KielClientOptions
{
    /// <summary>
    /// The Kafka release to assume for a broker that does not answer ApiVersions, like librdkafka's
    /// <c>broker.version.fallback</c>: <c>0.8.2</c> or <c>0.9.0</c> (also <c>0.8.0</c>, <c>0.8.1</c>, <c>0.10.0</c> to
    /// <c>0.11.0</c>). Null (the default) detects it: such a broker is probed once and taken for 0.9.0 when it knows the
    /// group APIs, else 0.8.2, and the release is logged once per broker. Brokers that answer ApiVersions (0.10.0 on)
    /// never use this.
    /// </summary>
    public string? BrokerVersionFallback { get; init; }

    /// <summary>The problems of the old-broker settings, reported with the other shared settings.</summary>
    private protected IEnumerable<(string Setting, string Problem)> BrokerSettingProblems()
    {
        if (BrokerVersionFallback is not null && !Network.BrokerVersionFallback.TryGet(BrokerVersionFallback, out _))
            yield return (nameof(BrokerVersionFallback),
                $"is '{BrokerVersionFallback}', which is not a known Kafka release; use one of {string.Join(", ", Network.BrokerVersionFallback.KnownReleases)}, or leave it null to detect the release.");
    }
}
