namespace Kiel.Cluster;

/// <summary>The kind of coordinator FindCoordinator looks up (its <c>KeyType</c>).</summary>
internal enum CoordinatorType : sbyte
{
    /// <summary>A consumer group's coordinator; the key is the group id.</summary>
    Group = 0,
    /// <summary>A transactional producer's coordinator; the key is the transactional id.</summary>
    Transaction = 1,
}
