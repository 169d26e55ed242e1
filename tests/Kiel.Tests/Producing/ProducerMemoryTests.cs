using Kiel.Producing;
using Kiel.Producing.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Kiel.Tests.Producing;

/// <summary>What the producer keeps per partition follows what is in use: batch buffers sized by need, pooled buffers trimmed.</summary>
public sealed class ProducerMemoryTests
{
    [Fact]
    public void Arrays_unused_through_a_whole_interval_are_dropped_by_the_next_trim()
    {
        var pool = new TrimmingArrayPool(1L << 30);
        var arrays = Enumerable.Range(0, 3).Select(_ => pool.Rent(4000)).ToList();
        Assert.All(arrays, a => Assert.Equal(4096, a.Length));
        foreach (var a in arrays) Assert.True(pool.Return(a));
        Assert.Equal(3 * 4096, pool.PooledBytes);

        pool.Trim(); // they were just used: the first trim only starts the interval
        Assert.Equal(3, pool.PooledCount(4096));
        pool.Trim(); // unused through a whole interval: gone
        Assert.Equal(0, pool.PooledCount(4096));
        Assert.Equal(0, pool.PooledBytes);
        Assert.Equal(3, pool.Trimmed);
    }

    [Fact]
    public void A_trim_keeps_what_a_steady_load_cycles_through_and_drops_the_surplus_of_a_past_peak()
    {
        var pool = new TrimmingArrayPool(1L << 30);
        // A peak: five arrays out at once.
        var peak = Enumerable.Range(0, 5).Select(_ => pool.Rent(1 << 16)).ToList();
        foreach (var a in peak) pool.Return(a);
        pool.Trim();

        // Then a steady load of two at a time, for two intervals: the three above it go, the two it uses stay.
        for (var interval = 0; interval < 2; interval++)
        {
            for (var round = 0; round < 10; round++)
            {
                var a = pool.Rent(1 << 16);
                var b = pool.Rent(1 << 16);
                pool.Return(a);
                pool.Return(b);
            }
            pool.Trim();
        }
        Assert.Equal(2, pool.PooledCount(1 << 16));
        Assert.Equal(0, pool.Stats.Misses - 5); // the steady load never allocated

        pool.Trim();
        Assert.Equal(0, pool.PooledBytes); // then idle: nothing kept
    }

    [Fact]
    public void Arrays_over_the_budget_are_not_kept()
    {
        var pool = new TrimmingArrayPool(8192);
        var arrays = Enumerable.Range(0, 3).Select(_ => pool.Rent(4096)).ToList();
        Assert.True(pool.Return(arrays[0]));
        Assert.True(pool.Return(arrays[1]));
        Assert.False(pool.Return(arrays[2]));
        Assert.Equal(8192, pool.PooledBytes);
        Assert.Equal(1, pool.Stats.Dropped);
    }

    [Fact]
    public void A_full_pool_makes_room_for_a_returned_array_by_dropping_idle_arrays_of_another_size()
    {
        // The budget is full of 4 KiB arrays that then sit idle through a trim interval (an earlier load's).
        var pool = new TrimmingArrayPool(8 * 4096);
        var earlier = Enumerable.Range(0, 8).Select(_ => pool.Rent(4096)).ToList();
        foreach (var a in earlier) Assert.True(pool.Return(a));
        pool.Trim(); // starts the interval: all eight are idle from here
        var misses = pool.Stats.Misses;

        // The load now wants 8 KiB arrays: the first two are new, and on return each is kept in place of two idle ones.
        var now = Enumerable.Range(0, 2).Select(_ => pool.Rent(8192)).ToList();
        Assert.Equal(misses + 2, pool.Stats.Misses);
        foreach (var a in now) Assert.True(pool.Return(a));
        Assert.Equal(2, pool.PooledCount(8192));
        Assert.Equal(4, pool.PooledCount(4096));
        Assert.Equal(8 * 4096, pool.PooledBytes);

        // So the next round of the load allocates nothing.
        var again = Enumerable.Range(0, 2).Select(_ => pool.Rent(8192)).ToList();
        Assert.Equal(misses + 2, pool.Stats.Misses);
        foreach (var a in again) Assert.True(pool.Return(a));
    }

    [Fact]
    public void A_full_pool_drops_a_returned_array_rather_than_arrays_used_since_the_last_trim()
    {
        var pool = new TrimmingArrayPool(8 * 4096);
        var earlier = Enumerable.Range(0, 8).Select(_ => pool.Rent(4096)).ToList();
        foreach (var a in earlier) Assert.True(pool.Return(a));
        pool.Trim();
        // The 4 KiB arrays are all in use again in this interval: none is idle.
        var inUse = Enumerable.Range(0, 8).Select(_ => pool.Rent(4096)).ToList();
        foreach (var a in inUse) Assert.True(pool.Return(a));

        Assert.False(pool.Return(new byte[8192]));
        Assert.Equal(8, pool.PooledCount(4096));
        Assert.Equal(1, pool.Stats.Dropped);
    }

    [Fact]
    public void A_rent_that_finds_none_of_its_size_in_a_well_filled_pool_takes_the_smallest_larger_array_up_to_64_times_the_size()
    {
        // 4 MiB budget: the three arrays below (1.1 MiB) are over a quarter of it.
        var pool = new TrimmingArrayPool(4L << 20);
        var eight = pool.Rent(8192);
        var sixtyFour = pool.Rent(65536);
        var oneMiB = pool.Rent(1 << 20);
        pool.Return(eight);
        pool.Return(sixtyFour);
        pool.Return(oneMiB);
        var misses = pool.Stats.Misses;

        Assert.Same(eight, pool.Rent(1000)); // no 1 KiB array pooled: the smallest larger one
        Assert.Same(sixtyFour, pool.Rent(1000));
        Assert.Equal(1024, pool.Rent(1000).Length); // 1 MiB is over 64 times 1 KiB: a new array of the size asked for
        Assert.Equal(misses + 1, pool.Stats.Misses);
        Assert.Equal(1, pool.PooledCount(1 << 20));
    }

    [Fact]
    public void A_rent_from_a_pool_under_a_quarter_of_its_budget_gets_the_size_asked_for()
    {
        var pool = new TrimmingArrayPool(1L << 30);
        var large = pool.Rent(65536);
        pool.Return(large);
        // What is in use follows need; the unused 64 KiB array is left for the trim.
        Assert.Equal(4096, pool.Rent(4096).Length);
        Assert.Equal(1, pool.PooledCount(65536));
    }

    [Fact]
    public void A_full_pool_left_by_a_burst_of_large_batches_serves_a_later_load_of_small_ones_without_allocating()
    {
        // A burst grew four batches to 64 KiB and filled the pool's budget with them.
        var pool = new TrimmingArrayPool(4 * 65536);
        var burst = Enumerable.Range(0, 4).Select(_ => pool.Rent(65536)).ToList();
        foreach (var a in burst) Assert.True(pool.Return(a));
        var misses = pool.Stats.Misses;

        // Then a steady load of four 4 KiB batches at a time: served from the burst's arrays. Were it given new arrays,
        // the full pool would drop each on return and the load would allocate on every round.
        for (var round = 0; round < 100; round++)
        {
            var batches = Enumerable.Range(0, 4).Select(_ => pool.Rent(4096)).ToList();
            Assert.All(batches, b => Assert.True(b.Length >= 4096));
            foreach (var b in batches) Assert.True(pool.Return(b));
        }
        Assert.Equal(misses, pool.Stats.Misses);
        Assert.Equal(0, pool.Stats.Dropped);
    }

    [Fact]
    public void A_new_batch_takes_the_largest_pooled_array_it_can_use_before_a_new_one_of_the_size_it_prefers()
    {
        var pool = new TrimmingArrayPool(1L << 30);
        var small = pool.Rent(512);
        var medium = pool.Rent(2048);
        pool.Return(small);
        pool.Return(medium);
        var misses = pool.Stats.Misses;

        // 16 KiB preferred, none pooled: the largest pooled array that fits the minimum (2 KiB), not a new one.
        Assert.Same(medium, pool.Rent(16384, 300));
        // Then the 512 B one; a minimum above every pooled size gets the preferred size, new.
        Assert.Same(small, pool.Rent(16384, 300));
        Assert.Equal(misses, pool.Stats.Misses);
        pool.Return(small);
        Assert.Equal(16384, pool.Rent(16384, 1024).Length);
        Assert.Equal(misses + 1, pool.Stats.Misses);
        // The preferred size pooled: that one, not a smaller one.
        var preferred = pool.Rent(4096);
        pool.Return(preferred);
        Assert.Same(preferred, pool.Rent(4096, 256));
        Assert.Equal(1, pool.PooledCount(512));
    }

    [Fact]
    public async Task Records_that_linger_while_their_partition_has_a_batch_in_flight_go_out_together_as_one_batch()
    {
        var time = new FakeTimeProvider();
        var fake = new FakeTransport();
        fake.Topics["t"] = [1];
        var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var producer = FakeTransport.Producer(fake, FakeTransport.Options() with
        {
            TimeProvider = time, Linger = TimeSpan.FromMilliseconds(5), DeliveryTimeout = TimeSpan.FromHours(1), CloseTimeout = TimeSpan.Zero,
            // One request in flight: the partition's next batch waits (with more, an idempotent producer pipelines up to
            // five batches of a partition, and a lingered record goes at once: ProducerPipeliningTests).
            MaxInFlight = 1,
        });
        try
        {
            var engine = producer.Engine;
            // Warm up: the layout and the producer id are known (a flush sends at once), so each record below opens or
            // joins its batch synchronously, at the current fake time.
            var warm = producer.ProduceAsync("t", null, "warm-up", partition: 0).AsTask();
            await producer.FlushAsync().WaitAsync(Eventually.Deadline);
            Assert.True((await warm).IsDelivered);
            fake.Stalled[1] = stall;
            // Fake time moves in steps until the sender has done what is awaited: a step made before the sender armed its
            // wait on the fake clock would otherwise leave that wait a step short.
            async Task AdvanceUntil(Func<bool> done, TimeSpan step, string what)
            {
                for (var i = 0; i < 2000 && !done(); i++)
                {
                    time.Advance(step);
                    await Task.Delay(5);
                }
                Assert.True(done(), what);
            }

            var deliveries = new List<Task<DeliveryReport>> { producer.ProduceAsync("t", null, "a", partition: 0).AsTask() };
            await AdvanceUntil(() => fake.Calls.Count == 2, TimeSpan.FromMilliseconds(1), "the first batch is sent (and held by the broker)");

            // Three more records, each followed by time past the linger and a pass of the sender over it.
            foreach (var v in new[] { "b", "c", "d" })
            {
                deliveries.Add(producer.ProduceAsync("t", null, v, partition: 0).AsTask());
                var passes = engine.SenderPasses;
                time.Advance(TimeSpan.FromMilliseconds(10));
                await AdvanceUntil(() => engine.SenderPasses > passes + 1, TimeSpan.FromMilliseconds(50), "the sender looked at the lingered record");
            }
            stall.SetResult();
            await producer.FlushAsync().WaitAsync(Eventually.Deadline);
            foreach (var d in deliveries) Assert.True((await d).IsDelivered);
            Assert.Equal([1, 1, 3], fake.Sequences.Select(s => s.Count));
            Assert.Equal([0, 1, 2], fake.Sequences.Select(s => s.BaseSequence));
        }
        finally
        {
            await FakeClockDisposal.DisposeDrivenAsync(producer, time);
        }
    }
}
