using Kiel.Cluster;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Producing.Internal;

internal sealed partial class ClusterProducerTransport
{
    private async ValueTask<BrokerConnection> CoordinatorAsync(CoordinatorType type, string key, CancellationToken cancellationToken)
    {
        await Started().WaitAsync(cancellationToken).ConfigureAwait(false);
        return await _cluster.GetCoordinatorConnectionAsync(type, key, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<(short ErrorCode, ProducerIdentity Identity)> InitTransactionalIdAsync(string transactionalId, int transactionTimeoutMs,
        ProducerIdentity? current, CancellationToken cancellationToken)
    {
        var connection = await CoordinatorAsync(CoordinatorType.Transaction, transactionalId, cancellationToken).ConfigureAwait(false);
        var version = connection.Versions.Choose(ApiKey.InitProducerId);
        var request = new InitProducerIdRequest { TransactionalId = transactionalId, TransactionTimeoutMs = transactionTimeoutMs };
        if (current is { } c && version >= 3)
        {
            request.ProducerId = c.ProducerId;
            request.ProducerEpoch = c.Epoch;
        }
        var response = await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
        return (response.ErrorCode, new ProducerIdentity(response.ProducerId, response.ProducerEpoch));
    }

    public async ValueTask<IReadOnlyList<(TopicPartition Partition, short ErrorCode)>> AddPartitionsToTxnAsync(string transactionalId, ProducerIdentity identity,
        IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken)
    {
        var connection = await CoordinatorAsync(CoordinatorType.Transaction, transactionalId, cancellationToken).ConfigureAwait(false);
        var version = connection.Versions.Choose(ApiKey.AddPartitionsToTxn);
        var request = new AddPartitionsToTxnRequest
        {
            V3AndBelowTransactionalId = transactionalId,
            V3AndBelowProducerId = identity.ProducerId,
            V3AndBelowProducerEpoch = identity.Epoch,
            V3AndBelowTopics = [],
        };
        foreach (var group in partitions.GroupBy(p => p.Topic, StringComparer.Ordinal))
            request.V3AndBelowTopics.Add(new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = group.Key, Partitions = [.. group.Select(p => p.Partition)] });
        var response = await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
        var results = new List<(TopicPartition, short)>(partitions.Count);
        foreach (var t in response.ResultsByTopicV3AndBelow)
            foreach (var p in t.ResultsByPartition)
                results.Add((new TopicPartition(t.Name, p.PartitionIndex), p.PartitionErrorCode));
        if (response.ErrorCode != 0 || results.Count == 0)
        {
            results.Clear();
            foreach (var p in partitions) results.Add((p, response.ErrorCode != 0 ? response.ErrorCode : (short)ErrorCode.UnknownServerError));
        }
        return results;
    }

    public async ValueTask<short> AddOffsetsToTxnAsync(string transactionalId, ProducerIdentity identity, string groupId, CancellationToken cancellationToken)
    {
        var connection = await CoordinatorAsync(CoordinatorType.Transaction, transactionalId, cancellationToken).ConfigureAwait(false);
        var version = connection.Versions.Choose(ApiKey.AddOffsetsToTxn);
        var request = new AddOffsetsToTxnRequest
        {
            TransactionalId = transactionalId, ProducerId = identity.ProducerId, ProducerEpoch = identity.Epoch, GroupId = groupId,
        };
        var response = await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
        return response.ErrorCode;
    }

    public async ValueTask<IReadOnlyList<(TopicPartition Partition, short ErrorCode)>> TxnOffsetCommitAsync(string transactionalId, ProducerIdentity identity,
        ConsumerGroupMetadata group, IReadOnlyList<KeyValuePair<TopicPartition, long>> offsets, CancellationToken cancellationToken)
    {
        var connection = await CoordinatorAsync(CoordinatorType.Group, group.GroupId, cancellationToken).ConfigureAwait(false);
        var version = connection.Versions.Choose(ApiKey.TxnOffsetCommit);
        var request = new TxnOffsetCommitRequest
        {
            TransactionalId = transactionalId,
            GroupId = group.GroupId,
            ProducerId = identity.ProducerId,
            ProducerEpoch = identity.Epoch,
            // Generation, member and instance id exist from v3 (KIP-447); older versions carry the group id alone.
            GenerationId = version >= 3 ? group.GenerationId : -1,
            MemberId = version >= 3 ? group.MemberId : "",
            GroupInstanceId = version >= 3 ? group.GroupInstanceId : null,
            Topics = [],
        };
        foreach (var t in offsets.GroupBy(o => o.Key.Topic, StringComparer.Ordinal))
            request.Topics.Add(new TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic
            {
                Name = t.Key,
                Partitions = [.. t.Select(o => new TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition
                {
                    PartitionIndex = o.Key.Partition, CommittedOffset = o.Value, CommittedLeaderEpoch = -1, CommittedMetadata = "",
                })],
            });
        var response = await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
        var results = new List<(TopicPartition, short)>(offsets.Count);
        foreach (var t in response.Topics)
            foreach (var p in t.Partitions)
                results.Add((new TopicPartition(t.Name, p.PartitionIndex), p.ErrorCode));
        return results;
    }

    public async ValueTask<short> EndTxnAsync(string transactionalId, ProducerIdentity identity, bool commit, CancellationToken cancellationToken)
    {
        var connection = await CoordinatorAsync(CoordinatorType.Transaction, transactionalId, cancellationToken).ConfigureAwait(false);
        var version = connection.Versions.Choose(ApiKey.EndTxn);
        var request = new EndTxnRequest
        {
            TransactionalId = transactionalId, ProducerId = identity.ProducerId, ProducerEpoch = identity.Epoch, Committed = commit,
        };
        var response = await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
        return response.ErrorCode;
    }

    public void ForgetCoordinator(bool group, string key, string reason) =>
        _cluster.ForgetCoordinator(group ? CoordinatorType.Group : CoordinatorType.Transaction, key, reason);
}
