namespace Kiel.Protocol;

/// <summary>What the protocol schemas say about one API.</summary>
/// <param name="Key">The API key.</param>
/// <param name="Name">The API name, for example <c>Metadata</c>.</param>
/// <param name="MinVersion">The lowest version the schemas define.</param>
/// <param name="MaxVersion">The highest version the schemas define.</param>
/// <param name="FirstFlexibleVersion">The first flexible version, or -1 when no version is flexible.</param>
/// <param name="LatestVersionUnstable">True when <paramref name="MaxVersion"/> is still under development upstream.</param>
/// <param name="Listeners">Which server roles accept the API.</param>
internal sealed record ApiInfo(
    ApiKey Key,
    string Name,
    short MinVersion,
    short MaxVersion,
    short FirstFlexibleVersion,
    bool LatestVersionUnstable,
    ApiListeners Listeners)
{
    /// <summary>True when <paramref name="version"/> uses the flexible encoding (compact lengths, tagged fields).</summary>
    public bool IsFlexible(short version) => FirstFlexibleVersion >= 0 && version >= FirstFlexibleVersion;

    /// <summary>True when the schemas define <paramref name="version"/>.</summary>
    public bool IsValid(short version) => version >= MinVersion && version <= MaxVersion;
}

/// <summary>The server roles that accept an API.</summary>
[Flags]
internal enum ApiListeners
{
    /// <summary>None listed.</summary>
    None = 0,
    /// <summary>A ZooKeeper-mode broker (gone in Kafka 4.0).</summary>
    ZkBroker = 1,
    /// <summary>A KRaft broker.</summary>
    Broker = 2,
    /// <summary>A KRaft controller.</summary>
    Controller = 4,
}
