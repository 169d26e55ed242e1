using Kiel.Consuming;

namespace Kiel.Groups.Kafka;

/// <summary>
/// One consumer's membership of a Kafka consumer group, whatever the protocol: the classic one (JoinGroup, SyncGroup,
/// Heartbeat, LeaveGroup; <c>ClassicGroupMember</c>) or KIP-848's (ConsumerGroupHeartbeat). The member runs on
/// its own task, so its heartbeats are never held up by the application's processing; it tells the consumer what to
/// fetch through <see cref="IGroupMemberListener"/>, whose calls it awaits before the rebalance goes on.
/// </summary>
internal interface IGroupMember : IAsyncDisposable
{
    /// <summary>The group id, member id, generation (or member epoch) and instance id, as the last join left them.</summary>
    ConsumerGroupMetadata Metadata { get; }

    /// <summary>The partitions this member owns now (handed to <see cref="IGroupMemberListener.OnAssignedAsync"/> and not yet taken back).</summary>
    IReadOnlyList<TopicPartition> Owned { get; }

    /// <summary>
    /// True while records may be handed to the application: the member holds a current assignment and its session is
    /// known alive (its last successful heartbeat is younger than the session timeout). A member whose session lapsed
    /// or that was fenced hands out nothing until it has rejoined.
    /// </summary>
    bool MayHandOut { get; }

    /// <summary>A final failure (fenced static member, not authorized, a setting the broker refuses), or null.</summary>
    Exception? Failure { get; }

    /// <summary>Starts (or changes) the subscription; the member joins on its own task. Returns once the loop runs, not once joined.</summary>
    void Subscribe(IReadOnlyList<string> topics);

    /// <summary>Waits until the member has an assignment (or failed); used by callers that want to await the first join.</summary>
    Task WaitForAssignmentAsync(CancellationToken cancellationToken);

    /// <summary>Called by the consumer when the application asks for records, so that a member that left after a
    /// processing stall (<c>MaxPollInterval</c>) joins again.</summary>
    void NotifyPolling();

    /// <summary>Revokes what it owns (the listener commits), leaves the group (not for static members) and stops.</summary>
    Task LeaveAsync(CancellationToken cancellationToken);

    /// <summary>An OffsetCommit sent with <paramref name="generation"/> was answered REBALANCE_IN_PROGRESS: the group is
    /// rebalancing, so a member still at that generation joins now rather than at its next heartbeat (as Java's does).</summary>
    void OnCommitSawRebalance(int generation)
    {
    }
}

/// <summary>What a group member asks of its consumer; each call is awaited before the rebalance goes on.</summary>
internal interface IGroupMemberListener
{
    /// <summary>Partitions newly assigned: start fetching them at their committed offsets, then tell the application.</summary>
    ValueTask OnAssignedAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken);

    /// <summary>Partitions revoked in an orderly rebalance: tell the application, commit what it was handed, stop fetching them.</summary>
    ValueTask OnRevokedAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken);

    /// <summary>Partitions lost (session expired, fenced, processing stalled): stop fetching them and tell the application; no commit.</summary>
    ValueTask OnLostAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken);

    /// <summary>The member stopped for good (<see cref="IGroupMember.Failure"/>); the consumer surfaces it to a waiting reader.</summary>
    void OnFailed(Exception error);

    /// <summary>
    /// How much the application progressed: a number that changes whenever a record or batch is handed out, and
    /// whether the application is waiting for records now. The member reads it to detect a processing stall.
    /// </summary>
    (long HandOuts, bool Waiting) Progress { get; }
}
