namespace Kiel.Testing;

/// <summary>
/// Kafka API keys commonly used with the fault-injection API of <see cref="EmbeddedKafkaCluster"/>.
/// Plain numbers, so that this package does not depend on the client's protocol types.
/// </summary>
public static class KafkaApiKeys
{
    /// <summary>Produce (0).</summary>
    public const short Produce = 0;

    /// <summary>Fetch (1).</summary>
    public const short Fetch = 1;

    /// <summary>ListOffsets (2).</summary>
    public const short ListOffsets = 2;

    /// <summary>Metadata (3).</summary>
    public const short Metadata = 3;

    /// <summary>OffsetCommit (8).</summary>
    public const short OffsetCommit = 8;

    /// <summary>OffsetFetch (9).</summary>
    public const short OffsetFetch = 9;

    /// <summary>FindCoordinator, formerly GroupCoordinator (10).</summary>
    public const short FindCoordinator = 10;

    /// <summary>JoinGroup (11).</summary>
    public const short JoinGroup = 11;

    /// <summary>Heartbeat (12).</summary>
    public const short Heartbeat = 12;

    /// <summary>LeaveGroup (13).</summary>
    public const short LeaveGroup = 13;

    /// <summary>SyncGroup (14).</summary>
    public const short SyncGroup = 14;

    /// <summary>ApiVersions (18).</summary>
    public const short ApiVersions = 18;

    /// <summary>InitProducerId (22).</summary>
    public const short InitProducerId = 22;
}
