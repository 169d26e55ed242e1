using Kiel.Cluster;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Groups.Kafka;

/// <summary>
/// What a KIP-848 member needs of the cluster: ConsumerGroupHeartbeat to the group coordinator, and topic names for
/// the topic ids an assignment names. A seam, so that the member's state machine is tested with scripted responses.
/// </summary>
internal interface IConsumerGroupHeartbeatChannel
{
    /// <summary>Sends one ConsumerGroupHeartbeat to the group's coordinator and returns its response (errors in it are the caller's).</summary>
    ValueTask<ConsumerGroupHeartbeatResponse> HeartbeatAsync(ConsumerGroupHeartbeatRequest request, CancellationToken cancellationToken);

    /// <summary>Forgets the cached coordinator, so that the next heartbeat looks it up again.</summary>
    void CoordinatorMoved(string reason);

    /// <summary>The names of the topics with these ids that metadata knows (fresh metadata for <paramref name="subscribed"/>); unknown ids are absent.</summary>
    ValueTask<IReadOnlyDictionary<Guid, string>> ResolveTopicNamesAsync(IReadOnlyCollection<Guid> topicIds, IReadOnlyList<string> subscribed, CancellationToken cancellationToken);
}

/// <summary>The channel over a <see cref="KafkaCluster"/>: coordinator lookup, ConsumerGroupHeartbeat v1, metadata for topic ids.</summary>
internal sealed class ClusterHeartbeatChannel(KafkaCluster cluster, string groupId) : IConsumerGroupHeartbeatChannel
{
    /// <summary>The version Kiel speaks: v1 (Kafka 4.0), where the member chooses its own member id. v0 was early access.</summary>
    internal const short HeartbeatVersion = 1;

    public async ValueTask<ConsumerGroupHeartbeatResponse> HeartbeatAsync(ConsumerGroupHeartbeatRequest request, CancellationToken cancellationToken)
    {
        if (cluster.Metadata == MetadataSnapshot.Empty) await cluster.StartAsync(cancellationToken).ConfigureAwait(false);
        var connection = await cluster.GetCoordinatorConnectionAsync(CoordinatorType.Group, groupId, cancellationToken).ConfigureAwait(false);
        if (!connection.Versions.TryChoose(ApiKey.ConsumerGroupHeartbeat, HeartbeatVersion, HeartbeatVersion, out var version))
            throw new KafkaException(ErrorCode.UnsupportedVersion,
                $"group '{groupId}': the coordinator does not serve ConsumerGroupHeartbeat v1 (KIP-848, Kafka 4.0 and later); use GroupProtocol.Classic with this cluster");
        return await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
    }

    public void CoordinatorMoved(string reason) => cluster.ForgetCoordinator(CoordinatorType.Group, groupId, reason);

    public async ValueTask<IReadOnlyDictionary<Guid, string>> ResolveTopicNamesAsync(IReadOnlyCollection<Guid> topicIds, IReadOnlyList<string> subscribed, CancellationToken cancellationToken)
    {
        var snapshot = cluster.Metadata;
        if (!topicIds.All(id => snapshot.TryGetTopicById(id, out _)))
            snapshot = await cluster.RefreshMetadataAsync(subscribed, cancellationToken).ConfigureAwait(false);
        var names = new Dictionary<Guid, string>();
        foreach (var id in topicIds)
            if (snapshot.TryGetTopicById(id, out var topic)) names[id] = topic.Name;
        return names;
    }
}
