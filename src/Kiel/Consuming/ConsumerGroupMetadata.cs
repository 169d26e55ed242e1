namespace Kiel.Consuming;

/// <summary>
/// A group consumer's membership as the group coordinator knows it, for offset commits made elsewhere (for example
/// by a transactional producer's <c>SendOffsetsToTransactionAsync</c>, which fences zombie members with it, KIP-447).
/// </summary>
/// <param name="GroupId">The group id.</param>
/// <param name="MemberId">The member id the coordinator gave this member ("" before the first join).</param>
/// <param name="GenerationId">The group generation (classic protocol) or member epoch (KIP-848); -1 when not in a generation.</param>
/// <param name="GroupInstanceId">The static member id (KIP-345), or null for a dynamic member.</param>
public sealed record ConsumerGroupMetadata(string GroupId, string MemberId, int GenerationId, string? GroupInstanceId);
