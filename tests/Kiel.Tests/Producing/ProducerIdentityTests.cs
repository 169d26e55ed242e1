using System.Text;
using Kiel.Producing;
using Kiel.Producing.Internal;

namespace Kiel.Tests.Producing;

/// <summary>Issue 19: a refused epoch bump, and identity trouble that must not hold up other partitions.</summary>
public class ProducerIdentityTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static FakeTransport Cluster(params int[] leaders)
    {
        var t = new FakeTransport();
        t.Topics["t"] = leaders;
        return t;
    }

    private static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (System.Diagnostics.Stopwatch.GetElapsedTime(started) > timeout) return condition();
            await Task.Delay(10);
        }
        return true;
    }

    [Theory]
    [InlineData((short)49)] // INVALID_PRODUCER_ID_MAPPING
    [InlineData((short)59)] // UNKNOWN_PRODUCER_ID
    public async Task A_refused_epoch_bump_takes_a_fresh_producer_id_and_goes_on(short refusal)
    {
        var fake = Cluster(1);
        await using var producer = FakeTransport.Producer(fake);
        await producer.ProduceAsync("t", null, "a").AsTask().WaitAsync(Deadline);
        fake.InitErrors.Enqueue((refusal, false));
        fake.ProduceErrors.Enqueue(45); // OUT_OF_ORDER_SEQUENCE_NUMBER: the sequence state is in doubt, bump
        var b = await producer.ProduceAsync("t", null, "b").AsTask().WaitAsync(Deadline);
        var c = await producer.ProduceAsync("t", null, "c").AsTask().WaitAsync(Deadline);

        Assert.Equal([1L, 2L], new[] { b.Offset, c.Offset });
        // First id, the bump of it (refused), then a fresh id without the old one.
        Assert.Equal(new ProducerIdentity?[] { null, new ProducerIdentity(1000, 0), null }, fake.InitRequests.ToArray());
        var seqs = fake.Sequences.ToArray();
        Assert.Equal((1000L, (short)0, 0), (seqs[0].ProducerId, seqs[0].Epoch, seqs[0].BaseSequence));
        // The refused batch was sent again under the fresh id from sequence 0, and the next one follows it.
        Assert.Equal((1001L, (short)0, 0), (seqs[^2].ProducerId, seqs[^2].Epoch, seqs[^2].BaseSequence));
        Assert.Equal((1001L, (short)0, 1), (seqs[^1].ProducerId, seqs[^1].Epoch, seqs[^1].BaseSequence));
        Assert.Equal(["a", "b", "c"], fake.Log("t", 0).Select(r => Encoding.UTF8.GetString(r.Value!)));
    }

    [Fact]
    public async Task A_partition_waiting_for_a_new_identity_holds_up_no_other_partition_and_keeps_its_order()
    {
        var fake = Cluster(1, 2);
        await using var producer = FakeTransport.Producer(fake, FakeTransport.Options() with { DeliveryTimeout = TimeSpan.FromSeconds(30) });
        await producer.ProduceAsync("t", null, "warm", partition: 0).AsTask().WaitAsync(Deadline);
        await producer.ProduceAsync("t", null, "warm", partition: 1).AsTask().WaitAsync(Deadline);
        // InitProducerId fails (retriably) until the queue is cleared.
        for (var i = 0; i < 100_000; i++) fake.InitErrors.Enqueue((15, true)); // COORDINATOR_NOT_AVAILABLE
        fake.ProduceErrors.Enqueue(45);
        var waiting = Enumerable.Range(0, 20).Select(i => producer.ProduceAsync("t", null, $"p0-{i}", partition: 0).AsTask()).ToArray();
        Assert.True(await WaitForAsync(() => fake.InitCalls >= 3, Deadline), $"{fake.InitCalls} InitProducerId calls");

        // Partition 1 goes on under the current identity while partition 0 waits for a new one.
        var healthy = Enumerable.Range(0, 50).Select(i => producer.ProduceAsync("t", null, $"p1-{i}", partition: 1).AsTask()).ToArray();
        await Task.WhenAll(healthy).WaitAsync(Deadline);
        Assert.DoesNotContain(waiting, t => t.IsCompleted);

        fake.InitErrors.Clear();
        var reports = await Task.WhenAll(waiting).WaitAsync(Deadline);
        Assert.All(reports, r => Assert.True(r.IsDelivered));
        Assert.Equal(new[] { "warm" }.Concat(Enumerable.Range(0, 20).Select(i => $"p0-{i}")), fake.Log("t", 0).Select(r => Encoding.UTF8.GetString(r.Value!)));
        Assert.Equal(new[] { "warm" }.Concat(Enumerable.Range(0, 50).Select(i => $"p1-{i}")), fake.Log("t", 1).Select(r => Encoding.UTF8.GetString(r.Value!)));
        // Partition 0 starts over at sequence 0 under the new epoch.
        var p0 = fake.Sequences.Where(s => s.Partition == 0).ToArray();
        Assert.Equal(((short)0, 0), (p0[0].Epoch, p0[0].BaseSequence));
        Assert.Equal(((short)1, 0), (p0[1].Epoch, p0[1].BaseSequence));
        Assert.All(p0[1..], s => Assert.Equal(1, s.Epoch));
    }

    [Fact]
    public async Task A_record_that_waited_for_a_new_identity_in_vain_fails_with_that_reason()
    {
        var fake = Cluster(1);
        var options = FakeTransport.Options() with { DeliveryTimeout = TimeSpan.FromMilliseconds(800), RequestTimeout = TimeSpan.FromMilliseconds(300) };
        await using var producer = FakeTransport.Producer(fake, options);
        await producer.ProduceAsync("t", null, "warm").AsTask().WaitAsync(Deadline);
        for (var i = 0; i < 100_000; i++) fake.InitErrors.Enqueue((15, true));
        fake.ProduceErrors.Enqueue(45);
        var ex = await Assert.ThrowsAsync<DeliveryTimeoutException>(() => producer.ProduceAsync("t", null, "doubt").AsTask().WaitAsync(Deadline));
        Assert.Contains("DeliveryTimeout", ex.Message);
        Assert.Contains("waited for a new producer id", ex.Message);
        Assert.Contains("injected", ex.Message);
        fake.InitErrors.Clear();
    }

    [Fact]
    public async Task An_answer_for_an_identity_already_replaced_resends_under_the_new_one_without_another_bump()
    {
        var fake = Cluster(1, 2);
        await using var producer = FakeTransport.Producer(fake);
        await producer.ProduceAsync("t", null, "warm", partition: 0).AsTask().WaitAsync(Deadline);
        await producer.ProduceAsync("t", null, "warm", partition: 1).AsTask().WaitAsync(Deadline);
        var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.Stalled[2] = stall;
        var stalledRecord = producer.ProduceAsync("t", null, "x", partition: 1).AsTask();
        Assert.True(await WaitForAsync(() => fake.Calls.Count(c => c.Broker == 2) >= 2, Deadline));
        fake.ProduceErrors.Enqueue(45);
        await producer.ProduceAsync("t", null, "y", partition: 0).AsTask().WaitAsync(Deadline);
        Assert.Equal(2, fake.InitCalls);

        // The stalled batch was stamped with epoch 0; epoch 1 has fenced it.
        fake.ProduceErrors.Enqueue(47); // INVALID_PRODUCER_EPOCH
        stall.SetResult();
        var r = await stalledRecord.WaitAsync(Deadline);
        Assert.Equal(1, r.Offset);
        Assert.Equal(2, fake.InitCalls);
        var last = fake.Sequences.Last(s => s.Partition == 1);
        Assert.Equal(((short)1, 0), (last.Epoch, last.BaseSequence));
    }
}
