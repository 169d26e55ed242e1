using System.Text;
using Kiel.Consuming;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Consuming;

public class FetchedChunkTests
{
    private static readonly TopicPartition Tp = new("t", 0);

    private static List<(long Offset, string Key, string Value, long Ts, int Headers)> Read(byte[] data, long fetchOffset,
        IReadOnlyList<AbortedTransaction>? aborted = null, bool readCommitted = false)
    {
        var state = new PartitionState(Tp, fetchOffset, 1 << 20);
        var scan = RecordSetScanner.Scan(data, fetchOffset, verifyCrc: true);
        Assert.Null(scan.Error);
        var next = scan.NextOffset;
        using var chunk = new FetchedChunk(state, state.Version, null, data, fetchOffset, next, aborted, readCommitted);
        var list = new List<(long, string, string, long, int)>();
        while (chunk.TryReadNext(out var r))
            list.Add((r.Offset, Encoding.UTF8.GetString(r.Key), Encoding.UTF8.GetString(r.Value), r.TimestampMs, r.HeaderCount));
        Assert.Equal(next, state.ConsumedPosition);
        return list;
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Reads_v2_batches_with_every_codec(CompressionType codec)
    {
        var data = TestBatches.Concat(TestBatches.V2(10, 3, codec), TestBatches.V2(13, 2, codec));
        var records = Read(data, 10);
        Assert.Equal([10L, 11, 12, 13, 14], records.Select(r => r.Offset));
        Assert.Equal("k12", records[2].Key);
        Assert.Equal("v12", records[2].Value);
        Assert.Equal(1_700_000_000_002, records[2].Ts);
        Assert.All(records, r => Assert.Equal(1, r.Headers));
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Zstd)]
    public void Skips_records_below_the_requested_offset_inside_a_batch(CompressionType codec)
    {
        var data = TestBatches.V2(100, 10, codec);
        var records = Read(data, 105);
        Assert.Equal([105L, 106, 107, 108, 109], records.Select(r => r.Offset));
    }

    [Fact]
    public void Skips_whole_batches_below_the_requested_offset()
    {
        var data = TestBatches.Concat(TestBatches.V2(0, 5), TestBatches.V2(5, 5));
        Assert.Equal([7L, 8, 9], Read(data, 7).Select(r => r.Offset));
    }

    [Fact]
    public void Headers_are_copied()
    {
        var data = TestBatches.V2(0, 1);
        var state = new PartitionState(Tp, 0, 1 << 20);
        using var chunk = new FetchedChunk(state, 0, null, data, 0, 1, null, false);
        Assert.True(chunk.TryReadNext(out var r));
        var headers = r.CopyHeaders();
        Assert.Equal("h", Assert.Single(headers).Key);
        Assert.Equal("x0", headers[0].ValueAsString());
        var count = 0;
        foreach (var h in r.Headers)
        {
            Assert.Equal("h"u8, h.Key);
            Assert.Equal("x0"u8, h.Value);
            Assert.False(h.ValueIsNull);
            count++;
        }
        Assert.Equal(1, count);
    }

    [Fact]
    public void Control_batches_are_skipped_and_still_move_the_position()
    {
        var data = TestBatches.Concat(TestBatches.V2(0, 2, producerId: 7, transactional: true), TestBatches.Marker(2, 7, ControlRecordType.Commit));
        var records = Read(data, 0);
        Assert.Equal([0L, 1], records.Select(r => r.Offset));
    }

    [Fact]
    public void Read_committed_drops_aborted_transactions_only()
    {
        var data = TestBatches.Concat(
            TestBatches.V2(0, 2, producerId: 7, transactional: true, prefix: "aborted"),
            TestBatches.V2(2, 1, producerId: 8, transactional: true, prefix: "committed"),
            TestBatches.Marker(3, 7, ControlRecordType.Abort),
            TestBatches.Marker(4, 8, ControlRecordType.Commit),
            TestBatches.V2(5, 1, producerId: 7, transactional: true, prefix: "later"),
            TestBatches.Marker(6, 7, ControlRecordType.Commit),
            TestBatches.V2(7, 1, prefix: "plain"));
        AbortedTransaction[] aborted = [new(7, 0)];
        var committed = Read(data, 0, aborted, readCommitted: true);
        Assert.Equal(["committed2", "later5", "plain7"], committed.Select(r => r.Value));
        var all = Read(data, 0, aborted, readCommitted: false);
        Assert.Equal(5, all.Count);
    }

    [Theory]
    [InlineData((byte)0, CompressionType.None)]
    [InlineData((byte)1, CompressionType.None)]
    [InlineData((byte)0, CompressionType.Gzip)]
    [InlineData((byte)1, CompressionType.Gzip)]
    [InlineData((byte)1, CompressionType.Snappy)]
    [InlineData((byte)1, CompressionType.Lz4)]
    public void Reads_legacy_message_sets(byte magic, CompressionType codec)
    {
        var data = TestBatches.Concat(TestBatches.Legacy(magic, 20, 3, codec), TestBatches.Legacy(magic, 23, 2, codec));
        var records = Read(data, 21);
        Assert.Equal([21L, 22, 23, 24], records.Select(r => r.Offset));
        Assert.Equal("v22", records[1].Value);
        Assert.Equal(magic == 0 ? -1 : 1_600_000_000_001, records[0].Ts);
    }

    [Fact]
    public void A_partial_trailing_batch_is_ignored()
    {
        var full = TestBatches.Concat(TestBatches.V2(0, 2), TestBatches.V2(2, 2));
        var cut = full[..(full.Length - 5)];
        var scan = RecordSetScanner.Scan(cut, 0, verifyCrc: true);
        Assert.Equal((1, 2L), (scan.Entries, scan.NextOffset));
        Assert.Equal([0L, 1], Read(cut, 0).Select(r => r.Offset));
    }

    [Fact]
    public void A_hostile_record_length_is_rejected()
    {
        var data = TestBatches.V2(0, 1);
        data[61] = 0x7E; // record length varint: 63, far beyond the batch
        var state = new PartitionState(Tp, 0, 1 << 20);
        using var chunk = new FetchedChunk(state, 0, null, data, 0, 1, null, false);
        Assert.Throws<Kiel.KafkaProtocolException>(() => chunk.TryReadNext(out _));
    }

    [Fact]
    public void A_null_header_value_stays_null()
    {
        using var builder = new RecordBatchBuilder();
        builder.Append(1, "k"u8, "v"u8, [new Kiel.RecordHeader("none", (byte[]?)null), new Kiel.RecordHeader("empty", Array.Empty<byte>())]);
        var data = builder.Seal().ToArray();
        var state = new PartitionState(Tp, 0, 1 << 20);
        using var chunk = new FetchedChunk(state, 0, null, data, 0, 1, null, false);
        Assert.True(chunk.TryReadNext(out var r));
        var headers = r.CopyHeaders();
        Assert.Null(headers[0].Value);
        Assert.NotNull(headers[1].Value);
        Assert.Equal(0, headers[1].Value!.Value.Length);
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Zstd)]
    [InlineData(CompressionType.None)]
    public void A_chunk_disposed_part_way_through_leaves_nothing_behind_for_the_chunks_after_it(CompressionType codec)
    {
        // Chunks reuse the record-set cursors of disposed chunks: one disposed with a (compressed) batch open, a higher
        // starting offset and another topic must not leak its position, batch, offset floor or names into the next.
        var state = new PartitionState(new TopicPartition("other", 3), 100, 1 << 20);
        var earlier = TestBatches.V2(100, 10, codec, prefix: "old");
        var data = TestBatches.Concat(TestBatches.V2(0, 5), TestBatches.V2(5, 2, CompressionType.Gzip));
        for (var round = 0; round < 20; round++)
        {
            var stale = new FetchedChunk(state, state.Version, null, earlier, 104, 110, null, false, checkCrcs: false, maxDecompressedBytes: 1 << 20);
            Assert.True(stale.TryReadNext(out var first));
            Assert.Equal(104, first.Offset);
            Assert.True(stale.TryReadNext(out _));
            stale.Dispose();
            Assert.False(stale.TryReadNext(out _));

            var records = Read(data, 0);
            Assert.Equal([0L, 1, 2, 3, 4, 5, 6], records.Select(r => r.Offset));
            Assert.Equal(["v0", "v1", "v2", "v3", "v4", "v5", "v6"], records.Select(r => r.Value));
        }
    }
}
