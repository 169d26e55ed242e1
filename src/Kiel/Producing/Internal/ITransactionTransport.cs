namespace Kiel.Producing.Internal;

/// <summary>
/// The transaction coordinator and group coordinator requests of a transactional producer. Each call finds the
/// coordinator (cached), sends one request and returns the broker's error codes as they are; the
/// <see cref="TransactionManager"/> classifies and retries them. A connection that cannot be made or breaks throws.
/// </summary>
internal interface ITransactionTransport
{
    /// <summary>InitProducerId with the transactional id; with <paramref name="current"/> (InitProducerId v3+) the broker may bump that epoch (KIP-360).</summary>
    ValueTask<(short ErrorCode, ProducerIdentity Identity)> InitTransactionalIdAsync(string transactionalId, int transactionTimeoutMs,
        ProducerIdentity? current, CancellationToken cancellationToken);

    /// <summary>AddPartitionsToTxn: the partitions' error codes (a top-level error is given to every partition).</summary>
    ValueTask<IReadOnlyList<(TopicPartition Partition, short ErrorCode)>> AddPartitionsToTxnAsync(string transactionalId, ProducerIdentity identity,
        IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken);

    /// <summary>AddOffsetsToTxn to the transaction coordinator.</summary>
    ValueTask<short> AddOffsetsToTxnAsync(string transactionalId, ProducerIdentity identity, string groupId, CancellationToken cancellationToken);

    /// <summary>TxnOffsetCommit to the group coordinator: the partitions' error codes.</summary>
    ValueTask<IReadOnlyList<(TopicPartition Partition, short ErrorCode)>> TxnOffsetCommitAsync(string transactionalId, ProducerIdentity identity,
        ConsumerGroupMetadata group, IReadOnlyList<KeyValuePair<TopicPartition, long>> offsets, CancellationToken cancellationToken);

    /// <summary>EndTxn: commit or abort.</summary>
    ValueTask<short> EndTxnAsync(string transactionalId, ProducerIdentity identity, bool commit, CancellationToken cancellationToken);

    /// <summary>Forgets a cached coordinator (it moved or could not be reached).</summary>
    void ForgetCoordinator(bool group, string key, string reason);
}
