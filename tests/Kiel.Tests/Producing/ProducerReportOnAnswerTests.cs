using System.Collections.Concurrent;
using Kiel.Producing;
using Kiel.Producing.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Kiel.Tests.Producing;

/// <summary>
/// A delivered batch whose records are all awaited is reported where its answer is read, without waiting for the
/// sender thread; the sender keeps the rest. Each test holds the sender thread still (an action on it that blocks), so
/// a report that still needed the sender could not come: the tests fail, rather than pass slowly, if the reports go
/// back to the sender. Reports stay in order per partition, and delivery handlers (user code) stay on the sender.
/// </summary>
public sealed class ProducerReportOnAnswerTests
{
    /// <summary>A one-broker cluster whose Produce answers the test gives, one call at a time, in any order.</summary>
    private sealed class ManualTransport : IProducerTransport
    {
        public readonly ConcurrentQueue<(ProduceCall Call, TaskCompletionSource<ProduceResult> Answer)> Calls = new();
        private readonly int _partitions;

        public ManualTransport(int partitions) => _partitions = partitions;

        public ValueTask<TopicLayout> GetTopicAsync(string topic, bool refresh, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new TopicLayout(topic, [.. Enumerable.Repeat(1, _partitions)]));

        public ValueTask<byte> GetRecordMagicAsync(int brokerId, CancellationToken cancellationToken) => ValueTask.FromResult((byte)2);

        public ValueTask<ProduceResult> ProduceAsync(int brokerId, ProduceCall call, CancellationToken cancellationToken)
        {
            var answer = new TaskCompletionSource<ProduceResult>();
            Calls.Enqueue((call, answer));
            return new ValueTask<ProduceResult>(answer.Task);
        }

        public ValueTask<ProducerIdentity?> InitProducerIdAsync(ProducerIdentity? current, CancellationToken cancellationToken) =>
            ValueTask.FromResult<ProducerIdentity?>(new ProducerIdentity(7, 0));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        /// <summary>The <paramref name="n"/>-th call (from 0) once it has been made, with the partitions it carries.</summary>
        public async Task<(int[] Partitions, TaskCompletionSource<ProduceResult> Answer)> CallAsync(int n)
        {
            await Eventually.Until(() => Calls.Count > n, $"Produce call {n + 1}");
            var (call, answer) = Calls.ElementAt(n);
            return ([.. call.Partitions.Select(p => p.Partition)], answer);
        }

        public static ProduceResult Delivered(params (int Partition, long BaseOffset)[] parts) =>
            new([.. parts.Select(p => new ProducePartitionResult("t", p.Partition, 0, p.BaseOffset, -1, null))]);
    }

    /// <param name="time">A fake clock that the test never moves: the sender's 100 ms look and every deadline then
    /// never come, so only a wake makes the sender act.</param>
    private static KielProducer<string, string> Producer(ManualTransport transport, TimeProvider? time = null) => new(new KielProducerOptions
    {
        BootstrapServers = "fake:9092",
        Linger = TimeSpan.Zero,
        RequestTimeout = TimeSpan.FromSeconds(30),
        DeliveryTimeout = TimeSpan.FromSeconds(60),
        CloseTimeout = TimeSpan.FromSeconds(5),
        TimeProvider = time ?? TimeProvider.System,
    }, null, null, _ => transport);

    /// <summary>The sender's pass count once it has stopped changing (the sender sleeps: the fake clock brings no deadline).</summary>
    private static async Task<long> SettledPassesAsync(KielProducer<string, string> producer)
    {
        for (var i = 0; i < 50; i++)
        {
            var before = producer.Engine.SenderPasses;
            await Task.Delay(100);
            if (producer.Engine.SenderPasses == before) return before;
        }
        Assert.Fail("The sender kept making passes for 5 s with nothing to do.");
        return -1;
    }

    /// <summary>Produces one awaited record to partition 0 and answers its call (the <paramref name="n"/>-th) as delivered at <paramref name="offset"/>.</summary>
    private static async Task RoundTripAsync(KielProducer<string, string> producer, ManualTransport transport, int n, long offset)
    {
        var delivery = producer.ProduceAsync("t", null, $"r{offset}", partition: 0).AsTask();
        (_, var answer) = await transport.CallAsync(n);
        answer.SetResult(ManualTransport.Delivered((0, offset)));
        Assert.Equal(offset, (await delivery.WaitAsync(Eventually.Deadline)).Offset);
    }

    /// <summary>Holds the sender thread until the returned handle is disposed (at most a minute, so a failed test still ends).</summary>
    private static async Task<IDisposable> HoldSenderAsync(KielProducer<string, string> producer)
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new ManualResetEventSlim();
        var held = producer.Engine.RunOnSenderAsync(() =>
        {
            entered.TrySetResult();
            release.Wait(TimeSpan.FromMinutes(1));
        });
        await entered.Task.WaitAsync(Eventually.Deadline);
        return new Release(release, held);
    }

    private sealed class Release(ManualResetEventSlim release, Task held) : IDisposable
    {
        public void Dispose()
        {
            release.Set();
            held.Wait(Eventually.Deadline);
            release.Dispose();
        }
    }

    [Fact]
    public async Task An_awaited_record_is_reported_when_its_answer_is_read_while_the_sender_thread_is_busy()
    {
        var transport = new ManualTransport(partitions: 1);
        await using var producer = Producer(transport);
        var delivery = producer.ProduceAsync("t", null, "a", partition: 0).AsTask();
        var (partitions, answer) = await transport.CallAsync(0);
        Assert.Equal([0], partitions);

        using (await HoldSenderAsync(producer))
        {
            answer.SetResult(ManualTransport.Delivered((0, 41)));
            var report = await delivery.WaitAsync(Eventually.Deadline);
            Assert.True(report.IsDelivered);
            Assert.Equal(41, report.Offset);
            Assert.Equal(0, report.Partition);
        }
        // The sender then does its part: the record is counted, the partition is free for the next batch.
        await Eventually.Until(() => producer.PendingCount == 0 && producer.Engine.DeliveredCount == 1, "the sender's bookkeeping");
        var next = producer.ProduceAsync("t", null, "b", partition: 0).AsTask();
        (_, answer) = await transport.CallAsync(1);
        answer.SetResult(ManualTransport.Delivered((0, 42)));
        Assert.Equal(42, (await next.WaitAsync(Eventually.Deadline)).Offset);
    }

    [Fact]
    public async Task A_batch_answered_before_an_earlier_one_of_its_partition_is_reported_after_it()
    {
        var transport = new ManualTransport(partitions: 1);
        await using var producer = Producer(transport);
        // Take the producer id first, so that the two batches can be in flight together (idempotence).
        var warm = producer.ProduceAsync("t", null, "warm", partition: 0).AsTask();
        (_, var warmAnswer) = await transport.CallAsync(0);
        warmAnswer.SetResult(ManualTransport.Delivered((0, 0)));
        await warm.WaitAsync(Eventually.Deadline);
        await Eventually.Until(() => producer.PendingCount == 0, "the warm-up record done");

        var first = producer.ProduceAsync("t", null, "first", partition: 0).AsTask();
        var (_, firstAnswer) = await transport.CallAsync(1);
        var second = producer.ProduceAsync("t", null, "second", partition: 0).AsTask();
        var (_, secondAnswer) = await transport.CallAsync(2);

        using (await HoldSenderAsync(producer))
        {
            // The later batch's answer comes first: it must wait for the earlier batch's report.
            secondAnswer.SetResult(ManualTransport.Delivered((0, 2)));
            firstAnswer.SetResult(ManualTransport.Delivered((0, 1)));
            Assert.Equal(1, (await first.WaitAsync(Eventually.Deadline)).Offset);
            // Only the (held) sender can report the second batch now: it was not reported ahead of the first. The
            // count covers a report whose awaiting continuation has not run yet.
            await Eventually.Until(() => producer.Engine.DeliveredCount >= 2, "the first batch counted");
            await Eventually.Holds(() => producer.Engine.DeliveredCount == 2 && !second.IsCompleted,
                "the later batch was reported before the earlier one of its partition", TimeSpan.FromMilliseconds(200));
        }
        Assert.Equal(2, (await second.WaitAsync(Eventually.Deadline)).Offset);
    }

    [Fact]
    public async Task Delivery_handlers_are_called_on_the_sender_thread_not_where_the_answer_is_read()
    {
        var transport = new ManualTransport(partitions: 2);
        await using var producer = Producer(transport);
        var handled = new TaskCompletionSource<DeliveryReport>(TaskCreationOptions.RunContinuationsAsynchronously);
        producer.Produce("t", null, "called back", partition: 0, onDelivery: (in DeliveryReport r) => handled.TrySetResult(r));
        var (handlerPartitions, handlerAnswer) = await transport.CallAsync(0);
        var awaited = producer.ProduceAsync("t", null, "awaited", partition: 1).AsTask();
        var (awaitedPartitions, awaitedAnswer) = await transport.CallAsync(1);
        Assert.Equal([0], handlerPartitions);
        Assert.Equal([1], awaitedPartitions);

        using (await HoldSenderAsync(producer))
        {
            handlerAnswer.SetResult(ManualTransport.Delivered((0, 10)));
            awaitedAnswer.SetResult(ManualTransport.Delivered((1, 20)));
            Assert.Equal(20, (await awaited.WaitAsync(Eventually.Deadline)).Offset);
            // Answered first, but its handler is user code: it runs on the sender thread, which is held.
            await Eventually.Holds(() => !handled.Task.IsCompleted, "a delivery handler ran where the answer was read", TimeSpan.FromMilliseconds(200));
        }
        var report = await handled.Task.WaitAsync(Eventually.Deadline);
        Assert.Equal(10, report.Offset);
    }

    [Fact]
    public async Task A_batch_that_failed_is_never_reported_delivered_where_its_answer_is_read()
    {
        var transport = new ManualTransport(partitions: 1);
        await using var producer = Producer(transport);
        var delivery = producer.ProduceAsync("t", null, "a", partition: 0).AsTask();
        var (_, answer) = await transport.CallAsync(0);
        // NOT_LEADER_OR_FOLLOWER: retried by the sender, which is held while the answer comes.
        using (await HoldSenderAsync(producer))
        {
            answer.SetResult(new ProduceResult([new ProducePartitionResult("t", 0, 6, -1, -1, null)]));
            await Eventually.Holds(() => !delivery.IsCompleted, "a refused batch was reported", TimeSpan.FromMilliseconds(200));
        }
        var (_, retryAnswer) = await transport.CallAsync(1);
        retryAnswer.SetResult(ManualTransport.Delivered((0, 5)));
        Assert.Equal(5, (await delivery.WaitAsync(Eventually.Deadline)).Offset);
    }

    [Fact]
    public async Task An_answer_whose_records_were_all_reported_leaves_the_sender_asleep_until_it_is_needed()
    {
        var transport = new ManualTransport(partitions: 1);
        var producer = Producer(transport, new FakeTimeProvider());
        try
        {
            await RoundTripAsync(producer, transport, 0, 0);
            await Eventually.Until(() => producer.PendingCount == 0, "the first record done");

            // A record: a wake to send it. Its answer is reported on the spot and does not wake the sender again.
            var delivery = producer.ProduceAsync("t", null, "r1", partition: 0).AsTask();
            (_, var answer) = await transport.CallAsync(1);
            var sent = await SettledPassesAsync(producer);
            answer.SetResult(ManualTransport.Delivered((0, 1)));
            Assert.Equal(1, (await delivery.WaitAsync(Eventually.Deadline)).Offset);
            await Eventually.Holds(() => producer.Engine.SenderPasses == sent, "the answer woke the sender", TimeSpan.FromMilliseconds(200));

            // The next record wakes it: the answer's bookkeeping is done first (the partition has room again), then it is sent.
            await RoundTripAsync(producer, transport, 2, 2);
        }
        finally
        {
            await producer.DisposeAsync().AsTask().WaitAsync(Eventually.Deadline);
        }
    }

    [Fact]
    public async Task An_answer_that_frees_a_place_in_flight_wakes_the_sender_even_when_its_records_were_all_reported()
    {
        var transport = new ManualTransport(partitions: 1);
        var producer = Producer(transport, new FakeTimeProvider());
        try
        {
            await RoundTripAsync(producer, transport, 0, 0); // the producer id: idempotence lets five batches be in flight
            var deliveries = new List<Task<DeliveryReport>>();
            for (var i = 1; i <= 5; i++)
            {
                deliveries.Add(producer.ProduceAsync("t", null, $"r{i}", partition: 0).AsTask());
                await transport.CallAsync(i);
            }
            // A sixth batch waits: five are in flight.
            var sixth = producer.ProduceAsync("t", null, "r6", partition: 0).AsTask();
            await Eventually.Holds(() => transport.Calls.Count == 6, "a sixth batch went while five were in flight", TimeSpan.FromMilliseconds(100));

            // The first answer frees a place: the sender must take it now (the fake clock never brings its 100 ms look).
            transport.Calls.ElementAt(1).Answer.SetResult(ManualTransport.Delivered((0, 1)));
            Assert.Equal(1, (await deliveries[0].WaitAsync(Eventually.Deadline)).Offset);
            var (_, sixthAnswer) = await transport.CallAsync(6);
            for (var i = 2; i <= 5; i++) transport.Calls.ElementAt(i).Answer.SetResult(ManualTransport.Delivered((0, i)));
            sixthAnswer.SetResult(ManualTransport.Delivered((0, 6)));
            Assert.Equal(6, (await sixth.WaitAsync(Eventually.Deadline)).Offset);
            for (var i = 1; i < 5; i++) Assert.Equal(i + 1, (await deliveries[i].WaitAsync(Eventually.Deadline)).Offset);
        }
        finally
        {
            await producer.DisposeAsync().AsTask().WaitAsync(Eventually.Deadline);
        }
    }
}
