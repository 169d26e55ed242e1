using System.Text;
using Kiel.Producing;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Producing;

public class ProducerEngineTests
{
    private static FakeTransport Cluster(string topic = "t", params int[] leaders)
    {
        var t = new FakeTransport();
        t.Topics[topic] = leaders.Length == 0 ? [1, 2, 3, 1] : leaders;
        return t;
    }

    [Fact]
    public async Task Records_are_acknowledged_with_offsets_in_order_per_partition()
    {
        var fake = Cluster();
        await using var producer = FakeTransport.Producer(fake);
        var tasks = Enumerable.Range(0, 200).Select(i => producer.ProduceAsync("t", null, $"v{i}", partition: i % 4).AsTask()).ToArray();
        var reports = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(20));
        for (var p = 0; p < 4; p++)
        {
            var mine = reports.Where(r => r.Partition == p).ToArray();
            Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), mine.Select(r => r.Offset));
            Assert.Equal(Enumerable.Range(0, 50).Select(i => $"v{i * 4 + p}"), fake.Log("t", p).Select(r => Encoding.UTF8.GetString(r.Value!)));
        }
        Assert.All(reports, r => Assert.Equal(TimestampType.CreateTime, r.TimestampType));
    }

    [Fact]
    public async Task Keys_headers_nulls_and_timestamps_reach_the_log()
    {
        var fake = Cluster();
        await using var producer = FakeTransport.Producer(fake);
        var ts = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);
        var headers = new Headers { { "h1", "x" }, new RecordHeader("h2", (byte[]?)null), { "h1", "y" } };
        var r = await producer.ProduceAsync("t", "key", null, headers, timestamp: ts);
        Assert.Equal(Murmur2.Partition("key"u8, 4), r.Partition);
        Assert.Equal(ts, r.Timestamp);
        var stored = Assert.Single(fake.Log("t", r.Partition));
        Assert.Equal("key", Encoding.UTF8.GetString(stored.Key!));
        Assert.Null(stored.Value);
        Assert.Equal(ts.ToUnixTimeMilliseconds(), stored.Timestamp);
        Assert.Equal(["h1", "h2", "h1"], stored.Headers.Select(h => h.Item1));
        Assert.Null(stored.Headers[1].Item2);
        Assert.Equal("y", Encoding.UTF8.GetString(stored.Headers[2].Item2!));
    }

    [Fact]
    public async Task One_request_per_broker_carries_every_partition_it_leads()
    {
        var fake = Cluster("t", 1, 1, 1, 2);
        await using var producer = FakeTransport.Producer(fake, FakeTransport.Options() with { Linger = TimeSpan.FromMilliseconds(200) });
        for (var i = 0; i < 40; i++) producer.Produce("t", null, "x", partition: i % 4);
        await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, fake.Calls.Count);
        Assert.Contains((1, 3), fake.Calls);
        Assert.Contains((2, 1), fake.Calls);
    }

    [Fact]
    public async Task A_record_format_that_is_known_only_later_still_sends_the_request()
    {
        // The engine's other send path: the broker's record format is not known when the request starts (its connection
        // is still opening), so the request waits for it before it encodes.
        var fake = Cluster();
        var format = new TaskCompletionSource<byte>(TaskCreationOptions.RunContinuationsAsynchronously);
        var lookups = 0;
        fake.MagicLookup = (_, _) =>
        {
            Interlocked.Increment(ref lookups);
            return new ValueTask<byte>(format.Task);
        };
        await using var producer = FakeTransport.Producer(fake);
        var sent = producer.ProduceAsync("t", null, "late", partition: 2).AsTask();
        await Eventually.Until(() => Volatile.Read(ref lookups) > 0, "the request to ask for the record format");
        // Nothing may be sent while the format is unknown (the fake takes a call a yield after it is made, so an instant
        // check could pass before a wrong call arrives).
        await Eventually.Holds(() => fake.Calls.IsEmpty && !sent.IsCompleted, "no Produce call before the record format is known",
            TimeSpan.FromMilliseconds(200));
        format.SetResult(2);
        var report = await sent.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, report.Offset);
        Assert.Equal("late", Encoding.UTF8.GetString(Assert.Single(fake.Log("t", 2)).Value!));
    }

    [Fact]
    public async Task A_failed_record_format_lookup_is_retried_and_the_record_delivered()
    {
        var fake = Cluster();
        var lookups = 0;
        fake.MagicLookup = (_, _) => Interlocked.Increment(ref lookups) == 1
            ? ValueTask.FromException<byte>(new IOException("connection reset while asking for versions"))
            : ValueTask.FromResult((byte)2);
        await using var producer = FakeTransport.Producer(fake);
        var report = await producer.ProduceAsync("t", null, "again", partition: 1).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, report.Offset);
        Assert.True(Volatile.Read(ref lookups) >= 2);
        Assert.Equal("again", Encoding.UTF8.GetString(Assert.Single(fake.Log("t", 1)).Value!));
    }

    [Fact]
    public async Task Create_time_is_reported_when_the_broker_answers_no_append_time()
    {
        var fake = Cluster();
        fake.LogAppendTime = -1;   // what a real broker answers for a create-time topic
        await using var producer = FakeTransport.Producer(fake);
        var created = new DateTimeOffset(2026, 1, 31, 12, 0, 0, TimeSpan.Zero);
        var r = await producer.ProduceAsync("t", null, "v", timestamp: created);
        Assert.Equal(TimestampType.CreateTime, r.TimestampType);
        Assert.Equal(created, r.Timestamp);
    }

    [Fact]
    public async Task Log_append_time_is_reported_when_the_topic_uses_it()
    {
        var fake = Cluster();
        fake.LogAppendTime = 1234;
        await using var producer = FakeTransport.Producer(fake);
        var r = await producer.ProduceAsync("t", null, "v");
        Assert.Equal(TimestampType.LogAppendTime, r.TimestampType);
        Assert.Equal(1234, r.Timestamp.ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task A_moved_leader_takes_its_batches_along_and_order_holds()
    {
        var fake = Cluster("t", 1);
        await using var producer = FakeTransport.Producer(fake);
        var first = Enumerable.Range(0, 50).Select(i => producer.ProduceAsync("t", null, $"{i}").AsTask()).ToArray();
        await Task.WhenAll(first).WaitAsync(TimeSpan.FromSeconds(10));
        fake.Topics["t"] = [2]; // broker 1 now answers NOT_LEADER_OR_FOLLOWER
        var second = Enumerable.Range(50, 50).Select(i => producer.ProduceAsync("t", null, $"{i}").AsTask()).ToArray();
        await Task.WhenAll(second).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"{i}"), fake.Log("t", 0).Select(r => Encoding.UTF8.GetString(r.Value!)));
        Assert.Contains(fake.Calls, c => c.Broker == 2);
    }

    [Fact]
    public async Task Retriable_errors_are_retried_with_the_same_sequence()
    {
        var fake = Cluster("t", 1);
        await using var producer = FakeTransport.Producer(fake);
        await producer.ProduceAsync("t", null, "a");
        fake.ProduceErrors.Enqueue(7); // REQUEST_TIMED_OUT
        fake.ProduceErrors.Enqueue(6); // NOT_LEADER_OR_FOLLOWER
        var r = await producer.ProduceAsync("t", null, "b").AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, r.Offset);
        var seqs = fake.Sequences.ToArray();
        Assert.Equal([0, 1], seqs.Select(s => s.BaseSequence));
        Assert.All(seqs, s => Assert.Equal(1000, s.ProducerId));
    }

    [Fact]
    public async Task Out_of_order_sequence_bumps_the_epoch_and_restarts_sequences()
    {
        var fake = Cluster("t", 1);
        await using var producer = FakeTransport.Producer(fake);
        await producer.ProduceAsync("t", null, "a");
        fake.ProduceErrors.Enqueue(45);
        await producer.ProduceAsync("t", null, "b").AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var last = fake.Sequences.Last();
        Assert.Equal(1, last.Epoch);
        Assert.Equal(0, last.BaseSequence);
        Assert.Equal(2, fake.InitCalls);
    }

    [Fact]
    public async Task Without_InitProducerId_records_go_out_without_a_producer_id()
    {
        var fake = Cluster("t", 1);
        fake.SupportsIdempotence = false;
        await using var producer = FakeTransport.Producer(fake);
        await producer.ProduceAsync("t", null, "a");
        var s = Assert.Single(fake.Sequences);
        Assert.Equal(-1, s.ProducerId);
        Assert.Equal(-1, s.BaseSequence);
    }

    [Fact]
    public async Task Idempotence_left_at_its_default_is_turned_off_with_one_warning_on_an_old_broker()
    {
        var fake = Cluster("t", 1);
        fake.SupportsIdempotence = false;
        var logs = new ListLoggerFactory();
        await using var producer = FakeTransport.Producer(fake, FakeTransport.Options() with { LoggerFactory = logs });
        for (var i = 0; i < 3; i++)
            await producer.ProduceAsync("t", null, "r" + i).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, fake.Log("t", 0).Count);
        var warning = Assert.Single(logs.Entries, e => e.EventId == Kiel.Diagnostics.LogEvents.ProducerIdempotenceUnsupported);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
    }

    [Fact]
    public async Task Idempotence_asked_for_explicitly_fails_every_record_on_an_old_broker_with_a_clear_error()
    {
        var fake = Cluster("t", 1);
        fake.SupportsIdempotence = false;
        var options = FakeTransport.Options() with { EnableIdempotence = true };
        Assert.True(options.EnableIdempotenceIsExplicit);
        Assert.False(FakeTransport.Options().EnableIdempotenceIsExplicit);
        await using var producer = FakeTransport.Producer(fake, options);
        for (var i = 0; i < 2; i++)
        {
            var ex = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync("t", null, "a").AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Contains("EnableIdempotence", ex.Message);
            Assert.Contains("0.11", ex.Message);
        }
        Assert.Empty(fake.Log("t", 0));
    }

    [Fact]
    public async Task A_fatal_error_fails_the_records_with_the_code()
    {
        var fake = Cluster("t", 1);
        await using var producer = FakeTransport.Producer(fake);
        fake.ProduceErrors.Enqueue(87); // INVALID_RECORD
        var ex = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync("t", null, "a").AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(87, ex.ErrorCode);
        Assert.Equal("INVALID_RECORD", ex.ErrorName);
    }

    [Fact]
    public async Task Message_too_large_splits_the_batch_and_delivers_every_record()
    {
        var fake = Cluster("t", 1);
        fake.MaxBatchBytes = 2000;
        await using var producer = FakeTransport.Producer(fake, FakeTransport.Options() with { Linger = TimeSpan.FromMilliseconds(100) });
        var value = new string('x', 300);
        // Timestamps that go back as well as forth, and headers: each half is re-based, and keeps every record whole.
        static long Ts(int i) => 1_700_000_000_000 + i * 1000 - (i % 3 == 1 ? 5_000 : 0);
        var tasks = Enumerable.Range(0, 20).Select(i => producer.ProduceAsync("t", $"k{i}", $"{i:D2}{value}",
            new Headers { { "n", $"{i}" }, { "empty", (byte[]?)null } }, timestamp: DateTimeOffset.FromUnixTimeMilliseconds(Ts(i))).AsTask()).ToArray();
        var reports = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), reports.Select(r => r.Offset));
        var log = fake.Log("t", 0);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"{i:D2}{value}"), log.Select(r => Encoding.UTF8.GetString(r.Value!)));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"k{i}"), log.Select(r => Encoding.UTF8.GetString(r.Key!)));
        Assert.Equal(Enumerable.Range(0, 20).Select(Ts), log.Select(r => r.Timestamp));
        Assert.All(log.Select((r, i) => (r, i)), x => Assert.Equal(
            [("n", $"{x.i}"), ("empty", null)], x.r.Headers.Select(h => (h.Item1, h.Item2 is null ? null : Encoding.UTF8.GetString(h.Item2)))));
        Assert.True(fake.Calls.Count > 2, "the batch was never split");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_refused_first_half_is_delivered_before_a_second_half_that_fits(bool idempotence)
    {
        // Large records then small ones, sealed together: the first half is refused again and split, the second fits.
        // The first half's halves must still reach the log first (they once went back behind the second half).
        var fake = Cluster("t", 1);
        fake.MaxBatchBytes = 2000;
        await using var producer = FakeTransport.Producer(fake, FakeTransport.Options() with
        {
            Linger = TimeSpan.FromMilliseconds(100),
            EnableIdempotence = idempotence,
        });
        string Value(int i) => i < 10 ? $"{i:D2}{new string('x', 300)}" : $"{i:D2}";
        var tasks = Enumerable.Range(0, 20).Select(i => producer.ProduceAsync("t", null, Value(i)).AsTask()).ToArray();
        var reports = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Enumerable.Range(0, 20).Select(Value), fake.Log("t", 0).Select(r => Encoding.UTF8.GetString(r.Value!)));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), reports.Select(r => r.Offset));
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(1024 * 1024)]
    public async Task A_request_carries_at_most_MaxRequestBytes_of_batches_and_one_larger_batch_alone(int maxRequestBytes)
    {
        var fake = Cluster("t", Enumerable.Repeat(1, 20).ToArray());
        await using var producer = FakeTransport.Producer(fake, FakeTransport.Options() with
        {
            Linger = TimeSpan.FromSeconds(30),
            DeliveryTimeout = TimeSpan.FromSeconds(60),
            MaxRequestBytes = maxRequestBytes,
        });
        // One batch of ~1.5 KB for each of 20 partitions of one broker, and one of ~6 KB (larger than 4 KiB) for
        // partition 0, all sealed together by the flush.
        var value = new string('v', 1500);
        var tasks = Enumerable.Range(0, 20).Select(i => producer.ProduceAsync("t", null, value, partition: i).AsTask()).ToList();
        tasks.AddRange(Enumerable.Range(0, 4).Select(_ => producer.ProduceAsync("t", null, value, partition: 0).AsTask()));
        await producer.FlushAsync().WaitAsync(Eventually.Deadline);
        var reports = await Task.WhenAll(tasks).WaitAsync(Eventually.Deadline);
        Assert.All(reports, r => Assert.True(r.IsDelivered, r.Error?.Message));
        Assert.Equal(5, fake.Log("t", 0).Count);
        var calls = fake.CallSizes.ToArray();
        Assert.Equal(20, calls.Sum(c => c.Batches));
        if (maxRequestBytes == 4096)
        {
            Assert.All(calls, c => Assert.True(c.Batches == 1 || c.Bytes <= maxRequestBytes, $"a request of {c.Batches} batches and {c.Bytes} bytes"));
            Assert.Contains(calls, c => c.Batches == 1 && c.Bytes > maxRequestBytes);
            Assert.Contains(calls, c => c.Batches == 2);
        }
        else Assert.Equal([20], calls.Select(c => c.Batches));
    }

    [Fact]
    public async Task A_single_record_the_broker_finds_too_large_fails_clearly()
    {
        var fake = Cluster("t", 1);
        fake.MaxBatchBytes = 100;
        await using var producer = FakeTransport.Producer(fake);
        await Assert.ThrowsAsync<RecordTooLargeException>(() => producer.ProduceAsync("t", null, new string('x', 500)).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_record_over_MaxRecordBytes_fails_at_once()
    {
        var fake = Cluster();
        await using var producer = FakeTransport.Producer(fake, FakeTransport.Options() with { MaxRecordBytes = 1000 });
        var ex = Assert.Throws<RecordTooLargeException>(() => producer.Produce("t", null, new string('x', 2000)));
        Assert.Contains("MaxRecordBytes", ex.Message);
        await Assert.ThrowsAsync<RecordTooLargeException>(() => producer.ProduceAsync("t", null, new string('x', 2000)).AsTask());
    }

    [Fact]
    public async Task A_throwing_serializer_fails_that_call_alone()
    {
        var fake = Cluster();
        await using var producer = new KielProducer<string, string>(FakeTransport.Options(), null, new ThrowingSerializer(), _ => fake);
        await Assert.ThrowsAsync<InvalidOperationException>(() => producer.ProduceAsync("t", null, "bad").AsTask());
        var ok = await producer.ProduceAsync("t", null, "good");
        Assert.True(ok.IsDelivered);
    }

    private sealed class ThrowingSerializer : ISerializer<string>
    {
        public void Serialize(string value, System.Buffers.IBufferWriter<byte> output, in SerializationContext context)
        {
            if (value == "bad") throw new InvalidOperationException("cannot serialize");
            Serializers.Utf8.Serialize(value, output, context);
        }
    }

    [Fact]
    public async Task Unknown_topic_fails_with_UNKNOWN_TOPIC_OR_PARTITION()
    {
        var fake = Cluster();
        await using var producer = FakeTransport.Producer(fake);
        var ex = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync("missing", null, "v").AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(3, ex.ErrorCode);
        Assert.Contains("missing", ex.Message);
    }

    [Fact]
    public async Task A_partition_out_of_range_fails_the_record()
    {
        var fake = Cluster();
        await using var producer = FakeTransport.Producer(fake);
        await producer.ProduceAsync("t", null, "warm");
        var ex = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync("t", null, "v", partition: 9).AsTask());
        Assert.Contains("4 partitions", ex.Message);
    }

    [Fact]
    public async Task Delivery_timeout_fails_every_pending_record_with_a_reason()
    {
        var fake = Cluster("t", 1, 2);
        fake.Down = true;
        var options = FakeTransport.Options() with { DeliveryTimeout = TimeSpan.FromMilliseconds(800), RequestTimeout = TimeSpan.FromMilliseconds(300) };
        await using var producer = FakeTransport.Producer(fake, options);
        var delivered = 0;
        var failed = 0;
        var reasons = new System.Collections.Concurrent.ConcurrentBag<string>();
        for (var i = 0; i < 100; i++)
            producer.Produce("t", null, "v", partition: i % 2, onDelivery: (in DeliveryReport r) =>
            {
                if (r.IsDelivered) Interlocked.Increment(ref delivered);
                else { Interlocked.Increment(ref failed); reasons.Add(r.Error!.Message); }
            });
        await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(100, delivered + failed);
        Assert.Equal(100, failed);
        Assert.All(reasons, m => Assert.Contains("DeliveryTimeout", m));
        // Under load a batch can expire before its first send attempt, or in its last one; its reason then says so
        // instead of naming the transport error, so each reason must carry one of these and at least one the refused
        // connection itself.
        // A last attempt the loaded machine did not finish before the deadline is abandoned, and says so.
        Assert.All(reasons, m => Assert.True(m.Contains("connection refused") || m.Contains("never left the queue") || m.Contains("the request was abandoned"), m));
        Assert.Contains(reasons, m => m.Contains("connection refused"));
    }

    [Fact]
    public async Task Dispose_fails_what_cannot_be_delivered_and_never_hangs()
    {
        var fake = Cluster("t", 1);
        fake.Down = true;
        var producer = FakeTransport.Producer(fake, FakeTransport.Options() with { CloseTimeout = TimeSpan.FromMilliseconds(300) });
        var task = producer.ProduceAsync("t", null, "v").AsTask();
        await producer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var ex = await Assert.ThrowsAsync<ProduceException>(() => task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("disposed", ex.Message);
        Assert.Throws<ObjectDisposedException>(() => producer.Produce("t", null, "v"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => producer.ProduceAsync("t", null, "v").AsTask());
    }

    [Fact]
    public async Task Dispose_is_bounded_even_when_the_transport_never_answers()
    {
        var fake = Cluster("t", 1);
        fake.Hang = true;
        var options = FakeTransport.Options() with
        {
            CloseTimeout = TimeSpan.FromMilliseconds(200),
            RequestTimeout = TimeSpan.FromMilliseconds(300),
            DeliveryTimeout = TimeSpan.FromSeconds(2),
        };
        var producer = FakeTransport.Producer(fake, options);
        var task = producer.ProduceAsync("t", null, "v").AsTask();
        await Eventually.Until(() => !fake.Calls.IsEmpty, "the request is in flight");
        var disposing = System.Diagnostics.Stopwatch.StartNew();
        await producer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        // Close timeout (0.2 s) + the hung request's bound (request timeout 0.3 s + 5 s) is 5.5 s; a busy machine adds
        // some, but not another 5 s. A dispose that waited for the transport (or ignored the close timeout) fails here.
        Assert.InRange(disposing.Elapsed, TimeSpan.FromMilliseconds(190), TimeSpan.FromSeconds(10.5));
        var ex = await Assert.ThrowsAsync<ProduceException>(() => task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("disposed", ex.Message);
    }

    [Fact]
    public async Task Dispose_fails_a_record_still_waiting_for_metadata_when_the_close_timeout_ends()
    {
        // Issue 19 (hostile broker): metadata that can never be read, from a lookup that does not even stop when
        // cancelled. Closing must not leave the record waiting for MaxBlock (here an hour) beyond the close.
        var fake = Cluster("t", 1);
        fake.MetadataHang = true;
        var producer = FakeTransport.Producer(fake, FakeTransport.Options() with
        {
            CloseTimeout = TimeSpan.FromMilliseconds(300), MaxBlock = TimeSpan.FromHours(1),
        });
        var task = producer.ProduceAsync("t", null, "v").AsTask();
        await Eventually.Until(() => Volatile.Read(ref fake.MetadataCalls) > 0, "the metadata lookup runs");
        var disposing = System.Diagnostics.Stopwatch.StartNew();
        await producer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        // The record has its outcome by the time the close returns; the close itself takes the close timeout, not the
        // request bound (request timeout 5 s + 5 s) it would wait for a sender still busy with the record.
        // The outcome is set before the close returns; the Task made by AsTask() may see it a moment later (its
        // continuation runs on the pool), so allow that moment, far below MaxBlock (an hour).
        await Eventually.Until(() => task.IsCompleted, "the record waiting for metadata has an outcome after the close", TimeSpan.FromSeconds(2));
        Assert.InRange(disposing.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(9));
        var ex = await Assert.ThrowsAsync<ProduceException>(() => task);
        Assert.Contains("closed", ex.Message);
        Assert.Contains("metadata of topic 't'", ex.Message);
        Assert.Equal(1, producer.FailedCount);
    }

    [Fact]
    public async Task Dispose_flushes_what_lingers()
    {
        var fake = Cluster("t", 1);
        var producer = FakeTransport.Producer(fake, FakeTransport.Options() with { Linger = TimeSpan.FromSeconds(30), DeliveryTimeout = TimeSpan.FromSeconds(60) });
        for (var i = 0; i < 10; i++) producer.Produce("t", null, $"{i}");
        await producer.DisposeAsync();
        Assert.Equal(10, fake.Log("t", 0).Count);
    }

    [Fact]
    public async Task Backpressure_throw_mode_reports_a_full_buffer()
    {
        var fake = Cluster("t", 1);
        fake.Down = true;
        var options = FakeTransport.Options() with { BufferMemory = 4096, BatchSize = 4096, Backpressure = BackpressureMode.Throw, CloseTimeout = TimeSpan.Zero };
        await using var producer = FakeTransport.Producer(fake, options);
        var value = new string('x', 1000);
        Assert.Throws<ProducerQueueFullException>(() =>
        {
            for (var i = 0; i < 10; i++) producer.Produce("t", null, value);
        });
    }

    [Fact]
    public async Task Magic_1_message_sets_are_written_for_old_brokers()
    {
        var fake = Cluster("t", 1);
        fake.Magic = 1;
        await using var producer = FakeTransport.Producer(fake, FakeTransport.Options() with { EnableIdempotence = false });
        var ts = DateTimeOffset.FromUnixTimeMilliseconds(1_600_000_000_000);
        for (var i = 0; i < 5; i++) producer.Produce("t", $"k{i}", $"v{i}", partition: 0, timestamp: ts.AddMilliseconds(i));
        await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var log = fake.Log("t", 0);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"v{i}"), log.Select(r => Encoding.UTF8.GetString(r.Value!)));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => ts.ToUnixTimeMilliseconds() + i), log.Select(r => r.Timestamp));
    }

    [Theory]
    [InlineData(Kiel.CompressionType.Gzip)]
    [InlineData(Kiel.CompressionType.Snappy)]
    [InlineData(Kiel.CompressionType.Lz4)]
    [InlineData(Kiel.CompressionType.Zstd)]
    public async Task Compressed_batches_decode_to_the_same_records(Kiel.CompressionType codec)
    {
        var fake = Cluster("t", 1);
        await using var producer = FakeTransport.Producer(fake, FakeTransport.Options() with { Compression = codec });
        for (var i = 0; i < 300; i++) producer.Produce("t", $"k{i}", $"value-{i}", new Headers { { "n", $"{i}" } });
        await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var log = fake.Log("t", 0);
        Assert.Equal(300, log.Count);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"value-{i}"), log.Select(r => Encoding.UTF8.GetString(r.Value!)));
    }

    [Fact]
    public async Task Acks_none_completes_without_offsets()
    {
        var fake = Cluster("t", 1);
        await using var producer = FakeTransport.Producer(fake, FakeTransport.Options() with { Acks = Acks.None, EnableIdempotence = false });
        var r = await producer.ProduceAsync("t", null, "v").AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(r.IsDelivered);
        Assert.Equal(-1, r.Offset);
    }

    [Fact]
    public async Task Callbacks_and_awaits_mix_and_every_record_is_reported_once()
    {
        var fake = Cluster();
        await using var producer = FakeTransport.Producer(fake);
        var reported = new int[1000];
        for (var i = 0; i < 1000; i++)
        {
            var n = i;
            if (i % 3 == 0) producer.Produce("t", $"{i}", "v", onDelivery: (in DeliveryReport r) => Interlocked.Increment(ref reported[n]));
            else if (i % 3 == 1) _ = producer.ProduceAsync("t", $"{i}", "v").AsTask().ContinueWith(_ => Interlocked.Increment(ref reported[n]));
            else producer.Produce("t", $"{i}", "v"); // fire and forget: no report, but the record must reach the log
        }
        await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        // Continuations run after the flush returns: wait for every report that can come, then check none came twice.
        await Eventually.Until(() => Enumerable.Range(0, 1000).Where(i => i % 3 != 2).All(i => Volatile.Read(ref reported[i]) >= 1), "every callback and await is reported");
        for (var i = 0; i < 1000; i++) Assert.Equal(i % 3 == 2 ? 0 : 1, Volatile.Read(ref reported[i]));
        var keys = fake.Logs.Values.SelectMany(l => l).Select(r => Encoding.UTF8.GetString(r.Key!)).ToList();
        Assert.Equal(1000, keys.Count);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"{i}").Order(), keys.Order());
    }

    [Fact]
    public async Task Kiel_style_producer_uses_key_maker_and_partitioner()
    {
        var fake = Cluster();
        var calls = new List<(object? Key, int Count)>();
        await using var producer = new Producer<Dictionary<string, int>>(_ => fake, ["fake:9092"], keyMaker: m => $"user-{m["id"]}",
            partitioner: (key, partitions) => { lock (calls) calls.Add((key, partitions.Count)); return partitions[^1]; });
        var r = await producer.ProduceAsync("t", new Dictionary<string, int> { ["id"] = 7 });
        Assert.Equal(3, r.Partition);
        Assert.Equal(("user-7", 4), Assert.Single(calls));
        var stored = Assert.Single(fake.Log("t", 3));
        Assert.Equal("user-7", Encoding.UTF8.GetString(stored.Key!));
        Assert.Equal("{\"id\":7}", Encoding.UTF8.GetString(stored.Value!));
    }
}
