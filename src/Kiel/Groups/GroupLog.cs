using Kiel.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kiel.Groups;

/// <summary>Log messages of the grouped consumer; event ids 4000–4099 (the grouped consumer range of Kiel.Diagnostics.LogEvents).</summary>
internal static partial class GroupLog
{
    [LoggerMessage(LogEvents.GroupJoined, LogLevel.Information, "Member {Member} joined group {Group}")]
    public static partial void Joined(ILogger logger, string member, string group);

    [LoggerMessage(LogEvents.GroupLeft, LogLevel.Information, "Member {Member} left group {Group}")]
    public static partial void Left(ILogger logger, string member, string group);

    [LoggerMessage(LogEvents.GroupRebalanced, LogLevel.Information, "Group {Group} rebalanced: {Members} members, {Partitions} partitions; member {Member} is allocated {Allocation}")]
    public static partial void Rebalanced(ILogger logger, string group, int members, int partitions, string member, string allocation);

    [LoggerMessage(LogEvents.GroupRevoking, LogLevel.Information, "Member {Member} gives up {Partitions}")]
    public static partial void Revoking(ILogger logger, string member, string partitions);

    [LoggerMessage(LogEvents.GroupClaimed, LogLevel.Information, "Member {Member} claimed {Partitions}")]
    public static partial void Claimed(ILogger logger, string member, string partitions);

    [LoggerMessage(LogEvents.GroupWaitingForClaim, LogLevel.Debug, "Member {Member} waits for {Partition} to be released by its previous owner")]
    public static partial void WaitingForClaim(ILogger logger, string member, string partition);

    [LoggerMessage(LogEvents.GroupSession, LogLevel.Warning, "ZooKeeper session of member {Member} is {State}")]
    public static partial void Session(ILogger logger, string member, GroupSessionState state);

    [LoggerMessage(LogEvents.GroupRebalanceFailed, LogLevel.Warning, "Rebalance of member {Member} failed; it is retried")]
    public static partial void RebalanceFailed(ILogger logger, Exception exception, string member);

    [LoggerMessage(LogEvents.GroupClaimFailed, LogLevel.Warning, "Member {Member} could not claim {Partition}; it is retried")]
    public static partial void ClaimFailed(ILogger logger, Exception exception, string member, string partition);

    [LoggerMessage(LogEvents.GroupRejoining, LogLevel.Warning, "Member {Member} is not in the party of group {Group}; joining again")]
    public static partial void Rejoining(ILogger logger, string member, string group);

    [LoggerMessage(LogEvents.GroupRevokeCommitFailed, LogLevel.Warning, "Committing revoked partitions failed for member {Member}; their claims are released anyway and the next owner may repeat records")]
    public static partial void RevokeCommitFailed(ILogger logger, Exception exception, string member);

    [LoggerMessage(LogEvents.GroupHandlerFailed, LogLevel.Warning, "The AllocationChanged handler of member {Member} failed")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string member);

    [LoggerMessage(LogEvents.GroupCoordinator, LogLevel.Information, "Group {Group} coordinator is broker {BrokerId}")]
    public static partial void Coordinator(ILogger logger, string group, int brokerId);

    [LoggerMessage(LogEvents.GroupRetriableError, LogLevel.Warning, "Group {Group}: {Api} got retriable error {Code}; retrying (attempt {Attempt})")]
    public static partial void RetriableError(ILogger logger, string group, string api, short code, int attempt);

    [LoggerMessage(LogEvents.GroupNoCommittedOffset, LogLevel.Information, "Group {Group}: no committed offset for {Partition}; starting at {Position}")]
    public static partial void NoCommittedOffset(ILogger logger, string group, string partition, string position);

    [LoggerMessage(LogEvents.GroupMetadataTooLarge, LogLevel.Warning, "Group {Group}: commit metadata was too large; committing again with empty metadata")]
    public static partial void MetadataTooLarge(ILogger logger, string group);

    [LoggerMessage(LogEvents.GroupWindDownFailed, LogLevel.Warning, "Wind-down of member {Member} did not finish cleanly")]
    public static partial void WindDownFailed(ILogger logger, Exception exception, string member);

    [LoggerMessage(LogEvents.GroupCommitSkipped, LogLevel.Warning, "Group {Group}: member {Member} skipped a commit: its claims could not be confirmed (session lost or out of touch)")]
    public static partial void CommitSkipped(ILogger logger, string group, string member);

    [LoggerMessage(LogEvents.GroupHandOutHeldBack, LogLevel.Debug, "Member {Member} held back {Count} fetched records: its claims are not known alive ({Lease})")]
    public static partial void HandOutHeldBack(ILogger logger, string member, int count, string lease);

    [LoggerMessage(LogEvents.GroupLeaseConfirmation, LogLevel.Debug, "Member {Member} confirmed its session and claims after a gap: {Confirmed} ({Lease})")]
    public static partial void LeaseConfirmation(ILogger logger, string member, bool confirmed, string lease);
}
