using Kiel.Consuming;

namespace Kiel.Tests.Consuming;

/// <summary>
/// Leaving the records stream part-way through a fetched chunk (a <c>break</c>, a cancellation) loses nothing: the next
/// <see cref="KielConsumer{TKey,TValue}.ConsumeAsync"/> goes on with the record after the last one handed out.
/// </summary>
public sealed class KielConsumerResumeTests
{
    private static readonly TopicPartition P0 = new("t", 0);

    [Fact]
    public async Task A_break_mid_chunk_resumes_at_the_next_record()
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1);
        backend.Append(P0, TestBatches.V2(0, 10)); // one batch, so one chunk holds all ten records
        await using var consumer = new KielConsumer<string?, string?>(EngineHarness.Options(), backend, Deserializers.Utf8, Deserializers.Utf8);
        await consumer.AssignAsync(P0, StartPosition.Beginning);
        using var deadline = new CancellationTokenSource(Eventually.Deadline);

        var seen = new List<long>();
        for (var round = 0; round < 4 && seen.Count < 10; round++)
        {
            var taken = 0;
            await foreach (var record in consumer.ConsumeAsync(deadline.Token))
            {
                seen.Add(record.Offset);
                if (++taken == 3 || seen.Count == 10) break; // three at a time, then leave the stream
            }
        }

        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), seen);
        Assert.Equal(10, await consumer.PositionAsync(P0));
    }

    [Fact]
    public async Task A_cancellation_after_a_record_resumes_at_the_next_record()
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1);
        backend.Append(P0, TestBatches.V2(0, 6));
        await using var consumer = new KielConsumer<string?, string?>(EngineHarness.Options(), backend, Deserializers.Utf8, Deserializers.Utf8);
        await consumer.AssignAsync(P0, StartPosition.Beginning);
        using var deadline = new CancellationTokenSource(Eventually.Deadline);

        using (var stop = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var record in consumer.ConsumeAsync(stop.Token))
                {
                    Assert.Equal(0, record.Offset);
                    stop.Cancel(); // the application stops after processing offset 0
                }
            });
        }

        var rest = new List<long>();
        await foreach (var record in consumer.ConsumeAsync(deadline.Token))
        {
            rest.Add(record.Offset);
            if (rest.Count == 5) break;
        }
        Assert.Equal([1L, 2, 3, 4, 5], rest);
    }
}
