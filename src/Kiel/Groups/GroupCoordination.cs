namespace Kiel;

/// <summary>How the members of a <c>GroupedConsumer</c> agree on who reads which partition.</summary>
public enum GroupCoordination
{
    /// <summary>kiel's way (the default): the members register in ZooKeeper and each runs the allocator on the same inputs.</summary>
    ZooKeeper = 0,

    /// <summary>
    /// A Kafka consumer group (the classic protocol): the broker's group coordinator runs the membership, and the
    /// leader runs the allocator as its assignor. No ZooKeeper is needed.
    /// </summary>
    Kafka = 1,
}
