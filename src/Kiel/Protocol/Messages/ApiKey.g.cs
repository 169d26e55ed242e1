// Placeholder until the protocol generator (tools/Kiel.ProtocolGen) writes the real table.
namespace Kiel.Protocol;

/// <summary>Kafka API keys.</summary>
public enum ApiKey : short
{
    /// <summary>Produce.</summary>
    Produce = 0,
    /// <summary>Fetch.</summary>
    Fetch = 1,
    /// <summary>Metadata.</summary>
    Metadata = 3,
    /// <summary>ApiVersions.</summary>
    ApiVersions = 18,
}
