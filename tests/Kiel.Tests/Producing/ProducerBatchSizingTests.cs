using Kiel.Producing.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Kiel.Tests.Producing;

/// <summary>Tests that depend on what the process-wide batch-buffer pool holds: they run alone, after the others.</summary>
[CollectionDefinition(nameof(StaticBatchBufferPoolCollection), DisableParallelization = true)]
public sealed class StaticBatchBufferPoolCollection;

/// <summary>A batch's buffer is sized by what its records need.</summary>
[Collection(nameof(StaticBatchBufferPoolCollection))]
public sealed class ProducerBatchSizingTests
{
    [Fact]
    public async Task A_batch_starts_at_the_size_its_records_need_not_at_a_fixed_16_KiB()
    {
        // A pool holding a quarter of its budget lends arrays up to 64 times larger than asked (BatchBufferPool): start
        // from an empty one, in a collection that runs alone, so that no other test's arrays decide the sizes.
        BatchBufferPool.DropPooledArrays();
        var time = new FakeTimeProvider();
        var fake = new FakeTransport();
        fake.Topics["t"] = Enumerable.Repeat(1, 200).ToArray();
        var producer = FakeTransport.Producer(fake, FakeTransport.Options() with
        {
            TimeProvider = time, Linger = TimeSpan.FromMinutes(10), DeliveryTimeout = TimeSpan.FromHours(1), CloseTimeout = TimeSpan.Zero,
        });
        try
        {
            await producer.Engine.GetPartitionCountAsync("t", CancellationToken.None).AsTask().WaitAsync(Eventually.Deadline);
            var value = new string('v', 100);
            for (var p = 0; p < 200; p++) _ = producer.ProduceAsync("t", null, value, partition: p);
            var topic = producer.Engine.GetTopic("t");
            await Eventually.Until(() => topic.Partitions.Length == 200 && topic.Partitions.All(s => { lock (s) return s.Open is not null; }), "every partition has its open batch");
            foreach (var s in topic.Partitions)
                lock (s) Assert.InRange(s.Open!.Arena.Capacity, 1, 512);
        }
        finally
        {
            await FakeClockDisposal.DisposeDrivenAsync(producer, time);
        }
    }
}
