using System.Collections.Concurrent;
using Kiel.Producing.Internal;

namespace Kiel.Tests.Producing;

/// <summary>The fake's transaction coordinator: it records each call in <see cref="Events"/> and answers with queued error codes per API.</summary>
internal sealed partial class FakeTransport : ITransactionTransport
{
    /// <summary>What happened, in order: "Init", "AddPartitions t:0,t:1", "Produce t:0 txn", "AddOffsets g", "TxnOffsetCommit g t:0=5", "EndTxn commit".</summary>
    public readonly ConcurrentQueue<string> Events = new();
    /// <summary>Error codes each transactional API answers with, one per call, before it succeeds.</summary>
    public readonly ConcurrentDictionary<string, ConcurrentQueue<short>> TxnErrors = new();
    public readonly ConcurrentQueue<string> Forgotten = new();
    public readonly ConcurrentQueue<ConsumerGroupMetadata> OffsetGroups = new();
    private long _txnProducerId = 5000;
    private short _txnEpoch = -1;

    public void PushTxnError(string api, params short[] codes)
    {
        var q = TxnErrors.GetOrAdd(api, _ => new());
        foreach (var c in codes) q.Enqueue(c);
    }

    private short NextError(string api) => TxnErrors.TryGetValue(api, out var q) && q.TryDequeue(out var c) ? c : (short)0;

    public ValueTask<(short ErrorCode, ProducerIdentity Identity)> InitTransactionalIdAsync(string transactionalId, int transactionTimeoutMs,
        ProducerIdentity? current, CancellationToken cancellationToken)
    {
        Events.Enqueue(current is null ? "Init" : $"Init bump {current.Value.Epoch}");
        var e = NextError("Init");
        if (e != 0) return ValueTask.FromResult((e, ProducerIdentity.None));
        _txnEpoch++;
        return ValueTask.FromResult(((short)0, new ProducerIdentity(_txnProducerId, _txnEpoch)));
    }

    public ValueTask<IReadOnlyList<(TopicPartition Partition, short ErrorCode)>> AddPartitionsToTxnAsync(string transactionalId, ProducerIdentity identity,
        IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken)
    {
        Events.Enqueue("AddPartitions " + string.Join(",", partitions.Order()));
        var e = NextError("AddPartitions");
        return ValueTask.FromResult<IReadOnlyList<(TopicPartition, short)>>([.. partitions.Select(p => (p, e))]);
    }

    public ValueTask<short> AddOffsetsToTxnAsync(string transactionalId, ProducerIdentity identity, string groupId, CancellationToken cancellationToken)
    {
        Events.Enqueue("AddOffsets " + groupId);
        return ValueTask.FromResult(NextError("AddOffsets"));
    }

    public ValueTask<IReadOnlyList<(TopicPartition Partition, short ErrorCode)>> TxnOffsetCommitAsync(string transactionalId, ProducerIdentity identity,
        ConsumerGroupMetadata group, IReadOnlyList<KeyValuePair<TopicPartition, long>> offsets, CancellationToken cancellationToken)
    {
        Events.Enqueue($"TxnOffsetCommit {group.GroupId} " + string.Join(",", offsets.Select(o => $"{o.Key}={o.Value}")));
        OffsetGroups.Enqueue(group);
        var e = NextError("TxnOffsetCommit");
        return ValueTask.FromResult<IReadOnlyList<(TopicPartition, short)>>([.. offsets.Select(o => (o.Key, e))]);
    }

    public ValueTask<short> EndTxnAsync(string transactionalId, ProducerIdentity identity, bool commit, CancellationToken cancellationToken)
    {
        Events.Enqueue(commit ? "EndTxn commit" : "EndTxn abort");
        return ValueTask.FromResult(NextError("EndTxn"));
    }

    public void ForgetCoordinator(bool group, string key, string reason) => Forgotten.Enqueue($"{(group ? "group" : "txn")} {key}");
}
