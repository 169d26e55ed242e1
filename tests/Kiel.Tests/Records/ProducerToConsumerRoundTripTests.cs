using System.Buffers.Binary;
using System.Text;
using Kiel.Consuming;
using Kiel.Producing.Internal;
using Kiel.Protocol;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Records;

/// <summary>
/// What the producer's encoder writes, the consumer's parser reads back unchanged: every codec in record batches and
/// legacy message sets, and batches re-stamped in place for a retry.
/// </summary>
public class ProducerToConsumerRoundTripTests
{
    private const long T0 = 1_700_000_000_000;

    private static RecordArena Arena(int count)
    {
        var arena = new RecordArena(1024);
        for (var i = 0; i < count; i++)
        {
            var key = Key(i) is { } k ? Encoding.UTF8.GetBytes(k) : null;
            var value = Value(i) is { } v ? Encoding.UTF8.GetBytes(v) : null;
            var headers = new Headers();
            for (var h = 0; h < i % 3; h++) headers.Add($"h{h}", h == 1 ? null : "hv"u8.ToArray());
            // Timestamps go back as well as forth (-7 ms every fourth record): deltas from the first record are signed.
            BatchEncoder.AppendRecord(arena, i, Timestamp(i), key, key is null, value, value is null, headers.Count == 0 ? null : headers);
        }
        return arena;
    }

    private static long Timestamp(int i) => T0 + i * 7 - (i % 4 == 3 ? 14 : 0);

    private static string? Key(int i) => i % 4 == 1 ? null : $"key-{i}";

    private static string? Value(int i) => i % 5 == 2 ? null : string.Concat(Enumerable.Repeat($"value-{i}-", 1 + i % 9));

    public static TheoryData<byte, CompressionType> Formats()
    {
        var data = new TheoryData<byte, CompressionType>();
        foreach (var codec in Enum.GetValues<CompressionType>()) data.Add(2, codec);
        foreach (var magic in new byte[] { 0, 1 })
            foreach (var codec in new[] { CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4 })
                data.Add(magic, codec);
        return data;
    }

    private static byte[] Encode(byte magic, CompressionType codec, int count, ProducerIdentity producer, int baseSequence = 0)
    {
        using var arena = Arena(count);
        using var output = new RecordArena(256);
        using var scratch = new RecordArena(256);
        if (magic == 2 && codec == CompressionType.None)
        {
            // Sent from the batch's own buffer once its header is filled in.
            BatchEncoder.FinishInPlace(arena.MutableSpan, count, producer, baseSequence);
            return arena.Span.ToArray();
        }
        if (magic == 2) BatchEncoder.EncodeCompressedV2(arena.Span, count, codec, null, producer, baseSequence, output);
        else BatchEncoder.EncodeLegacy(arena.Span, count, magic, codec, null, output, scratch);
        return output.Span.ToArray();
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void WhatTheProducerWritesTheConsumerReads(byte magic, CompressionType codec)
    {
        const int count = 23;
        var set = Encode(magic, codec, count, ProducerIdentity.None);
        Assert.Equal(magic, set[RecordBatchHeader.MagicOffset]);
        Assert.Equal((int)codec, set[magic == 2 ? RecordBatchHeader.AttributesOffset + 1 : RecordBatchHeader.LegacyAttributesOffset] & RecordBatchHeader.CompressionMask);

        if (magic == 2)
        {
            var header = RecordBatchHeader.Read(set);
            Assert.Equal((Timestamp(0), Enumerable.Range(0, count).Max(Timestamp), count - 1, count),
                (header.BaseTimestamp, header.MaxTimestamp, header.LastOffsetDelta, header.RecordCount));
        }

        var records = ConsumerPath.Read(set);
        Assert.Equal(Enumerable.Range(0, count).Select(i => (long)i), records.Select(r => r.Offset));
        Assert.Equal(Enumerable.Range(0, count).Select(Key), records.Select(r => r.Key is null ? null : Encoding.UTF8.GetString(r.Key)));
        Assert.Equal(Enumerable.Range(0, count).Select(Value), records.Select(r => r.Value is null ? null : Encoding.UTF8.GetString(r.Value)));
        Assert.Equal(Enumerable.Range(0, count).Select(i => magic == 0 ? -1 : Timestamp(i)), records.Select(r => r.Timestamp));
        Assert.Equal(Enumerable.Range(0, count).Select(i => magic == 2 ? i % 3 : 0), records.Select(r => r.Headers));

        // The same bytes through the span reader, headers and all.
        using var reader = new RecordSetReader(set, options: new RecordReaderOptions { AllowTruncatedTail = false });
        var i = 0;
        while (reader.MoveNext())
        {
            var headers = new List<(string, string?)>();
            foreach (var h in reader.Current.Headers) headers.Add((h.KeyString, h.IsValueNull ? null : Encoding.UTF8.GetString(h.Value)));
            Assert.Equal(magic == 2 ? Enumerable.Range(0, i % 3).Select(h => ($"h{h}", h == 1 ? null : "hv")) : [], headers);
            i++;
        }
        Assert.Equal(count, i);
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Zstd)]
    public void AReStampedBatchKeepsAValidCrcAndItsRecords(CompressionType codec)
    {
        var batch = Encode(2, codec, 5, new ProducerIdentity(42, 3), baseSequence: 10);
        var header = RecordBatchHeader.Read(batch);
        Assert.Equal((42L, (short)3, 10), (header.ProducerId, header.ProducerEpoch, header.BaseSequence));
        Assert.Equal(Crc32C.Compute(batch.AsSpan(RecordBatchHeader.AttributesOffset)), header.Crc);

        // An epoch bump re-sequences the batch in place (KIP-360): the CRC follows.
        BatchEncoder.Stamp(batch, new ProducerIdentity(42, 4), 0);
        header = RecordBatchHeader.Read(batch);
        Assert.Equal((42L, (short)4, 0), (header.ProducerId, header.ProducerEpoch, header.BaseSequence));
        Assert.Equal(5, ConsumerPath.Read(batch).Count);

        // Without a producer id the sequence is -1, whatever was asked.
        BatchEncoder.Stamp(batch, ProducerIdentity.None, 7);
        header = RecordBatchHeader.Read(batch);
        Assert.Equal((-1L, (short)-1, -1), (header.ProducerId, header.ProducerEpoch, header.BaseSequence));
        Assert.Equal(5, ConsumerPath.Read(batch).Count);
    }

    [Theory]
    [InlineData(2, CompressionType.Gzip)]
    [InlineData(2, CompressionType.Zstd)]
    [InlineData(1, CompressionType.Lz4)]
    public void TheDecompressionCapRefusesALargerBatch(byte magic, CompressionType codec)
    {
        var set = Encode(magic, codec, 200, ProducerIdentity.None);
        Assert.Equal(200, ConsumerPath.Read(set, maxDecompressedBytes: 1 << 20).Count);
        var ex = Assert.Throws<KafkaProtocolException>(() => ConsumerPath.Read(set, maxDecompressedBytes: 1024));
        Assert.Contains("1024", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFlippedByteInAProducedBatchIsACorruptRecord()
    {
        var batch = Encode(2, CompressionType.None, 3, ProducerIdentity.None);
        var stored = BinaryPrimitives.ReadUInt32BigEndian(batch.AsSpan(RecordBatchHeader.CrcOffset));
        batch[^2] ^= 0x20; // inside the last record's value
        var ex = Assert.Throws<CorruptRecordException>(() => ConsumerPath.Read(batch));
        Assert.Equal(stored, ex.ExpectedCrc);
        Assert.NotEqual(stored, ex.ActualCrc);
        Assert.Equal(3, ConsumerPath.Read(batch, checkCrcs: false).Count);
    }
}
