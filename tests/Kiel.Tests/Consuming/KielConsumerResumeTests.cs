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
        await using var consumer = await AssignedConsumerAsync(10);
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
        await using var consumer = await AssignedConsumerAsync(6);
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

    [Fact]
    public async Task The_enumerator_token_cancels_the_stream_as_the_method_token_does()
    {
        await using var consumer = await AssignedConsumerAsync(6);
        using var deadline = new CancellationTokenSource(Eventually.Deadline);

        // The token given to GetAsyncEnumerator (WithCancellation) beside the method's: either one stops the stream.
        foreach (var enumeratorSide in new[] { true, false })
        {
            using var stop = new CancellationTokenSource();
            var stream = enumeratorSide
                ? consumer.ConsumeAsync(deadline.Token).WithCancellation(stop.Token)
                : consumer.ConsumeAsync(stop.Token).WithCancellation(deadline.Token);
            var handedOut = new List<long>();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var record in stream)
                {
                    handedOut.Add(record.Offset);
                    stop.Cancel();
                }
            });
            Assert.Single(handedOut);
            Assert.False(deadline.IsCancellationRequested);
        }

        var rest = new List<long>();
        await foreach (var record in consumer.ConsumeAsync(deadline.Token))
        {
            rest.Add(record.Offset);
            if (rest.Count == 4) break;
        }
        Assert.Equal([2L, 3, 4, 5], rest);
    }

    [Fact]
    public async Task A_stream_that_failed_is_over_and_the_next_one_starts_at_the_failing_record()
    {
        var failing = new FailingAt("v2");
        await using var consumer = await AssignedConsumerAsync(5, failing);
        using var deadline = new CancellationTokenSource(Eventually.Deadline);

        var enumerator = consumer.ConsumeAsync(deadline.Token).GetAsyncEnumerator();
        try
        {
            Assert.True(await enumerator.MoveNextAsync());
            Assert.Equal(0, enumerator.Current.Offset);
            Assert.True(await enumerator.MoveNextAsync());
            Assert.Equal(1, enumerator.Current.Offset);
            var error = await Assert.ThrowsAsync<DeserializationException>(async () => await enumerator.MoveNextAsync());
            Assert.Equal(2, error.Offset);
            Assert.False(await enumerator.MoveNextAsync()); // a stream that threw hands out nothing more
        }
        finally
        {
            await enumerator.DisposeAsync();
        }

        failing.Value = null;
        var rest = new List<long>();
        await foreach (var record in consumer.ConsumeAsync(deadline.Token))
        {
            rest.Add(record.Offset);
            if (rest.Count == 3) break;
        }
        Assert.Equal([2L, 3, 4], rest);
    }

    [Fact]
    public async Task A_second_call_while_the_stream_waits_for_records_is_refused_with_a_reason()
    {
        await using var consumer = await AssignedConsumerAsync(0);
        using var deadline = new CancellationTokenSource(Eventually.Deadline);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);

        var enumerator = consumer.ConsumeAsync(stop.Token).GetAsyncEnumerator();
        var waiting = enumerator.MoveNextAsync(); // the partition is empty: this waits
        Assert.False(waiting.IsCompleted);
        var again = Assert.Throws<InvalidOperationException>(() => { _ = enumerator.MoveNextAsync(); });
        Assert.Contains("await each call", again.Message);
        var disposing = Assert.Throws<InvalidOperationException>(() => { _ = enumerator.DisposeAsync(); });
        Assert.Contains("await it first", disposing.Message);

        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await waiting);
        await enumerator.DisposeAsync();
    }

    /// <summary>A consumer of partition t-0, assigned from the beginning, over <paramref name="records"/> records in one batch (one chunk).</summary>
    private static async Task<KielConsumer<string?, string?>> AssignedConsumerAsync(int records, IDeserializer<string?>? values = null)
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1);
        if (records > 0) backend.Append(P0, TestBatches.V2(0, records));
        var consumer = new KielConsumer<string?, string?>(EngineHarness.Options(), backend, Deserializers.Utf8, values ?? Deserializers.Utf8);
        await consumer.AssignAsync(P0, StartPosition.Beginning);
        return consumer;
    }

    private sealed class FailingAt(string value) : IDeserializer<string?>
    {
        public string? Value { get; set; } = value;

        public string? Deserialize(ReadOnlySpan<byte> data, bool isNull, in SerializationContext context)
        {
            var text = System.Text.Encoding.UTF8.GetString(data);
            return text == Value ? throw new FormatException("not this one") : text;
        }
    }
}
