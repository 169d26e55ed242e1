using System.Collections.Frozen;
using Kiel.Network;

namespace Kiel.Cluster;

/// <summary>One partition as metadata describes it.</summary>
/// <param name="Partition">The partition index.</param>
/// <param name="LeaderId">The leader's broker id, or -1 when there is none (election in progress).</param>
/// <param name="LeaderEpoch">The leader epoch, or -1 when the broker does not report it (Metadata below v7).</param>
/// <param name="Replicas">Broker ids holding a replica.</param>
/// <param name="Isr">Broker ids of the in-sync replicas.</param>
/// <param name="OfflineReplicas">Broker ids of offline replicas (Metadata v5+).</param>
/// <param name="ErrorCode">The partition's error code (0 when fine; 5 while leaderless).</param>
internal sealed record PartitionMetadata(int Partition, int LeaderId, int LeaderEpoch, IReadOnlyList<int> Replicas, IReadOnlyList<int> Isr,
    IReadOnlyList<int> OfflineReplicas, short ErrorCode);

/// <summary>One topic as metadata describes it.</summary>
/// <param name="Name">The topic name.</param>
/// <param name="TopicId">The topic id (Metadata v10+), or <see cref="Guid.Empty"/>.</param>
/// <param name="ErrorCode">The topic's error code (0 when fine; 3 when unknown).</param>
/// <param name="IsInternal">True for internal topics such as <c>__consumer_offsets</c>.</param>
/// <param name="Partitions">The partitions, sorted by index.</param>
internal sealed record TopicMetadata(string Name, Guid TopicId, short ErrorCode, bool IsInternal, IReadOnlyList<PartitionMetadata> Partitions)
{
    /// <summary>Finds a partition by index.</summary>
    public PartitionMetadata? GetPartition(int partition)
    {
        // Partitions are sorted, and normally index == position.
        if ((uint)partition < (uint)Partitions.Count && Partitions[partition].Partition == partition) return Partitions[partition];
        foreach (var p in Partitions) if (p.Partition == partition) return p;
        return null;
    }
}

/// <summary>
/// An immutable view of the cluster at one moment: brokers, controller, cluster id, and the topics asked about.
/// A refresh builds a new snapshot; readers never see a half-updated one.
/// </summary>
internal sealed class MetadataSnapshot
{
    /// <summary>The snapshot before any metadata is known.</summary>
    public static readonly MetadataSnapshot Empty = new(null, -1, FrozenDictionary<int, BrokerEndpoint>.Empty, FrozenDictionary<string, TopicMetadata>.Empty, DateTimeOffset.MinValue, -1);

    /// <summary>Creates a snapshot.</summary>
    public MetadataSnapshot(string? clusterId, int controllerId, IReadOnlyDictionary<int, BrokerEndpoint> brokers,
        IReadOnlyDictionary<string, TopicMetadata> topics, DateTimeOffset refreshedAt, short metadataVersion)
    {
        ClusterId = clusterId;
        ControllerId = controllerId;
        Brokers = brokers;
        Topics = topics;
        RefreshedAt = refreshedAt;
        MetadataVersion = metadataVersion;
    }

    /// <summary>The cluster id (Metadata v2+), or null.</summary>
    public string? ClusterId { get; }

    /// <summary>The controller's broker id (Metadata v1+), or -1.</summary>
    public int ControllerId { get; }

    /// <summary>Live brokers by id. A down broker may be missing here and still be named as a leader.</summary>
    public IReadOnlyDictionary<int, BrokerEndpoint> Brokers { get; }

    /// <summary>Known topics by name, including those that came back with an error.</summary>
    public IReadOnlyDictionary<string, TopicMetadata> Topics { get; }

    /// <summary>When this snapshot was taken.</summary>
    public DateTimeOffset RefreshedAt { get; }

    /// <summary>The Metadata version that produced it, or -1 for <see cref="Empty"/>.</summary>
    public short MetadataVersion { get; }

    private FrozenDictionary<Guid, TopicMetadata>? _byId;

    /// <summary>
    /// Finds a topic by its id (Metadata v10+ reports ids; Fetch v13+ names topics only by id). False for
    /// <see cref="Guid.Empty"/> and for unknown ids.
    /// </summary>
    public bool TryGetTopicById(Guid topicId, [NotNullWhen(true)] out TopicMetadata? metadata)
    {
        var byId = _byId ??= Topics.Values.Where(t => t.TopicId != Guid.Empty && t.ErrorCode == 0)
            .GroupBy(t => t.TopicId).ToFrozenDictionary(g => g.Key, g => g.First());
        return byId.TryGetValue(topicId, out metadata);
    }

    /// <summary>Finds a topic that exists (error code 0).</summary>
    public bool TryGetTopic(string topic, [NotNullWhen(true)] out TopicMetadata? metadata)
    {
        if (Topics.TryGetValue(topic, out var t) && t.ErrorCode == 0)
        {
            metadata = t;
            return true;
        }
        metadata = null;
        return false;
    }

    /// <summary>Finds a partition of a topic that exists.</summary>
    public bool TryGetPartition(string topic, int partition, [NotNullWhen(true)] out PartitionMetadata? metadata)
    {
        metadata = TryGetTopic(topic, out var t) ? t.GetPartition(partition) : null;
        return metadata is not null;
    }

    /// <summary>
    /// Finds the leader of a partition. False when the partition is unknown, has no leader, or its leader is not
    /// in the broker list (a down broker can still be named leader).
    /// </summary>
    public bool TryGetLeader(string topic, int partition, [NotNullWhen(true)] out BrokerEndpoint? leader)
    {
        leader = null;
        return TryGetPartition(topic, partition, out var p) && p.LeaderId >= 0 && Brokers.TryGetValue(p.LeaderId, out leader);
    }

    /// <summary>A one-line summary for logs.</summary>
    public override string ToString() =>
        $"cluster {ClusterId ?? "?"}: {Brokers.Count} broker(s) [{string.Join(", ", Brokers.Keys.Order())}], controller {ControllerId}, {Topics.Count} topic(s)";
}
