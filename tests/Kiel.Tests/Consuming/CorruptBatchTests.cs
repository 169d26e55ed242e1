using System.Buffers.Binary;
using System.Text;
using Kiel.Consuming;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Consuming;

/// <summary>
/// A fetched batch whose CRC does not match its bytes is refused by every consumer API with a
/// <see cref="CorruptRecordException"/> naming the partition, the batch and both CRCs; the good batches before it are
/// handed out, none of its records is, and <see cref="KielConsumerOptions.CheckCrcs"/> = false reads it.
/// </summary>
public class CorruptBatchTests
{
    private static readonly TopicPartition P0 = new("t", 0);

    /// <summary>Offsets 0-2 good, 3-5 a batch with one flipped value byte (its stored CRC kept), 6-7 good.</summary>
    private static (FakeBackend Backend, uint Stored, uint Actual) Backend(CompressionType codec = CompressionType.None)
    {
        var bad = TestBatches.V2(3, 3, codec);
        var stored = BinaryPrimitives.ReadUInt32BigEndian(bad.AsSpan(RecordBatchHeader.CrcOffset));
        bad[^1] ^= 0x01; // the last header value of the last record
        var actual = Crc32C.Compute(bad.AsSpan(RecordBatchHeader.AttributesOffset));
        Assert.NotEqual(stored, actual);
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1, brokers: 1);
        backend.Append(P0, TestBatches.Concat(TestBatches.V2(0, 3, codec), bad, TestBatches.V2(6, 2, codec)));
        return (backend, stored, actual);
    }

    private static void AssertNames(CorruptRecordException ex, uint stored, uint actual)
    {
        Assert.Equal(("t", 0, 3L, stored, actual), (ex.Topic, ex.Partition, ex.BaseOffset, ex.ExpectedCrc, ex.ActualCrc));
        Assert.Contains("t[0]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("offset 3", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"0x{stored:X8}", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"0x{actual:X8}", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Snappy)]
    public async Task KielConsumer_records_stream_hands_out_the_good_batch_then_refuses_the_corrupt_one(CompressionType codec)
    {
        var (backend, stored, actual) = Backend(codec);
        await using var consumer = new KielConsumer<string?, string?>(EngineHarness.Options(), backend, Deserializers.Utf8, Deserializers.Utf8);
        await consumer.AssignAsync(P0, StartPosition.Beginning);
        var read = new List<long>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var ex = await Assert.ThrowsAsync<CorruptRecordException>(async () =>
        {
            await foreach (var r in consumer.ConsumeAsync(cts.Token)) read.Add(r.Offset);
        });
        AssertNames(ex, stored, actual);
        Assert.Equal([0L, 1, 2], read);
        Assert.Equal(3, await consumer.PositionAsync(P0));
    }

    [Fact]
    public async Task KielConsumer_raw_batches_refuse_the_corrupt_one()
    {
        var (backend, stored, actual) = Backend();
        await using var consumer = new KielConsumer<string?, string?>(EngineHarness.Options(), backend, Deserializers.Utf8, Deserializers.Utf8);
        await consumer.AssignAsync(P0, StartPosition.Beginning);
        var read = new List<long>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var ex = await Assert.ThrowsAsync<CorruptRecordException>(async () =>
        {
            await foreach (var batch in consumer.ConsumeBatchesAsync(cts.Token))
                using (batch)
                    while (batch.TryReadNext(out var r)) read.Add(r.Offset);
        });
        AssertNames(ex, stored, actual);
        Assert.Equal([0L, 1, 2], read);
    }

    [Fact]
    public async Task SingleConsumer_refuses_the_corrupt_batch()
    {
        var (backend, stored, actual) = Backend();
        await using var consumer = new SingleConsumer<string?>(EngineHarness.Options(), backend, Deserializers.Utf8);
        var values = new List<string?>();
        var ex = await Assert.ThrowsAsync<CorruptRecordException>(async () =>
        {
            for (var i = 0; i < 100; i++) values.AddRange(await consumer.ConsumeAsync("t", StartPosition.Beginning));
        });
        AssertNames(ex, stored, actual);
        Assert.Equal(["v0", "v1", "v2"], values);
    }

    [Fact]
    public async Task With_CheckCrcs_off_the_damaged_records_are_read()
    {
        var (backend, _, _) = Backend();
        await using var consumer = new KielConsumer<string?, string?>(EngineHarness.Options() with { CheckCrcs = false }, backend, Deserializers.Utf8, Deserializers.Utf8);
        await consumer.AssignAsync(P0, StartPosition.Beginning);
        var read = new List<long>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var r in consumer.ConsumeAsync(cts.Token))
        {
            read.Add(r.Offset);
            if (read.Count == 8) break;
        }
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), read);
    }

    [Fact]
    public void The_options_validate_the_decompression_cap_and_share_one_default()
    {
        var options = EngineHarness.Options();
        Assert.True(options.CheckCrcs);
        Assert.Equal(CompressionCodec.DefaultMaxDecompressedBytes, options.MaxDecompressedBatchBytes);
        Assert.Equal(CompressionCodec.DefaultMaxDecompressedBytes, RecordReaderOptions.Default.MaxDecompressedBytes);
        Assert.Equal(64 * 1024 * 1024, CompressionCodec.DefaultMaxDecompressedBytes);
        var ex = Assert.Throws<ArgumentException>(() => (options with { MaxDecompressedBatchBytes = 0 }).Validate());
        Assert.Contains("MaxDecompressedBatchBytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_consumer_enforces_its_decompression_cap()
    {
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1, brokers: 1);
        backend.Append(P0, TestBatches.V2(0, 4, CompressionType.Gzip, valueSize: 4096));
        await using var consumer = new KielConsumer<string?, string?>(EngineHarness.Options() with { MaxDecompressedBatchBytes = 8192 }, backend, Deserializers.Utf8, Deserializers.Utf8);
        await consumer.AssignAsync(P0, StartPosition.Beginning);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var ex = await Assert.ThrowsAsync<Kiel.KafkaProtocolException>(async () =>
        {
            await foreach (var r in consumer.ConsumeAsync(cts.Token)) GC.KeepAlive(r);
        });
        Assert.Contains("8192", ex.Message, StringComparison.Ordinal);
    }
}
