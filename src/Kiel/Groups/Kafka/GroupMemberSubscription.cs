namespace Kiel.Groups.Kafka;

/// <summary>
/// One member of a classic group as its JoinGroup metadata describes it: what it subscribes to and what it owns.
/// The group leader hands these to the <see cref="PartitionAssignor"/>.
/// </summary>
/// <param name="MemberId">The member id the coordinator gave the member.</param>
/// <param name="GroupInstanceId">The static member's instance id (KIP-345), or null for a dynamic member.</param>
/// <param name="Topics">The topics it subscribes to.</param>
/// <param name="OwnedPartitions">The partitions it owns (ConsumerProtocolSubscription v1+; empty before).</param>
/// <param name="Generation">The generation in which it owned them (v2+), or -1 when unknown.</param>
/// <param name="UserData">The assignor's opaque user data; empty when none (a null on the wire reads as empty).</param>
/// <param name="RackId">The member's rack (v3+), or null.</param>
internal sealed record GroupMemberSubscription(
    string MemberId,
    string? GroupInstanceId,
    IReadOnlyList<string> Topics,
    IReadOnlyList<TopicPartition> OwnedPartitions,
    int Generation,
    ReadOnlyMemory<byte> UserData,
    string? RackId);
