using Kiel.Producing;
using Kiel.Producing.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Kiel.Tests.Producing;

/// <summary>
/// Issue 19: every record is reported by its delivery deadline (DeliveryTimeout after it was queued), also when its
/// batch is in flight to a broker that never answers: the request is abandoned at the earliest deadline of its batches
/// (its own timeout is capped by what remains of the delivery time), the expired batches fail with a timeout that says
/// the records may have been written, their partitions go on under a new epoch (the sequence is in doubt), and the
/// other batches of the request are retried, not failed. The request timeouts here end after the delivery deadline, so
/// without the cap the records would be reported late (or not at all while the request hangs).
/// </summary>
public sealed class ProducerDeliveryDeadlineTests
{
    private static readonly TimeSpan Delivery = TimeSpan.FromSeconds(40);
    // The request's own bound (RequestTimeout + 5 s) ends at 41 s, after the delivery deadline.
    private static readonly TimeSpan Request = TimeSpan.FromSeconds(36);

    private static KielProducerOptions Options(FakeTimeProvider time) => FakeTransport.Options() with
    {
        TimeProvider = time, Linger = TimeSpan.Zero, RequestTimeout = Request, DeliveryTimeout = Delivery, CloseTimeout = TimeSpan.Zero,
    };

    /// <summary>Moves the fake clock in small steps (retry backoffs) until <paramref name="task"/> completes; bounded.</summary>
    private static async Task DriveUntilAsync(Task task, FakeTimeProvider time)
    {
        for (var i = 0; i < 500 && !task.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(20));
            await Task.WhenAny(task, Task.Delay(10));
        }
        await task.WaitAsync(Eventually.Deadline);
    }

    [Fact]
    public async Task A_batch_in_flight_to_a_broker_that_never_answers_is_reported_at_its_delivery_deadline()
    {
        var time = new FakeTimeProvider();
        var fake = new FakeTransport();
        fake.Topics["t"] = [1];
        fake.Hang = true; // never answers and ignores cancellation
        var producer = FakeTransport.Producer(fake, Options(time));
        try
        {
            var delivery = producer.ProduceAsync("t", null, "v", partition: 0).AsTask();
            await Eventually.Until(() => !fake.Calls.IsEmpty, "the request is in flight");

            time.Advance(Delivery - TimeSpan.FromMilliseconds(1));
            await Eventually.Holds(() => !delivery.IsCompleted, "nothing is reported before the deadline", TimeSpan.FromMilliseconds(300));

            time.Advance(TimeSpan.FromMilliseconds(1));
            var ex = await Assert.ThrowsAsync<DeliveryTimeoutException>(() => delivery.WaitAsync(Eventually.Deadline));
            Assert.Contains("within DeliveryTimeout", ex.Message);
            Assert.Contains("after 1 attempt(s)", ex.Message);
            Assert.Contains("may or may not have been written", ex.Message);
            Assert.Single(fake.Calls);
        }
        finally
        {
            await FakeClockDisposal.DisposeDrivenAsync(producer, time);
        }
    }

    [Fact]
    public async Task An_expired_in_flight_batch_moves_its_partition_to_a_new_epoch_and_other_brokers_go_on()
    {
        var time = new FakeTimeProvider();
        var fake = new FakeTransport();
        fake.Topics["t"] = [1, 2];
        var producer = FakeTransport.Producer(fake, Options(time));
        try
        {
            Assert.True((await producer.ProduceAsync("t", null, "warm-0", partition: 0).AsTask().WaitAsync(Eventually.Deadline)).IsDelivered);
            Assert.True((await producer.ProduceAsync("t", null, "warm-1", partition: 1).AsTask().WaitAsync(Eventually.Deadline)).IsDelivered);
            var first = fake.Sequences.Last();
            Assert.Equal((short)0, first.Epoch);

            // Broker 2 takes the request and never answers (it honours cancellation, as a connection does).
            var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            fake.Stalled[2] = stall;
            var lost = producer.ProduceAsync("t", null, "lost", partition: 1).AsTask();
            await Eventually.Until(() => fake.Calls.Count(c => c.Broker == 2) == 2, "the request to broker 2 is in flight");

            time.Advance(TimeSpan.FromSeconds(20));
            // Broker 1's partition is not held up by the stalled one.
            Assert.True((await producer.ProduceAsync("t", null, "healthy", partition: 0).AsTask().WaitAsync(Eventually.Deadline)).IsDelivered);

            time.Advance(Delivery - TimeSpan.FromSeconds(20));
            var ex = await Assert.ThrowsAsync<DeliveryTimeoutException>(() => lost.WaitAsync(Eventually.Deadline));
            Assert.Contains("may or may not have been written", ex.Message);

            // The abandoned batch may have been written under epoch 0: its partition goes on under a bumped epoch, from
            // sequence 0 (KIP-360, as the Java client does for an expired in-flight batch), and the next record is delivered.
            fake.Stalled.TryRemove(2, out _);
            var next = producer.ProduceAsync("t", null, "next", partition: 1).AsTask();
            await DriveUntilAsync(next, time);
            Assert.True((await next).IsDelivered);
            Assert.Contains(fake.InitRequests, r => r == new ProducerIdentity(first.ProducerId, 0));
            var last = fake.Sequences.Last(s => s.Partition == 1);
            Assert.Equal((first.ProducerId, (short)1, 0), (last.ProducerId, last.Epoch, last.BaseSequence));
            Assert.Equal(["warm-1", "next"], fake.Log("t", 1).Select(r => System.Text.Encoding.UTF8.GetString(r.Value!)));
        }
        finally
        {
            await FakeClockDisposal.DisposeDrivenAsync(producer, time);
        }
    }

    [Fact]
    public async Task A_request_is_abandoned_at_its_earliest_deadline_and_its_younger_batches_are_retried_not_failed()
    {
        var time = new FakeTimeProvider();
        var fake = new FakeTransport();
        fake.Topics["t"] = [1, 1, 1];
        var producer = FakeTransport.Producer(fake, Options(time) with { MaxInFlight = 1 });
        try
        {
            Assert.True((await producer.ProduceAsync("t", null, "warm", partition: 0).AsTask().WaitAsync(Eventually.Deadline)).IsDelivered);
            var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            fake.Stalled[1] = stall;

            // t=0: "a" (partition 0) goes out alone and stalls. t=10 s: "b" (partition 1) and t=30 s: "c" (partition 2)
            // wait for the broker's one slot, and go out together once the first request is abandoned at 40 s.
            var a = producer.ProduceAsync("t", null, "a", partition: 0).AsTask();
            await Eventually.Until(() => fake.Calls.Count == 2, "the first request is in flight");
            time.Advance(TimeSpan.FromSeconds(10));
            var b = producer.ProduceAsync("t", null, "b", partition: 1).AsTask();
            time.Advance(TimeSpan.FromSeconds(20));
            var c = producer.ProduceAsync("t", null, "c", partition: 2).AsTask();
            time.Advance(TimeSpan.FromSeconds(10));
            await Assert.ThrowsAsync<DeliveryTimeoutException>(() => a.WaitAsync(Eventually.Deadline));
            await Eventually.Until(() => fake.Calls.Any(call => call.Batches == 2), "b and c go out in one request");

            // t=50 s: b's deadline. The request is abandoned then, not at c's (70 s) nor at its own timeout (81 s).
            Assert.False(b.IsCompleted);
            time.Advance(TimeSpan.FromSeconds(10));
            var ex = await Assert.ThrowsAsync<DeliveryTimeoutException>(() => b.WaitAsync(Eventually.Deadline));
            Assert.Contains("may or may not have been written", ex.Message);
            Assert.False(c.IsCompleted);

            // c is retried and delivered once the broker answers again; the log keeps produce order.
            fake.Stalled.TryRemove(1, out _);
            await DriveUntilAsync(c, time);
            Assert.True((await c).IsDelivered);
            Assert.Equal(["warm"], fake.Log("t", 0).Select(r => System.Text.Encoding.UTF8.GetString(r.Value!)));
            Assert.Empty(fake.Log("t", 1));
            Assert.Equal(["c"], fake.Log("t", 2).Select(r => System.Text.Encoding.UTF8.GetString(r.Value!)));
        }
        finally
        {
            await FakeClockDisposal.DisposeDrivenAsync(producer, time);
        }
    }

    [Fact]
    public async Task A_delivery_timeout_longer_than_a_timer_can_wait_still_delivers()
    {
        // The cap's timer is clamped: 100 days is beyond what a timer takes (about 49 days).
        var fake = new FakeTransport();
        fake.Topics["t"] = [1];
        await using var producer = FakeTransport.Producer(fake, FakeTransport.Options() with { DeliveryTimeout = TimeSpan.FromDays(100) });
        var report = await producer.ProduceAsync("t", null, "v").AsTask().WaitAsync(Eventually.Deadline);
        Assert.True(report.IsDelivered);
    }
}
