using Kiel.Consuming;
using Kiel.Protocol.Compression;

namespace Kiel.Tests.Consuming;

public class FetchEngineTests
{
    private static readonly TopicPartition P0 = new("t", 0), P1 = new("t", 1), P2 = new("t", 2);

    private static FakeBackend Backend(int partitions = 3, int setsPerPartition = 3, int perSet = 10)
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", partitions);
        for (var p = 0; p < partitions; p++)
            for (var s = 0; s < setsPerPartition; s++)
                backend.Append(new TopicPartition("t", p), TestBatches.V2(s * perSet, perSet, s % 2 == 0 ? CompressionType.None : CompressionType.Gzip));
        return backend;
    }

    private static void AssertInOrderOnce(IEnumerable<(TopicPartition Tp, long Offset, string Value)> records, int partitions, long from, long to)
    {
        foreach (var group in records.GroupBy(r => r.Tp))
            Assert.Equal(Enumerable.Range((int)from, (int)(to - from)).Select(i => (long)i), group.Select(r => r.Offset));
        Assert.Equal(partitions, records.Select(r => r.Tp).Distinct().Count());
    }

    [Fact]
    public async Task Fetches_every_partition_from_its_leader_in_order()
    {
        var backend = Backend();
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        foreach (var tp in new[] { P0, P1, P2 }) engine.Assign(tp, 0);
        var records = await EngineHarness.ReadAsync(engine, 90);
        Assert.Equal(90, records.Count);
        AssertInOrderOnce(records, 3, 0, 30);
        Assert.Equal("v29", records.Last(r => r.Tp == P1).Value);
        Assert.All(backend.Fetches, f => Assert.All(f.Request.Partitions, p => Assert.Equal(f.Broker, p.TopicPartition.Partition % 3 + 1)));
        Assert.Equal(30, engine.Position(P0));
    }

    [Fact]
    public async Task Released_chunks_are_reused_for_later_answers_and_read_their_own_records()
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1);
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        engine.Assign(P0, 0);
        var seen = new HashSet<FetchedChunk>(ReferenceEqualityComparer.Instance);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        long expected = 0;
        var takes = 0;
        for (var round = 0; round < 20; round++)
        {
            // One answer at a time: the next set is appended only after the previous chunk was read and released.
            backend.Append(P0, TestBatches.V2(round * 5, 5, prefix: $"r{round}-"));
            while (expected < (round + 1) * 5)
            {
                var chunk = await engine.TakeAsync(bound.Token);
                takes++;
                seen.Add(chunk);
                try
                {
                    Assert.Null(chunk.Error);
                    while (chunk.IsCurrent && chunk.TryReadNext(out var r))
                    {
                        Assert.Equal(expected, r.Offset);
                        Assert.Equal($"r{round}-{expected}", System.Text.Encoding.UTF8.GetString(r.Value));
                        expected++;
                    }
                }
                finally
                {
                    engine.Release(chunk);
                }
            }
        }
        Assert.Equal(100, expected);
        // Every answer after the first could take a released chunk back (a fetch under way may still make a new one).
        Assert.True(seen.Count <= 3, $"{seen.Count} chunk objects for {takes} answers");
    }

    [Fact]
    public async Task A_chunk_released_twice_is_counted_and_pooled_once()
    {
        var backend = Backend(partitions: 1, setsPerPartition: 1);
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        engine.Assign(P0, 0);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var chunk = await engine.TakeAsync(bound.Token);
        var pooled = engine.PooledChunks;
        engine.Release(chunk);
        engine.Release(chunk);
        Assert.Equal(pooled + 1, engine.PooledChunks);
    }

    [Fact]
    public async Task Starts_inside_a_compressed_set_without_redelivering_lower_offsets()
    {
        var backend = Backend(partitions: 1);
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        engine.Assign(P0, 13); // inside the gzip set 10..19
        var records = await EngineHarness.ReadAsync(engine, 17);
        Assert.Equal(Enumerable.Range(13, 17).Select(i => (long)i), records.Select(r => r.Offset));
    }

    [Fact]
    public async Task Fetch_sessions_send_only_changes_and_forget_unassigned_partitions()
    {
        var backend = new FakeBackend { SupportsSessions = true };
        backend.CreateTopic("t", 3, brokers: 1);
        // P0 and P2 are in one fetch lane, so in one session.
        Assert.Equal(PartitionState.LaneOf(P0), PartitionState.LaneOf(P2));
        for (var i = 0; i < 4; i++)
        {
            backend.Append(P0, TestBatches.V2(i * 5, 5));
            backend.Append(P2, TestBatches.V2(i * 5, 5));
        }
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        engine.Assign(P0, 0);
        engine.Assign(P2, 0);
        var records = await EngineHarness.ReadAsync(engine, 40);
        Assert.Equal(40, records.Count);
        var fetches = backend.Fetches.ToArray();
        Assert.Equal(0, fetches[0].Request.SessionEpoch);
        Assert.Contains(fetches, f => f.Request.SessionId != 0 && f.Request.SessionEpoch > 0);
        engine.Unassign(P2);
        backend.Append(P0, TestBatches.V2(20, 5));
        var more = await EngineHarness.ReadAsync(engine, 5);
        Assert.Equal(Enumerable.Range(20, 5).Select(i => (long)i), more.Select(r => r.Offset));
        Assert.Contains(backend.Fetches, f => f.Request.Forgotten.Contains(P2));
    }

    [Fact]
    public async Task A_leaders_partitions_are_fetched_in_two_lanes_each_partition_always_in_its_own()
    {
        var backend = Backend(partitions: 4);
        backend.CreateTopic("u", 4, brokers: 1);
        var others = Enumerable.Range(0, 4).Select(p => new TopicPartition("u", p)).ToArray();
        foreach (var tp in others) backend.Append(tp, TestBatches.V2(0, 10));
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        var all = Enumerable.Range(0, 4).Select(p => new TopicPartition("t", p)).Concat(others).ToArray();
        foreach (var tp in all) engine.Assign(tp, 0);
        Assert.Equal(4 * 30 + 4 * 10, (await EngineHarness.ReadAsync(engine, 160)).Count);

        // A topic's partitions alternate between the lanes; every Fetch asks for partitions of its own lane only.
        Assert.NotEqual(PartitionState.LaneOf(all[0]), PartitionState.LaneOf(all[1]));
        Assert.NotEqual(PartitionState.LaneOf(others[0]), PartitionState.LaneOf(others[1]));
        foreach (var (_, lane, request) in backend.Fetches)
            Assert.All(request.Partitions, p => Assert.Equal(PartitionState.LaneOf(p.TopicPartition), lane));
        // Broker 1 leads partitions of both lanes, and both lanes fetched from it.
        Assert.Equal([0, 1], backend.Fetches.Where(f => f.Broker == 1 && f.Request.Partitions.Count > 0).Select(f => f.Lane).Distinct().Order());
    }

    [Fact]
    public async Task A_lane_whose_fetch_is_held_by_the_broker_does_not_hold_back_the_other_lanes_records()
    {
        var backend = Backend(partitions: 2, setsPerPartition: 1);
        backend.SetLeader(P1, 1);
        var held = PartitionState.LaneOf(P0);
        Assert.NotEqual(held, PartitionState.LaneOf(P1));
        backend.HoldLane = held;
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        engine.Assign(P0, 0);
        engine.Assign(P1, 0);
        // P0's lane waits on its broker (a long poll); P1, led by the same broker, is read meanwhile.
        var first = await EngineHarness.ReadAsync(engine, 10);
        Assert.All(first, r => Assert.Equal(P1, r.Tp));
        backend.ReleaseHeldLane.SetResult();
        var rest = await EngineHarness.ReadAsync(engine, 10);
        Assert.All(rest, r => Assert.Equal(P0, r.Tp));
    }

    [Fact]
    public async Task Not_leader_and_a_moved_leader_resume_at_the_same_offset()
    {
        var backend = Backend(partitions: 1, setsPerPartition: 6);
        await using var engine = new FetchEngine(backend, EngineHarness.Options() with { MaxPrefetchBytes = 1 });
        engine.Assign(P0, 0);
        var first = await EngineHarness.ReadAsync(engine, 10);
        backend.SetLeader(P0, 2);
        backend.InjectError(P0, (short)Kiel.ErrorCode.NotLeaderOrFollower);
        var rest = await EngineHarness.ReadAsync(engine, 50);
        Assert.Equal(Enumerable.Range(0, 60).Select(i => (long)i), first.Concat(rest).Select(r => r.Offset));
        Assert.Contains(backend.Fetches, f => f.Broker == 2);
    }

    [Fact]
    public async Task A_dead_broker_is_retried_with_refreshed_metadata_until_the_partition_moves()
    {
        var backend = Backend(partitions: 1, setsPerPartition: 4);
        await using var engine = new FetchEngine(backend, EngineHarness.Options() with { MaxPrefetchBytes = 1 });
        engine.Assign(P0, 0);
        var first = await EngineHarness.ReadAsync(engine, 10);
        var fetchesBefore = backend.Fetches.Count;
        backend.DownBrokers.Add(1);
        // Reading drains the (one-chunk) prefetch buffer, so the engine meets the dead broker, and keeps asking it while
        // the metadata still names it.
        var reading = EngineHarness.ReadAsync(engine, 30, TimeSpan.FromSeconds(40));
        await Eventually.Until(() => backend.Fetches.Skip(fetchesBefore).Count(f => f.Broker == 1) >= 2, "two fetches to the dead broker");
        var metadataBefore = backend.MetadataCalls;
        backend.SetLeader(P0, 3);
        var rest = await reading;
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (long)i), first.Concat(rest).Select(r => r.Offset));
        // Only a metadata refresh after the move can have found broker 3.
        Assert.True(backend.MetadataCalls > metadataBefore, $"no metadata refresh after the leader moved ({backend.MetadataCalls} calls, {metadataBefore} before)");
        Assert.Contains(backend.Fetches, f => f.Broker == 3);
    }

    [Theory]
    [InlineData(OffsetResetPolicy.Earliest, 10L)]
    [InlineData(OffsetResetPolicy.Latest, 30L)]
    public async Task Out_of_range_applies_the_reset_policy(OffsetResetPolicy policy, long expected)
    {
        var backend = Backend(partitions: 1);
        backend.DeleteBefore(P0, 10);
        await using var engine = new FetchEngine(backend, EngineHarness.Options(policy));
        engine.Assign(P0, 2);
        if (policy == OffsetResetPolicy.Latest)
        {
            await Eventually.Until(() => engine.Position(P0) == 30, "the position is reset to the log end");
            backend.Append(P0, TestBatches.V2(30, 5));
        }
        var records = await EngineHarness.ReadAsync(engine, 1);
        Assert.Equal(expected, records[0].Offset);
    }

    [Fact]
    public async Task Out_of_range_with_the_error_policy_surfaces_an_exception()
    {
        var backend = Backend(partitions: 1);
        await using var engine = new FetchEngine(backend, EngineHarness.Options(OffsetResetPolicy.Error));
        engine.Assign(P0, 500);
        var ex = await Assert.ThrowsAsync<OffsetOutOfRangeException>(() => EngineHarness.ReadAsync(engine, 1));
        Assert.Equal(P0, ex.TopicPartition);
        Assert.Equal(500, ex.Offset);
        engine.Seek(P0, 25);
        var records = await EngineHarness.ReadAsync(engine, 5);
        Assert.Equal(25, records[0].Offset);
    }

    [Fact]
    public async Task An_injected_out_of_range_resets_to_earliest()
    {
        var backend = Backend(partitions: 1);
        await using var engine = new FetchEngine(backend, EngineHarness.Options(OffsetResetPolicy.Earliest));
        backend.InjectError(P0, (short)Kiel.ErrorCode.OffsetOutOfRange);
        engine.Assign(P0, 20);
        var records = await EngineHarness.ReadAsync(engine, 30);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), records.Select(r => r.Offset));
    }

    [Theory]
    [InlineData(true, 1000)]
    [InlineData(false, 3000)]
    public async Task Kiels_split_gives_each_partition_of_a_leader_its_share_of_the_fetch_bytes(bool split, int expected)
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 3, brokers: 1);
        foreach (var tp in new[] { P0, P1, P2 }) backend.Append(tp, TestBatches.V2(0, 5));
        await using var engine = new FetchEngine(backend, EngineHarness.Options() with { MaxPartitionFetchBytes = 3000, SplitPartitionFetchBytesPerLeader = split });
        foreach (var tp in new[] { P0, P1, P2 }) engine.Assign(tp, 0);
        await EngineHarness.ReadAsync(engine, 15);
        // The share counts every partition of the leader, whichever of its fetch lanes asks for it.
        foreach (var tp in new[] { P0, P1, P2 })
            Assert.Equal(expected, backend.Fetches.SelectMany(f => f.Request.Partitions).First(p => p.TopicPartition == tp).MaxBytes);
    }

    [Fact]
    public async Task Each_partition_is_asked_for_its_share_of_the_answer_budget_and_a_withheld_batch_for_its_full_size()
    {
        var backend = new FakeBackend { WithholdOversizedBatches = true };
        backend.CreateTopic("t", 3, brokers: 1);
        // P0 has records for many fetches; P2 (in P0's fetch lane) one batch larger than its share of the budget, so a
        // broker sends it only as an answer's first records, which P0's always are.
        Assert.Equal(PartitionState.LaneOf(P0), PartitionState.LaneOf(P2));
        for (var s = 0; s < 40; s++) backend.Append(P0, TestBatches.V2(s * 5, 5));
        backend.Append(P2, TestBatches.V2(0, 1, valueSize: 900_000));
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        engine.Assign(P0, 0);
        engine.Assign(P2, 0);
        var bigSeen = false;
        using (var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            for (var chunks = 0; chunks < 200 && !bigSeen; chunks++)
            {
                var chunk = await engine.TakeAsync(bound.Token);
                try
                {
                    while (chunk.TryReadNext(out var r)) bigSeen |= r.TopicPartition == P2 && r.Value.Length == 900_000;
                }
                finally
                {
                    engine.Release(chunk);
                }
            }
        }
        Assert.True(bigSeen, "the batch larger than its share was never fetched");
        var share = AnswerBudget.StartBytes / 2;
        var asked = backend.Fetches.SelectMany(f => f.Request.Partitions.Where(p => p.TopicPartition == P2)).ToList();
        // Its share first; once an answer came back without its records, while the broker had them, its full size.
        Assert.Equal(share, asked[0].MaxBytes);
        Assert.Equal(1024 * 1024, asked[1].MaxBytes);
    }

    [Fact]
    public async Task A_record_larger_than_the_partition_limit_grows_the_fetch_size_on_old_versions()
    {
        var backend = new FakeBackend { FetchVersion = 2, TruncateTo = 1024 };
        backend.CreateTopic("t", 1);
        backend.Append(P0, TestBatches.V2(0, 1, valueSize: 5000));
        await using var engine = new FetchEngine(backend, EngineHarness.Options() with { MaxPartitionFetchBytes = 1024 });
        engine.Assign(P0, 0);
        // The fake cuts at TruncateTo whatever the request says; lift the cut once the engine asks for more.
        var grown = Task.Run(async () =>
        {
            await Eventually.Until(() => backend.Fetches.Any(f => f.Request.Partitions.Any(p => p.MaxBytes > 1024)), "a fetch with a larger partition limit");
            backend.TruncateTo = 0;
        });
        var records = await EngineHarness.ReadAsync(engine, 1);
        await grown;
        Assert.Equal(5000, records[0].Value.Length);
    }

    [Fact]
    public async Task Unassign_drops_what_was_fetched_and_seek_moves_the_position()
    {
        var backend = Backend(partitions: 2);
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        engine.Assign(P0, 0);
        engine.Assign(P1, 0);
        // Both partitions have been fetched (their high watermarks come with the records) before the unassign.
        await Eventually.Until(() => engine.HighWatermark(P0) == 30 && engine.HighWatermark(P1) == 30, "both partitions are fetched");
        engine.Unassign(P1);
        engine.Seek(P0, 25);
        var records = await EngineHarness.ReadAsync(engine, 5);
        Assert.All(records, r => Assert.Equal(P0, r.Tp));
        Assert.Equal(Enumerable.Range(25, 5).Select(i => (long)i), records.Select(r => r.Offset));
        Assert.Null(engine.Position(P1));
    }

    [Fact]
    public async Task Paused_partitions_are_not_fetched_until_resumed()
    {
        var backend = new FakeBackend();
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        // Paused before its topic even exists, so that no fetch can race the pause.
        engine.Assign(P0, 0);
        engine.Pause(P0);
        var metadataBefore = backend.MetadataCalls;
        backend.CreateTopic("t", 1);
        backend.Append(P0, TestBatches.V2(0, 10));
        // Once the engine has seen the topic (it finds P0's leader), a paused P0 still is not fetched.
        await Eventually.Until(() => backend.MetadataCalls > metadataBefore, "the engine looks the topic up");
        await Eventually.Holds(() => backend.Fetches.IsEmpty && !engine.TryTake(out _), "a paused partition is not fetched", TimeSpan.FromMilliseconds(300));
        engine.Resume(P0);
        Assert.Equal(10, (await EngineHarness.ReadAsync(engine, 10)).Count);
    }

    [Fact]
    public async Task Start_positions_resolve_through_list_offsets_in_milliseconds()
    {
        var backend = Backend(partitions: 1);
        long askedMs = 0;
        backend.OffsetForTime = (_, ms) =>
        {
            askedMs = ms;
            return 17;
        };
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        await using var engine = new FetchEngine(backend, EngineHarness.Options() with { TimeProvider = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(now) });
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);
        Assert.Equal(17, await engine.ResolveAsync(P0, at, default));
        Assert.Equal(1_700_000_000_123, askedMs);
        // "An hour ago" is an hour before the options' clock.
        Assert.Equal(17, await engine.ResolveAsync(P0, TimeSpan.FromHours(1), default));
        Assert.Equal(now.ToUnixTimeMilliseconds() - 3_600_000, askedMs);
        Assert.Equal(0, await engine.ResolveAsync(P0, StartPosition.Beginning, default));
        Assert.Equal(30, await engine.ResolveAsync(P0, StartPosition.End, default));
        Assert.Equal(4, await engine.ResolveAsync(P0, StartPosition.AtOffset(4), default));
    }

    [Fact]
    public async Task A_time_with_no_record_starts_at_the_end()
    {
        var backend = Backend(partitions: 1); // OffsetForTime answers -1, as the mock does
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        Assert.Equal(30, await engine.ResolveAsync(P0, TimeSpan.FromMinutes(5), default));
    }

    [Fact]
    public async Task An_unknown_topic_is_waited_for_then_reported()
    {
        var backend = new FakeBackend();
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        var ex = await Assert.ThrowsAsync<UnknownTopicException>(async () => await engine.GetTopicPartitionsAsync("nope", default));
        Assert.Contains("nope", ex.Message);
        Assert.True(backend.MetadataCalls > 1);
        var before = backend.MetadataCalls;
        var late = engine.GetTopicPartitionsAsync("late", default).AsTask();
        await Eventually.Until(() => backend.MetadataCalls > before, "the engine asks for the topic before it exists");
        backend.CreateTopic("late", 2);
        Assert.Equal(2, (await late).Count);
    }

    [Fact]
    public async Task The_prefetch_buffer_is_bounded()
    {
        var backend = Backend(partitions: 1, setsPerPartition: 20);
        await using var engine = new FetchEngine(backend, EngineHarness.Options() with { MaxPrefetchBytes = 1 });
        engine.Assign(P0, 0);
        await Eventually.Until(() => !backend.Fetches.IsEmpty, "the first fetch");
        await Eventually.Holds(() => backend.Fetches.Count == 1, "no second fetch while the buffer is full", TimeSpan.FromMilliseconds(200));
        var records = await EngineHarness.ReadAsync(engine, 200);
        Assert.Equal(200, records.Count);
    }

    [Fact]
    public async Task Read_committed_drops_transactions_the_broker_lists_as_aborted()
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1);
        backend.Append(P0, TestBatches.V2(0, 3, producerId: 9, transactional: true, prefix: "bad"));
        backend.Append(P0, TestBatches.Marker(3, 9, Kiel.Protocol.Records.ControlRecordType.Abort));
        backend.Append(P0, TestBatches.V2(4, 2, producerId: 9, transactional: true, prefix: "good"));
        backend.Append(P0, TestBatches.Marker(6, 9, Kiel.Protocol.Records.ControlRecordType.Commit));
        backend.Append(P0, TestBatches.V2(7, 1, prefix: "plain"));
        backend.Aborted[P0] = [new AbortedTransaction(9, 0)];
        await using var engine = new FetchEngine(backend, EngineHarness.Options(isolation: IsolationLevel.ReadCommitted));
        engine.Assign(P0, 0);
        var records = await EngineHarness.ReadAsync(engine, 3);
        Assert.Equal(["good4", "good5", "plain7"], records.Select(r => r.Value));
    }

    [Fact]
    public async Task Corrupt_framing_is_reported_for_its_partition_and_the_others_go_on()
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 2, brokers: 1);
        var corrupt = new byte[22];
        corrupt[11] = 10; // batch length 10: too short for a magic-2 header
        corrupt[16] = 2;
        backend.Append(P0, corrupt);
        backend.Append(P1, TestBatches.V2(0, 5));
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        engine.Assign(P0, 0);
        engine.Assign(P1, 0);
        var errors = 0;
        var records = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (errors == 0 || records < 5)
        {
            var chunk = await engine.TakeAsync(cts.Token);
            if (chunk.Error is Kiel.KafkaProtocolException) errors++;
            else while (chunk.TryReadNext(out _)) records++;
            engine.Release(chunk);
        }
        Assert.Equal(1, errors);
        Assert.Equal(5, records);
    }

    [Fact]
    public async Task Resolving_many_partitions_asks_each_leader_once_and_falls_back_to_the_end_per_partition()
    {
        var backend = Backend(partitions: 3);
        backend.OffsetForTime = (tp, _) => tp.Partition == 0 ? 17 : -1;
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        var offsets = await engine.ResolveManyAsync([P0, P1, P2], TimeSpan.FromMinutes(1), default);
        Assert.Equal(17, offsets[P0]);
        Assert.Equal(30, offsets[P1]);
        Assert.Equal(30, offsets[P2]);
        var beginning = await engine.ResolveManyAsync([P0, P1, P2], StartPosition.Beginning, default);
        Assert.All(beginning.Values, o => Assert.Equal(0, o));
    }

    [Fact]
    public async Task Consumed_records_are_counted_on_the_Kiel_meter()
    {
        var backend = new FakeBackend();
        backend.CreateTopic("metered", 1);
        backend.Append(new TopicPartition("metered", 0), TestBatches.V2(0, 12));
        long consumed = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Kiel" && instrument.Name == "messaging.client.consumed.messages") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "messaging.destination.name" && (string?)tag.Value == "metered") Interlocked.Add(ref consumed, value);
        });
        listener.Start();
        await using var engine = new FetchEngine(backend, EngineHarness.Options());
        engine.Assign(new TopicPartition("metered", 0), 0);
        Assert.Equal(12, (await EngineHarness.ReadAsync(engine, 12)).Count);
        Assert.Equal(12, Interlocked.Read(ref consumed));
    }

    [Fact]
    public async Task A_closing_engine_logs_what_each_partition_and_source_was_doing()
    {
        var backend = Backend(partitions: 2, setsPerPartition: 1);
        var logs = new ListLoggerFactory();
        var engine = new FetchEngine(backend, EngineHarness.Options() with { LoggerFactory = logs });
        engine.Assign(P0, 0);
        engine.Assign(P1, 0);
        Assert.Equal(20, (await EngineHarness.ReadAsync(engine, 20)).Count);
        engine.Pause(P1);
        await engine.DisposeAsync();

        var state = Assert.Single(logs.Entries, e => e.EventId == Kiel.Diagnostics.LogEvents.ConsumerFetchState);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, state.Level);
        Assert.StartsWith("Fetch engine closing with 2 partition(s) assigned: ", state.Message);
        // Each partition's positions and leader, and what holds it back; each broker's loop; the prefetch bound.
        Assert.Matches(@"t:0 fetch 10 consumed 10 high 10 leader 1 epoch 0( in-flight)?; ", state.Message);
        Assert.Matches(@"t:1 fetch 10 consumed 10 high 10 leader 2 epoch 0 paused( in-flight)?; ", state.Message);
        Assert.Matches(@"broker 1 lane \d: (Idle|Fetching|Pausing) for \d+ ms; broker 2 lane \d: (Idle|Fetching|Pausing) for \d+ ms; ", state.Message);
        Assert.EndsWith("buffered 0 of 67108864 bytes; metadata loop running", state.Message);
    }

    [Theory]
    [InlineData("Build", "running; the loop starts again in ")]
    [InlineData("HandOut", "checking and handing out fetched records")]
    public async Task A_fault_the_fetch_loop_does_not_expect_is_logged_and_its_partitions_are_fetched_on(string where, string stage)
    {
        var point = Enum.Parse<FetchEngine.FaultPoint>(where);
        var backend = Backend(partitions: 2, setsPerPartition: 3);
        var logs = new ListLoggerFactory();
        await using var engine = new FetchEngine(backend, EngineHarness.Options() with { LoggerFactory = logs });
        var faults = 0;
        // Once, at the given point: before, a fault there ended the broker's loop and left its partitions in flight for good.
        engine.FaultForTests = at =>
        {
            if (at == point && Interlocked.Exchange(ref faults, 1) == 0) throw new InvalidOperationException("injected fault");
        };
        engine.Assign(P0, 0);
        engine.Assign(P1, 0);
        var records = await EngineHarness.ReadAsync(engine, 60);
        Assert.Equal(1, Volatile.Read(ref faults));
        Assert.Equal(60, records.Count);
        AssertInOrderOnce(records, 2, 0, 30);
        var fault = Assert.Single(logs.Entries, e => e.EventId == Kiel.Diagnostics.LogEvents.ConsumerFetchLoopFault);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, fault.Level);
        Assert.Contains(stage, fault.Message);
    }
}
