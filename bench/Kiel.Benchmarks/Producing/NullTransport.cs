using Kiel.Producing.Internal;

namespace Kiel.Benchmarks.Producing;

/// <summary>A transport that acknowledges every batch at once: isolates the producer engine's own costs from the network layer's.</summary>
internal sealed class NullTransport : IProducerTransport
{
    public ValueTask<TopicLayout> GetTopicAsync(string topic, bool refresh, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new TopicLayout(topic, [1, 2, 3, 1, 2, 3]));

    public ValueTask<byte> GetRecordMagicAsync(int brokerId, CancellationToken cancellationToken) => ValueTask.FromResult((byte)2);

    public async ValueTask<ProduceResult> ProduceAsync(int brokerId, ProduceCall call, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var results = new List<ProducePartitionResult>(call.Partitions.Count);
        foreach (var p in call.Partitions) results.Add(new ProducePartitionResult(p.Topic, p.Partition, 0, 0, -1, null));
        return new ProduceResult(results);
    }

    public ValueTask<ProducerIdentity?> InitProducerIdAsync(ProducerIdentity? current, CancellationToken cancellationToken) =>
        ValueTask.FromResult<ProducerIdentity?>(new ProducerIdentity(1, 0));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
