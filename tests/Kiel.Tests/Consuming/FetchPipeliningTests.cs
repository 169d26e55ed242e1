using Kiel.Consuming;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Consuming;

/// <summary>
/// A broker's next Fetch goes out once the previous answer's framing is walked, before its checksums are checked and
/// its records handed out. The records still come in order, once, and a corrupt batch found after the next Fetch
/// left stops its partition there: nothing that Fetch brought for it is handed out.
/// </summary>
public class FetchPipeliningTests
{
    private static readonly TopicPartition P0 = new("t", 0), P1 = new("t", 1);

    /// <summary>One partition on broker 1, stored as <paramref name="sets"/> sets of 10 records (one set per Fetch).</summary>
    private static FakeBackend OnePartition(int sets)
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1, brokers: 1);
        for (var s = 0; s < sets; s++) backend.Append(P0, TestBatches.V2(s * 10, 10));
        return backend;
    }

    [Fact]
    public async Task The_next_fetch_goes_out_before_the_previous_answers_records_are_handed_out()
    {
        var backend = OnePartition(sets: 4);
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        var taken = new List<FetchedChunk>();
        var early = new List<(long Offset, bool PreviousHandedOut)>();
        var last = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var collecting = true;
        backend.OnFetch = request =>
        {
            // Runs on the source's thread as each Fetch leaves: take what is buffered, and see whether the answer just
            // before this Fetch (the records up to its offset) is among it. Once the test has read what was taken,
            // the Fetches that follow (at 40, and empty ones after it) take nothing: what they would take after that
            // read would never be read.
            var offset = request.Partitions.Count > 0 ? request.Partitions[0].FetchOffset : -1;
            lock (taken)
            {
                if (!collecting) return;
                while (engine.TryTake(out var chunk)) taken.Add(chunk);
                if (offset > 0) early.Add((offset, taken.Any(c => c.NextOffset == offset)));
            }
            if (offset == 30) last.TrySetResult();
        };
        engine.Assign(P0, 0);
        await last.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var offsets = new List<long>();
        lock (taken)
        {
            collecting = false;
            foreach (var chunk in taken)
            {
                while (chunk.IsCurrent && chunk.TryReadNext(out var r)) offsets.Add(r.Offset);
                engine.Release(chunk);
            }
            Assert.Equal([(10L, false), (20L, false), (30L, false)], early.Take(3));
        }
        offsets.AddRange((await EngineHarness.ReadAsync(engine, 40 - offsets.Count)).Select(r => r.Offset));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (long)i), offsets);
    }

    [Fact]
    public async Task A_corrupt_batch_found_after_the_next_fetch_left_drops_what_that_fetch_brought()
    {
        // P0: one answer of offsets 0-2 good and 3-5 with a flipped byte (stored CRC kept); the next Fetch (sent at 6,
        // before the checksums are checked) brings 6-7. P1 keeps the source fetching.
        var bad = TestBatches.V2(3, 3);
        bad[^1] ^= 0x01;
        var backend = new FakeBackend();
        backend.CreateTopic("t", 2, brokers: 1);
        backend.Append(P0, TestBatches.Concat(TestBatches.V2(0, 3), bad));
        backend.Append(P0, TestBatches.V2(6, 2));
        backend.Append(P0, TestBatches.V2(8, 2));
        for (var s = 0; s < 20; s++) backend.Append(P1, TestBatches.V2(s * 5, 5));
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        engine.Assign(P0, 0);
        engine.Assign(P1, 0);

        var p0 = new List<long>();
        var p1 = 0;
        CorruptRecordException? error = null;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        // Until the error and all of P1: P1's last answers come from Fetches sent after the one at 6 was answered.
        while (error is null || p1 < 100)
        {
            var chunk = await engine.TakeAsync(cts.Token);
            try
            {
                if (chunk.Error is CorruptRecordException e)
                {
                    Assert.Null(error);
                    error = e;
                    continue;
                }
                Assert.Null(chunk.Error);
                while (chunk.IsCurrent && chunk.TryReadNext(out var r))
                    if (r.TopicPartition == P0) p0.Add(r.Offset);
                    else p1++;
            }
            finally
            {
                engine.Release(chunk);
            }
        }
        Assert.Equal(3, error.BaseOffset);
        Assert.Equal([0L, 1, 2], p0);
        Assert.Contains(backend.Fetches, f => f.Request.Partitions.Any(p => p.TopicPartition == P0 && p.FetchOffset == 6));
        Assert.False(engine.TryTake(out _), "records past the corrupt batch were handed out");
        Assert.Equal(3, engine.Position(P0));

        // The application skips the bad batch: the records after it come once, in order.
        engine.Seek(P0, 6);
        var after = await EngineHarness.ReadAsync(engine, 4);
        Assert.Equal([6L, 7, 8, 9], after.Select(r => r.Offset));
    }

    [Fact]
    public async Task A_seek_while_the_checksums_are_checked_drops_the_old_records()
    {
        var backend = OnePartition(sets: 4);
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        var seeked = 0;
        backend.OnFetch = request =>
        {
            // The Fetch at 10 leaves before offsets 0-9 are handed out: a seek now must drop them.
            if (request.Partitions.Any(p => p.FetchOffset == 10) && Interlocked.Exchange(ref seeked, 1) == 0) engine.Seek(P0, 30);
        };
        engine.Assign(P0, 0);
        var records = await EngineHarness.ReadAsync(engine, 10);
        Assert.Equal(1, seeked);
        Assert.Equal(Enumerable.Range(30, 10).Select(i => (long)i), records.Select(r => r.Offset));
    }

    [Fact]
    public async Task With_CheckCrcs_off_answers_are_handed_out_before_the_next_fetch()
    {
        var backend = OnePartition(sets: 3);
        await using var engine = new FetchEngine(backend, EngineHarness.Options() with { CheckCrcs = false });
        var at10 = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        backend.OnFetch = request =>
        {
            if (!request.Partitions.Any(p => p.FetchOffset == 10)) return;
            var buffered = engine.TryTake(out var chunk);
            if (chunk is not null) engine.PutBack(chunk);
            at10.TrySetResult(buffered);
        };
        engine.Assign(P0, 0);
        var bufferedAt10 = await at10.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var records = await EngineHarness.ReadAsync(engine, 30);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), records.Select(r => r.Offset));
        Assert.True(bufferedAt10);
    }
}
