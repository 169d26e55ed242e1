using Kiel.Cluster;
using Kiel.Groups;

namespace Kiel;

/// <summary>
/// <see cref="GroupCoordination.Kafka"/>: the group is a Kafka consumer group. The member (the classic protocol, the
/// same one a <see cref="Consuming.KielConsumer{TKey, TValue}"/> uses) subscribes to every topic the cluster knows, as
/// kiel's ZooKeeper set holds every partition, and drives this consumer through <see cref="IPartitionOwner"/>.
/// </summary>
public partial class GroupedConsumer<TValue>
{
    private Dictionary<string, int> _kafkaShape = new(StringComparer.Ordinal);

    private async Task ConnectKafkaAsync(KafkaCluster cluster, CancellationToken cancellationToken)
    {
        // kiel's offsets in ZooKeeper are read (or written) only when OffsetsZooKeeperHosts names that ZooKeeper.
        await OpenZooKeeperOffsetsAsync(cancellationToken).ConfigureAwait(false);
        _kafka = new KafkaGroupCoordination(this, cluster, Options, _log);
        _kafkaShape = Shape(cluster.Metadata);
        _kafka.Subscribe([.. _kafkaShape.Keys]);
        // The coordinator holds a JoinGroup until every member rejoined (up to the rebalance timeout, MaxPollInterval).
        using var join = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        join.CancelAfter(Options.MaxPollInterval + Options.SessionTimeout + Options.RequestTimeout);
        await _kafka.Member.WaitForAssignmentAsync(join.Token).ConfigureAwait(false);
    }

    /// <summary>The topics a Kafka-coordinated member subscribes to, with their partition counts: every topic the metadata
    /// knows without error, internal ones (such as <c>__consumer_offsets</c>) aside.</summary>
    private static Dictionary<string, int> Shape(MetadataSnapshot metadata)
    {
        var shape = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var topic in metadata.Topics.Values)
            if (topic.ErrorCode == 0 && !topic.IsInternal && topic.Partitions.Count > 0)
                shape[topic.Name] = topic.Partitions.Count;
        return shape;
    }

    /// <summary>A topic appeared or went, or gained partitions: subscribe afresh, so that the member rejoins and the
    /// leader assigns with the new partition counts.</summary>
    private void ResubscribeKafka(KafkaGroupCoordination kafka, MetadataSnapshot metadata)
    {
        var shape = Shape(metadata);
        var grown = shape.Any(kv => _kafkaShape.TryGetValue(kv.Key, out var before) && kv.Value != before);
        var topicsChanged = shape.Count != _kafkaShape.Count || shape.Keys.Any(t => !_kafkaShape.ContainsKey(t));
        _kafkaShape = shape;
        if (grown || topicsChanged) kafka.Subscribe([.. shape.Keys], force: grown);
    }
}
