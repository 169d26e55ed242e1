using Kiel.Producing;
using Microsoft.Extensions.Time.Testing;

namespace Kiel.Tests.Producing;

/// <summary>The producer's timers run on the options' <see cref="TimeProvider"/>: linger, delivery and close timeouts.</summary>
public sealed class ProducerTimeTests
{
    /// <summary>A cluster of one broker (1) leading every partition of topic "t".</summary>
    private static FakeTransport Cluster(int partitions = 1)
    {
        var t = new FakeTransport();
        t.Topics["t"] = [.. Enumerable.Repeat(1, partitions)];
        return t;
    }

    [Fact]
    public async Task Linger_releases_a_batch_only_when_fake_time_reaches_it()
    {
        var time = new FakeTimeProvider();
        var fake = Cluster();
        var linger = TimeSpan.FromMinutes(10); // on the system clock this would never be reached within the test
        var producer = FakeTransport.Producer(fake, FakeTransport.Options() with
        {
            TimeProvider = time, Linger = linger, DeliveryTimeout = TimeSpan.FromHours(1), CloseTimeout = TimeSpan.Zero,
        });
        try
        {
            // Warm up: learn the topic's layout (a flush sends at once, linger or not), so the next record opens its batch
            // synchronously, at the current fake time.
            var warm = producer.ProduceAsync("t", null, "warm-up", partition: 0).AsTask();
            await producer.FlushAsync().WaitAsync(Eventually.Deadline);
            Assert.True((await warm).IsDelivered);
            Assert.Single(fake.Calls);

            var delivery = producer.ProduceAsync("t", null, "v", partition: 0).AsTask();
            time.Advance(linger - TimeSpan.FromMilliseconds(1));
            await Eventually.Holds(() => fake.Calls.Count == 1 && !delivery.IsCompleted, "nothing is sent before the linger ends", TimeSpan.FromMilliseconds(300));

            time.Advance(TimeSpan.FromMilliseconds(1));
            var report = await delivery.WaitAsync(Eventually.Deadline);
            Assert.True(report.IsDelivered);
            Assert.Equal(2, fake.Calls.Count);
        }
        finally
        {
            await FakeClockDisposal.DisposeDrivenAsync(producer, time);
        }
    }

    [Fact]
    public async Task An_idle_sender_makes_no_pass_however_far_fake_time_moves_and_wakes_for_the_next_record()
    {
        var time = new FakeTimeProvider();
        var fake = Cluster();
        var producer = FakeTransport.Producer(fake, FakeTransport.Options() with
        {
            TimeProvider = time, Linger = TimeSpan.FromMilliseconds(5), CloseTimeout = TimeSpan.Zero,
        });
        try
        {
            var first = producer.ProduceAsync("t", null, "a", partition: 0).AsTask();
            await producer.FlushAsync().WaitAsync(Eventually.Deadline);
            Assert.True((await first).IsDelivered);

            // Settled: the passes that handled the answer are over once the count stops moving.
            var engine = producer.Engine;
            var passes = await SettledAsync(engine);

            // An hour of fake time in 100 ms steps: the old 100 ms scan would have made 36,000 passes.
            for (var i = 0; i < 36_000; i++)
            {
                time.Advance(TimeSpan.FromMilliseconds(100));
                if (i % 1000 == 0) await Task.Delay(1);
            }
            await Eventually.Holds(() => engine.SenderPasses == passes, "the idle sender made no pass", TimeSpan.FromMilliseconds(200));

            // A record wakes it: sent once its linger has passed on the fake clock.
            var second = producer.ProduceAsync("t", null, "b", partition: 0).AsTask();
            await Eventually.Until(() => engine.SenderPasses > passes, "the record woke the sender");
            for (var i = 0; i < 100 && !second.IsCompleted; i++)
            {
                time.Advance(TimeSpan.FromMilliseconds(1));
                await Task.WhenAny(second, Task.Delay(10));
            }
            Assert.True((await second.WaitAsync(Eventually.Deadline)).IsDelivered);
            Assert.Equal(["a", "b"], fake.Log("t", 0).Select(r => System.Text.Encoding.UTF8.GetString(r.Value!)));
        }
        finally
        {
            await FakeClockDisposal.DisposeDrivenAsync(producer, time);
        }
    }

    /// <summary>Waits (bounded) until the sender's pass count has not moved for 100 ms, and returns it.</summary>
    private static async Task<long> SettledAsync(Kiel.Producing.Internal.ProducerEngine engine)
    {
        var passes = engine.SenderPasses;
        for (int quiet = 0, i = 0; quiet < 5; i++)
        {
            Assert.True(i < 250, "the sender did not settle within 5 s");
            await Task.Delay(20);
            var now = engine.SenderPasses;
            quiet = now == passes ? quiet + 1 : 0;
            passes = now;
        }
        return passes;
    }

    [Fact]
    public async Task A_linger_ends_to_the_tick_after_its_batch_opened_not_on_a_whole_millisecond()
    {
        var time = new FakeTimeProvider();
        var fake = Cluster(partitions: 2);
        var producer = FakeTransport.Producer(fake, FakeTransport.Options() with
        {
            TimeProvider = time, Linger = TimeSpan.FromMilliseconds(5), CloseTimeout = TimeSpan.Zero,
        });
        try
        {
            var warm = producer.ProduceAsync("t", null, "warm-up", partition: 0).AsTask();
            await producer.FlushAsync().WaitAsync(Eventually.Deadline);
            Assert.True((await warm).IsDelivered);
            var engine = producer.Engine;
            await SettledAsync(engine);
            // Start on a whole millisecond of the fake clock.
            var perMs = time.TimestampFrequency / 1000;
            if (time.GetTimestamp() % perMs is var past and > 0) time.Advance(TimeSpan.FromTicks((perMs - past) * TimeSpan.TicksPerSecond / time.TimestampFrequency));

            // Partition 1's batch opens at 0 ms, partition 0's at 0.9 ms: their lingers end at 5 and 5.9 ms.
            var first = producer.ProduceAsync("t", null, "one", partition: 1).AsTask();
            await SettledAsync(engine);
            time.Advance(TimeSpan.FromMicroseconds(900));
            var second = producer.ProduceAsync("t", null, "two", partition: 0).AsTask();
            await SettledAsync(engine);

            // At 5 ms only the first is sent; a linger counted from the whole millisecond its batch opened in (0 ms)
            // would send the second with it, 0.9 ms early.
            time.Advance(TimeSpan.FromMicroseconds(4100));
            Assert.True((await first.WaitAsync(Eventually.Deadline)).IsDelivered);
            await Eventually.Holds(() => !second.IsCompleted, "the second batch waits for the end of its own linger", TimeSpan.FromMilliseconds(300));
            Assert.Equal(2, fake.Calls.Count);

            time.Advance(TimeSpan.FromMicroseconds(900));
            Assert.True((await second.WaitAsync(Eventually.Deadline)).IsDelivered);
            Assert.Equal(3, fake.Calls.Count);
        }
        finally
        {
            await FakeClockDisposal.DisposeDrivenAsync(producer, time);
        }
    }

    [Fact]
    public async Task Delivery_timeout_expires_records_at_the_fake_deadline()
    {
        var time = new FakeTimeProvider();
        var fake = Cluster();
        fake.Down = true;
        var deliveryTimeout = TimeSpan.FromMinutes(60);
        var producer = FakeTransport.Producer(fake, FakeTransport.Options() with
        {
            TimeProvider = time, Linger = TimeSpan.Zero, RetryBackoff = TimeSpan.FromSeconds(1), DeliveryTimeout = deliveryTimeout,
            CloseTimeout = TimeSpan.Zero,
        });
        try
        {
            var delivery = producer.ProduceAsync("t", null, "v", partition: 0).AsTask();
            await Eventually.Until(() => !fake.Calls.IsEmpty, "the first attempt reaches the (down) broker");

            // Retries follow the fake clock (each fake minute passes the 1 s backoff); until the deadline the record stays
            // pending. The sender may arm its backoff delay just after the clock moved, so a retry that does not come is
            // nudged with one more backoff of fake time (bounded: the total stays far below the delivery timeout).
            var advanced = TimeSpan.Zero;
            for (var i = 0; i < 29; i++)
            {
                var before = fake.Calls.Count;
                time.Advance(TimeSpan.FromMinutes(1));
                advanced += TimeSpan.FromMinutes(1);
                for (var nudge = 0; !await RetriedAsync(fake, before, delivery); nudge++)
                {
                    Assert.True(nudge < 50, $"no retry after {i + 1} fake minutes and {nudge} nudges");
                    time.Advance(TimeSpan.FromSeconds(1));
                    advanced += TimeSpan.FromSeconds(1);
                }
                Assert.False(delivery.IsCompleted, $"the record was reported after {advanced} of fake time: {(delivery.IsFaulted ? delivery.Exception!.InnerException!.Message : "delivered")}");
            }
            Assert.True(advanced < deliveryTimeout - TimeSpan.FromMinutes(1));
            time.Advance(deliveryTimeout - advanced);
            var ex = await Assert.ThrowsAsync<DeliveryTimeoutException>(() => delivery.WaitAsync(Eventually.Deadline));
            Assert.Contains("DeliveryTimeout", ex.Message);
        }
        finally
        {
            await FakeClockDisposal.DisposeDrivenAsync(producer, time);
        }
    }

    /// <summary>True once another attempt reached the broker (or the record was reported); false after a short real wait.</summary>
    private static async Task<bool> RetriedAsync(FakeTransport fake, int before, Task delivery)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (System.Diagnostics.Stopwatch.GetElapsedTime(started) < TimeSpan.FromMilliseconds(500))
        {
            if (fake.Calls.Count > before || delivery.IsCompleted) return true;
            await Task.Delay(5);
        }
        return fake.Calls.Count > before || delivery.IsCompleted;
    }

    [Fact]
    public async Task Close_timeout_is_the_fake_one()
    {
        var time = new FakeTimeProvider();
        var fake = Cluster();
        fake.Hang = true;
        var options = FakeTransport.Options() with
        {
            TimeProvider = time, Linger = TimeSpan.Zero, CloseTimeout = TimeSpan.FromMinutes(5), RequestTimeout = TimeSpan.FromMinutes(10),
            DeliveryTimeout = TimeSpan.FromHours(1),
        };
        var producer = FakeTransport.Producer(fake, options);
        var task = producer.ProduceAsync("t", null, "v").AsTask();
        await Eventually.Until(() => !fake.Calls.IsEmpty, "the request is in flight");

        var disposing = producer.DisposeAsync().AsTask();
        time.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromMilliseconds(1));
        await Eventually.Holds(() => !task.IsCompleted && !disposing.IsCompleted, "dispose waits out the close timeout", TimeSpan.FromMilliseconds(200));

        // The close timeout ends; the hung request is abandoned after its own bound (request timeout + 5 s).
        time.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.Holds(() => !disposing.IsCompleted, "a request in flight is waited for up to its bound", TimeSpan.FromMilliseconds(100));
        time.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(5));
        await disposing.WaitAsync(Eventually.Deadline);
        var ex = await Assert.ThrowsAsync<ProduceException>(() => task.WaitAsync(Eventually.Deadline));
        Assert.Contains("disposed", ex.Message);
    }
}
