using System.Text;
using Kiel.Consuming;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Consuming;

/// <summary>
/// One Fetch response carrying interleaved transactions (aborted and committed, compressed or not), control records and
/// plain records goes through the production fetch path (fetch engine, scan, fetched chunk, <see cref="KielConsumer{TKey, TValue}"/>):
/// read_committed hands out exactly the committed and non-transactional records, read_uncommitted every data record,
/// and neither ever a control record.
/// </summary>
public class ReadCommittedFetchPathTests
{
    private static readonly TopicPartition P0 = new("t", 0);

    private static FakeBackend Backend()
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1, brokers: 1);
        // One stored set, so one Fetch response holds all of it.
        backend.Append(P0, TestBatches.Concat(
            TestBatches.V2(0, 3, CompressionType.Gzip, prefix: "aborted", producerId: 7, transactional: true),
            TestBatches.V2(3, 2, prefix: "committed", producerId: 8, transactional: true),
            TestBatches.V2(5, 1, prefix: "plain"),
            TestBatches.V2(6, 2, CompressionType.Zstd, prefix: "aborted", producerId: 7, transactional: true),
            TestBatches.Marker(8, 7, ControlRecordType.Abort),
            TestBatches.Marker(9, 8, ControlRecordType.Commit),
            TestBatches.V2(10, 2, CompressionType.Lz4, prefix: "committed", producerId: 7, transactional: true),
            TestBatches.Marker(12, 7, ControlRecordType.Commit),
            TestBatches.V2(13, 1, prefix: "plain")));
        backend.Aborted[P0] = [new AbortedTransaction(7, 0)];
        return backend;
    }

    private static async Task<List<(long Offset, string Value)>> ReadAsync(IsolationLevel isolation, int expected)
    {
        var backend = Backend();
        await using var consumer = new KielConsumer<string?, string?>(EngineHarness.Options(isolation: isolation), backend, Deserializers.Utf8, Deserializers.Utf8);
        await consumer.AssignAsync(P0, StartPosition.Beginning);
        var read = new List<(long, string)>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var r in consumer.ConsumeAsync(cts.Token))
        {
            read.Add((r.Offset, r.Value!));
            if (read.Count == expected) break;
        }
        // Everything was in the one response: the position is past the last marker and nothing else is waiting.
        Assert.Equal(14, await consumer.PositionAsync(P0));
        Assert.Single(backend.Fetches, f => f.Request.Partitions.Any(p => p.FetchOffset == 0));
        return read;
    }

    [Fact]
    public async Task Read_committed_skips_exactly_the_aborted_records_and_every_control_record()
    {
        var read = await ReadAsync(IsolationLevel.ReadCommitted, 6);
        Assert.Equal([(3L, "committed3"), (4, "committed4"), (5, "plain5"), (10, "committed10"), (11, "committed11"), (13, "plain13")], read);
    }

    [Fact]
    public async Task Read_uncommitted_returns_every_data_record_and_no_control_record()
    {
        var read = await ReadAsync(IsolationLevel.ReadUncommitted, 11);
        Assert.Equal([0L, 1, 2, 3, 4, 5, 6, 7, 10, 11, 13], read.Select(r => r.Offset));
        Assert.Equal(["aborted0", "aborted1", "aborted2", "committed3", "committed4", "plain5", "aborted6", "aborted7", "committed10", "committed11", "plain13"],
            read.Select(r => r.Value));
    }
}
