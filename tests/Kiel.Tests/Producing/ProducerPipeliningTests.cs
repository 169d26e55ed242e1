using Kiel.Producing;

namespace Kiel.Tests.Producing;

/// <summary>
/// An idempotent producer keeps up to five batches of a partition in flight; the broker (the fake checks sequences as
/// a broker does) must get them in sequence order, and a retry must keep every record in its place, exactly once.
/// </summary>
public sealed class ProducerPipeliningTests
{
    private static async Task<(FakeTransport Fake, KielProducer<string, string> Producer, TaskCompletionSource Stall)> StalledAsync(
        KielProducerOptions? options = null)
    {
        var fake = new FakeTransport();
        fake.Topics["t"] = [1];
        var producer = FakeTransport.Producer(fake, options);
        // Warm up: the layout and the producer id are known, and sequence 0 is taken by "warm".
        Assert.True((await producer.ProduceAsync("t", null, "warm", partition: 0).AsTask().WaitAsync(Eventually.Deadline)).IsDelivered);
        var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.Stalled[1] = stall;
        return (fake, producer, stall);
    }

    /// <summary>Produces r0..r(n-1) to partition 0, one batch each: every one is in flight before the next is produced.</summary>
    private static async Task<List<Task<DeliveryReport>>> FiveInFlightAsync(FakeTransport fake, KielProducer<string, string> producer)
    {
        var deliveries = new List<Task<DeliveryReport>>();
        for (var i = 0; i < 5; i++)
        {
            deliveries.Add(producer.ProduceAsync("t", null, $"r{i}", partition: 0).AsTask());
            var expected = i + 1;
            await Eventually.Until(() => fake.ConcurrentCalls >= expected, $"r{i}'s batch in flight beside the {i} before it");
        }
        return deliveries;
    }

    private static string[] Values(FakeTransport fake) =>
        [.. fake.Log("t", 0).Select(r => r.Value is null ? "<null>" : System.Text.Encoding.UTF8.GetString(r.Value))];

    [Fact]
    public async Task An_idempotent_producer_has_up_to_five_batches_of_a_partition_in_flight_and_they_arrive_in_sequence_order()
    {
        var (fake, producer, stall) = await StalledAsync();
        await using var _ = producer;
        var deliveries = await FiveInFlightAsync(fake, producer);
        // Five more records: the partition is at its five, so they wait (and fill one batch) until one comes back.
        for (var i = 5; i < 10; i++) deliveries.Add(producer.ProduceAsync("t", null, $"r{i}", partition: 0).AsTask());
        var passes = producer.Engine.SenderPasses;
        await Eventually.Until(() => producer.Engine.SenderPasses > passes + 3, "the sender looked at the records past their linger");
        Assert.Equal(5, fake.MaxConcurrentCalls);
        Assert.Equal(5, fake.ConcurrentCalls);

        stall.SetResult();
        var reports = await Task.WhenAll(deliveries).WaitAsync(Eventually.Deadline);
        Assert.All(reports, r => Assert.True(r.IsDelivered, r.Error?.Message));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), reports.Select(r => r.Offset));
        Assert.Equal(["warm", .. Enumerable.Range(0, 10).Select(i => $"r{i}")], Values(fake));
        Assert.Empty(fake.SequenceRefusals);
        Assert.Equal(1, fake.InitCalls);
        // One sequence, no gap: warm took 0, r0..r4 1..5, the rest follow.
        var batches = fake.Sequences.ToArray();
        Assert.Equal([0, 1, 2, 3, 4, 5], batches.Take(6).Select(b => b.BaseSequence));
        for (var i = 1; i < batches.Length; i++) Assert.Equal(batches[i - 1].BaseSequence + batches[i - 1].Count, batches[i].BaseSequence);
    }

    [Fact]
    public async Task A_retried_batch_goes_again_before_the_batches_sent_behind_it_without_a_new_epoch()
    {
        var (fake, producer, stall) = await StalledAsync();
        await using var _ = producer;
        var deliveries = await FiveInFlightAsync(fake, producer);
        // The first answer is NOT_LEADER_OR_FOLLOWER (retriable); the broker then refuses r1..r4 as out of order.
        fake.ProduceErrors.Enqueue((short)ErrorCode.NotLeaderOrFollower);
        stall.SetResult();

        var reports = await Task.WhenAll(deliveries).WaitAsync(Eventually.Deadline);
        Assert.All(reports, r => Assert.True(r.IsDelivered, r.Error?.Message));
        Assert.Equal([1L, 2, 3, 4, 5], reports.Select(r => r.Offset));
        Assert.Equal(["warm", "r0", "r1", "r2", "r3", "r4"], Values(fake));
        // The gap was the producer's own (r0 not yet written): no new producer epoch, and the sequences were kept.
        Assert.Equal(1, fake.InitCalls);
        Assert.Equal([(0, 2, (short)45), (0, 3, (short)45), (0, 4, (short)45), (0, 5, (short)45)], fake.SequenceRefusals.ToArray());
        Assert.Equal([0, 1, 2, 3, 4, 5], fake.Sequences.Select(s => s.BaseSequence));
    }

    [Fact]
    public async Task A_batch_that_fails_for_good_ahead_of_others_in_flight_starts_a_new_epoch_and_the_others_follow_in_order()
    {
        var (fake, producer, stall) = await StalledAsync();
        await using var _ = producer;
        var deliveries = await FiveInFlightAsync(fake, producer);
        fake.ProduceErrors.Enqueue((short)ErrorCode.InvalidRecord); // not retriable: r0 fails, its sequence is never written
        stall.SetResult();

        var refused = await Assert.ThrowsAsync<ProduceException>(() => deliveries[0].WaitAsync(Eventually.Deadline));
        Assert.Equal((short)ErrorCode.InvalidRecord, refused.ErrorCode);
        var reports = await Task.WhenAll(deliveries.Skip(1)).WaitAsync(Eventually.Deadline);
        Assert.All(reports, r => Assert.True(r.IsDelivered, r.Error?.Message));
        Assert.Equal([1L, 2, 3, 4], reports.Select(r => r.Offset));
        Assert.Equal(["warm", "r1", "r2", "r3", "r4"], Values(fake));
        // r1..r4 were stamped behind r0's sequence: they go again under a new epoch, from sequence 0.
        Assert.Equal(2, fake.InitCalls);
        var written = fake.Sequences.ToArray();
        Assert.Equal(5, written.Length);
        Assert.Equal([0, 1, 2, 3], written.Skip(1).Select(s => s.BaseSequence));
        Assert.All(written.Skip(1), s => Assert.Equal(written[0].Epoch + 1, s.Epoch));
    }

    [Fact]
    public async Task Without_idempotence_a_partition_has_one_batch_in_flight()
    {
        var (fake, producer, stall) = await StalledAsync(FakeTransport.Options() with { EnableIdempotence = false });
        await using var _ = producer;
        var deliveries = new List<Task<DeliveryReport>> { producer.ProduceAsync("t", null, "r0", partition: 0).AsTask() };
        await Eventually.Until(() => fake.ConcurrentCalls == 1, "r0's batch in flight");
        deliveries.Add(producer.ProduceAsync("t", null, "r1", partition: 0).AsTask());
        var passes = producer.Engine.SenderPasses;
        await Eventually.Until(() => producer.Engine.SenderPasses > passes + 3, "the sender looked at r1 past its linger");
        Assert.Equal(1, fake.MaxConcurrentCalls);

        stall.SetResult();
        var reports = await Task.WhenAll(deliveries).WaitAsync(Eventually.Deadline);
        Assert.All(reports, r => Assert.True(r.IsDelivered, r.Error?.Message));
        Assert.Equal(["warm", "r0", "r1"], Values(fake));
    }
}

/// <summary>Delivered batches' objects are reused for new batches: a reused batch carries nothing of its former life.</summary>
public sealed class ProducerBatchReuseTests
{
    [Fact]
    public async Task Reused_batches_carry_no_records_sequences_or_completions_of_their_former_partition()
    {
        var fake = new FakeTransport();
        fake.Topics["a"] = [1, 1];
        fake.Topics["b"] = [1];
        await using var producer = FakeTransport.Producer(fake);
        // Round 1: one batch per awaited record, each delivered and then pooled.
        for (var i = 0; i < 30; i++)
            Assert.Equal(i, (await producer.ProduceAsync("a", $"k{i}", $"a0-{i}", new Headers { { "h", [(byte)i] } }, partition: 0)
                .AsTask().WaitAsync(Eventually.Deadline)).Offset);
        Assert.True(producer.Engine.PooledBatches > 0, "delivered batches are kept for reuse");

        // Round 2: other partitions and topics, awaited and called back, on reused batches.
        var called = new List<(int Partition, long Offset, string Topic)>();
        var awaited = new List<Task<DeliveryReport>>();
        for (var i = 0; i < 30; i++)
        {
            awaited.Add(producer.ProduceAsync("b", null, $"b-{i}", partition: 0).AsTask());
            producer.Produce("a", null, $"a1-{i}", partition: 1, onDelivery: (in DeliveryReport r) =>
            {
                lock (called) called.Add((r.Partition, r.Offset, r.Topic));
            });
            if (i % 5 == 4) await producer.FlushAsync().WaitAsync(Eventually.Deadline);
        }
        await producer.FlushAsync().WaitAsync(Eventually.Deadline);
        var reports = await Task.WhenAll(awaited).WaitAsync(Eventually.Deadline);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), reports.Select(r => r.Offset));
        Assert.All(reports, r => Assert.Equal(("b", 0), (r.Topic, r.Partition)));
        lock (called) Assert.Equal(Enumerable.Range(0, 30).Select(i => (1, (long)i, "a")), called.OrderBy(c => c.Offset));

        string[] Values(string topic, int partition) =>
            [.. fake.Log(topic, partition).Select(r => System.Text.Encoding.UTF8.GetString(r.Value!))];
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"a0-{i}"), Values("a", 0));
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"b-{i}"), Values("b", 0));
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"a1-{i}"), Values("a", 1));
        Assert.All(fake.Log("b", 0), r => Assert.Empty(r.Headers));
        Assert.All(fake.Log("a", 1), r => Assert.Null(r.Key));
        // Every batch's sequence followed its partition's last one (the fake refuses anything else).
        Assert.Empty(fake.SequenceRefusals);
    }
}
