namespace Kiel.Groups;

/// <summary>The side of the consumer that the group coordination drives: it starts and stops fetching partitions.</summary>
internal interface IPartitionOwner
{
    /// <summary>
    /// Stops fetching <paramref name="revoked"/> and drops what was fetched for them but not yet returned. With
    /// <paramref name="commit"/>, commits the progress returned so far before it returns (the claims go only after this).
    /// </summary>
    Task RevokeAsync(IReadOnlyCollection<TopicPartition> revoked, bool commit, CancellationToken cancellationToken);

    /// <summary>Starts on <paramref name="assigned"/>, which are claimed: their committed offsets are to be read afresh.</summary>
    Task AssignAsync(IReadOnlyCollection<TopicPartition> assigned, CancellationToken cancellationToken);

    /// <summary>The ZooKeeper connection is suspended (true) or back (false): hand out no records meanwhile.</summary>
    void SetPaused(bool paused);

    /// <summary>Called after every change of this member's owned partitions, with the handler's args.</summary>
    Task OnAllocationChangedAsync(AllocationChangedEventArgs args);
}
