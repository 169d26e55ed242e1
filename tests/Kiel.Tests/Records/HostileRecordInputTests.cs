using System.Buffers.Binary;
using Kiel.Protocol;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Records;
using static Kiel.Tests.Records.RecordTestKit;

namespace Kiel.Tests.Records;

/// <summary>
/// Malformed record sets end in a <see cref="KafkaProtocolException"/> or a valid decode: never another exception, a
/// hang or an allocation in proportion to a claimed length.
/// </summary>
public class HostileRecordInputTests
{
    private static readonly RecordReaderOptions Strict = new() { AllowTruncatedTail = false };
    private static readonly RecordReaderOptions NoCrc = new() { VerifyCrc = false };

    private static List<byte[]> Corpus()
    {
        var corpus = new List<byte[]>();
        for (var seed = 0; seed < 6; seed++)
        {
            var records = RandomRecords(seed, maxCount: 6, maxValue: 60);
            foreach (var codec in AllCodecs) corpus.Add(BuildBatch(records, codec));
            foreach (var codec in new[] { CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4 })
            {
                corpus.Add(BuildLegacy(0, records, codec));
                corpus.Add(BuildLegacy(1, records, codec));
            }
        }
        return corpus;
    }

    /// <summary>Decodes everything and touches every header, so lazily parsed parts are exercised too.</summary>
    private static void Decode(ReadOnlySpan<byte> set, RecordReaderOptions options)
    {
        using var reader = new RecordSetReader(set, long.MinValue, options with { IncludeControlRecords = true, MaxDecompressedBytes = 1 << 20 });
        var n = 0;
        while (reader.MoveNext())
        {
            foreach (var h in reader.Current.Headers) n += h.Key.Length + h.Value.Length;
            n += reader.Current.Key.Length + reader.Current.Value.Length;
        }
        GC.KeepAlive(n);
    }

    private static void OnlyProtocolErrors(ReadOnlySpan<byte> set, RecordReaderOptions options)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            Decode(set, options);
        }
        catch (KielException ex) when (ex is KafkaProtocolException or CorruptRecordException)
        {
        }
        // The consumer's path (scan, then the fetched chunk) refuses the same bytes the same way.
        try
        {
            ConsumerPath.Read(set, long.MinValue, options.VerifyCrc);
        }
        catch (KielException ex) when (ex is KafkaProtocolException or CorruptRecordException)
        {
        }
        // Decode caps decompression at 1 MiB; growing the pooled buffer to that costs at most about twice as much.
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 3 << 20, $"{allocated} bytes allocated decoding {set.Length} hostile bytes");
    }

    [Fact]
    public void TruncationAtEveryByteIsAProtocolErrorWhenStrictAndQuietOtherwise()
    {
        foreach (var batch in Corpus())
        {
            Decode(batch, Strict);
            var whole = ReadAll(batch);
            var entries = EntryEnds(batch);
            for (var cut = 0; cut < batch.Length; cut++)
            {
                // Cut at the record-set level the incomplete tail is dropped and the complete entries before it are read.
                var read = ReadAll(batch.AsSpan(0, cut));
                Assert.Equal(whole.Take(read.Count), read);
                if (!entries.Contains(cut)) Assert.Throws<KafkaProtocolException>(() => Decode(batch.AsSpan(0, cut), Strict));
            }
        }
    }

    private static HashSet<int> EntryEnds(byte[] set)
    {
        var ends = new HashSet<int> { 0 };
        for (var p = 0; p < set.Length;)
        {
            p += 12 + BinaryPrimitives.ReadInt32BigEndian(set.AsSpan(p + 8));
            ends.Add(p);
        }
        return ends;
    }

    [Fact]
    public void TruncatedInnerBytesWithAFixedUpLengthAreProtocolErrors()
    {
        // Shorten the batch and repair BatchLength (and the CRC) so the cut is inside a structure, not at the set's end.
        foreach (var batch in Corpus())
        {
            for (var cut = 26; cut < batch.Length; cut++)
            {
                var b = batch.AsSpan(0, cut).ToArray();
                BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), cut - 12);
                OnlyProtocolErrors(b, NoCrc);
            }
        }
    }

    [Fact]
    public void ThousandsOfRandomMutationsEndInAProtocolErrorOrAValidDecode()
    {
        var random = new Random(1234);
        var corpus = Corpus();
        for (var i = 0; i < 6000; i++)
        {
            var b = corpus[random.Next(corpus.Count)].ToArray();
            var flips = random.Next(1, 4);
            for (var f = 0; f < flips; f++)
            {
                var at = random.Next(b.Length);
                switch (random.Next(3))
                {
                    case 0: b[at] ^= (byte)(1 << random.Next(8)); break;
                    case 1: b[at] = (byte)random.Next(256); break;
                    default: b[at] = random.Next(2) == 0 ? (byte)0xFF : (byte)0x7F; break;
                }
            }
            // Half with the CRC off, so the mutation reaches the record and codec parsers instead of the checksum.
            OnlyProtocolErrors(b, i % 2 == 0 ? NoCrc : RecordReaderOptions.Default);
        }
    }

    [Fact]
    public void BadCrcNamesTheField()
    {
        var batch = BuildBatch(RandomRecords(1));
        batch[^1] ^= 1;
        var ex = Assert.Throws<CorruptRecordException>(() => ReadAll(batch));
        Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(batch.AsSpan(RecordBatchHeader.CrcOffset)), ex.ExpectedCrc);
        Assert.Equal(Crc32C.Compute(batch.AsSpan(RecordBatchHeader.AttributesOffset)), ex.ActualCrc);
        Assert.NotEqual(ex.ExpectedCrc, ex.ActualCrc);
        Assert.Contains($"0x{ex.ExpectedCrc:X8}", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"0x{ex.ActualCrc:X8}", ex.Message, StringComparison.Ordinal);
        var consumer = Assert.Throws<CorruptRecordException>(() => ConsumerPath.Read(batch));
        Assert.Equal(("t", 0, 0L), (consumer.Topic, consumer.Partition, consumer.BaseOffset));
        Assert.Equal(ReadAll(batch, options: NoCrc).Count, ConsumerPath.Read(batch, checkCrcs: false).Count);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(255)]
    public void UnknownMagicIsRejected(byte magic)
    {
        var batch = BuildBatch(RandomRecords(1));
        batch[16] = magic;
        var ex = Assert.Throws<KafkaProtocolException>(() => ReadAll(batch));
        Assert.Equal("Magic", ex.Field);
        Assert.Contains(magic.ToString(), ex.Message);
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(-1)]
    [InlineData(1_000_000)]
    public void HostileRecordCountsAreRejectedBeforeAnyWork(int count)
    {
        var batch = BuildBatch(RandomRecords(1));
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(57), count);
        RecordBatch.UpdateCrc(batch);
        var ex = Assert.Throws<KafkaProtocolException>(() => ReadAll(batch));
        Assert.Equal("RecordsCount", ex.Field);
    }

    [Theory]
    [InlineData(-2)]
    [InlineData(int.MinValue)]
    [InlineData(int.MaxValue)]
    public void HostileBatchLengthsAreRejectedOrTreatedAsATruncatedTail(int length)
    {
        var batch = BuildBatch(RandomRecords(1));
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(8), length);
        if (length < 0)
            Assert.Equal("BatchLength", Assert.Throws<KafkaProtocolException>(() => ReadAll(batch)).Field);
        else
            Assert.Equal("BatchLength", Assert.Throws<KafkaProtocolException>(() => ReadAll(batch, options: Strict)).Field);
    }

    [Theory]
    [InlineData(-2, "Records[].KeyLength")]
    [InlineData(-100, "Records[].KeyLength")]
    [InlineData(int.MaxValue, "Records[].KeyLength")]
    public void HostileKeyLengthsNameTheField(int keyLength, string field)
    {
        // One record: length, attributes, ts delta, offset delta, then the key length under test.
        var body = new List<byte> { 0, 0, 0 };
        var tmp = new byte[5];
        body.AddRange(tmp[..VarInt.WriteVarInt(tmp, keyLength)]);
        body.AddRange(new byte[] { 0x02, 0x61, 0x00 });
        var batch = RawBatch(1, body.ToArray());
        var ex = Assert.Throws<KafkaProtocolException>(() => ReadAll(batch));
        Assert.Equal(field, ex.Field);
    }

    [Fact]
    public void NullHeaderKeyAndHugeHeaderCountAreRejected()
    {
        // key null, value null, 1 header with key length -1
        var ex = Assert.Throws<KafkaProtocolException>(() => ReadAll(RawBatch(1, [0, 0, 0, 1, 1, 2, 1, 1])));
        Assert.Equal("Records[].Headers[].KeyLength", ex.Field);
        // header count int.MaxValue
        ex = Assert.Throws<KafkaProtocolException>(() => ReadAll(RawBatch(1, [0, 0, 0, 1, 1, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F])));
        Assert.Equal("Records[].HeadersCount", ex.Field);
    }

    [Fact]
    public void RecordLengthThatDisagreesWithItsFieldsIsRejected()
    {
        var ex = Assert.Throws<KafkaProtocolException>(() => ReadAll(RawBatch(1, [0, 0, 0, 1, 1, 0, 0xAA])));
        Assert.Equal("Records[].Length", ex.Field);
    }

    [Fact]
    public void BytesAfterTheDeclaredRecordsAreRejected()
    {
        var batch = BuildBatch([new TestRecord(1, null, [1], []), new TestRecord(1, null, [2], [])]);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(57), 1);
        RecordBatch.UpdateCrc(batch);
        Assert.Equal("Records", Assert.Throws<KafkaProtocolException>(() => ReadAll(batch)).Field);
    }

    [Fact]
    public void LegacyNegativeLengthsAreRejected()
    {
        var set = BuildLegacy(1, [new TestRecord(0, "k"u8.ToArray(), "v"u8.ToArray(), [])]);
        BinaryPrimitives.WriteInt32BigEndian(set.AsSpan(26), -7);
        var ex = Assert.Throws<KafkaProtocolException>(() => ReadAll(set, options: NoCrc));
        Assert.Equal(("Message", "KeyLength"), (ex.MessageName, ex.Field));
        BinaryPrimitives.WriteInt32BigEndian(set.AsSpan(26), int.MaxValue);
        Assert.Equal("KeyLength", Assert.Throws<KafkaProtocolException>(() => ReadAll(set, options: NoCrc)).Field);
    }

    /// <summary>A valid-CRC batch around hand-written record bytes (the record length prefix is added here).</summary>
    internal static byte[] RawBatch(int count, byte[] recordBody)
    {
        var tmp = new byte[5];
        var lengthBytes = tmp[..VarInt.WriteVarInt(tmp, recordBody.Length)];
        var records = lengthBytes.Concat(recordBody).ToArray();
        var b = new byte[RecordBatchHeader.Size + records.Length];
        new RecordBatchHeader
        {
            BatchLength = b.Length - 12, PartitionLeaderEpoch = -1, Magic = 2, LastOffsetDelta = count - 1,
            BaseTimestamp = 1, MaxTimestamp = 1, ProducerId = -1, ProducerEpoch = -1, BaseSequence = -1, RecordCount = count,
        }.Write(b);
        records.CopyTo(b, RecordBatchHeader.Size);
        RecordBatch.UpdateCrc(b);
        return b;
    }
}
