namespace Kiel.Consuming;

/// <summary>Which group protocol a consumer with a <c>GroupId</c> speaks (Confluent's <c>group.protocol</c>).</summary>
public enum GroupProtocol
{
    /// <summary>The classic protocol: JoinGroup, SyncGroup and Heartbeat, with the assignment computed by the group leader on the client.</summary>
    Classic,

    /// <summary>KIP-848's consumer protocol: ConsumerGroupHeartbeat, with the assignment computed by the broker.</summary>
    Consumer,
}
