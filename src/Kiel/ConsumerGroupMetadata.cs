namespace Kiel;

/// <summary>
/// The consumer group a transactional producer commits input offsets for, with the member's identity so that the
/// group coordinator can fence a zombie member (KIP-447). Only <paramref name="GroupId"/> is needed for a group
/// without live Kafka members.
/// </summary>
/// <param name="GroupId">The group id.</param>
/// <param name="MemberId">The member id the group coordinator gave the consumer, or empty.</param>
/// <param name="GenerationId">The group generation the consumer is in, or -1.</param>
/// <param name="GroupInstanceId">The static member id (KIP-345), or null.</param>
public sealed record ConsumerGroupMetadata(string GroupId, string MemberId = "", int GenerationId = -1, string? GroupInstanceId = null);
