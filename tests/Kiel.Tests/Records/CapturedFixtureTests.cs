using System.Text;
using Kiel.Producing.Internal;
using Kiel.Protocol;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Messages;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Records;

/// <summary>
/// Golden bytes: Produce requests captured from Confluent.Kafka 2.16, kcat 1.7.1 (librdkafka 2.0.2) and kafka-python
/// 2.0.2 (see Fixtures/README.md). Kiel decodes each request and its records, and re-encodes the request to the same bytes.
/// </summary>
public class CapturedFixtureTests
{
    private const long T0 = 1_700_000_000_000;
    private static readonly string Value3 = string.Concat(Enumerable.Range(0, 300).Select(i => (char)('a' + i % 26)));

    private static readonly (string? Key, string? Value, long Timestamp, (string, string?)[] Headers)[] Sent =
    [
        ("k0", "value-0", T0, [("h1", "v1")]),
        (null, "value-1", T0 + 1000, []),
        ("k2", null, T0 + 2000, [("h1", null), ("h2", "x")]),
        ("k3", Value3, T0 + 3000, []),
        ("", "", T0 + 4000, [("ünïcode", "é")]),
    ];

    public static TheoryData<string> Files => new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures"), "*.produce-*.bin").Select(Path.GetFileName)!);

    public static TheoryData<string> FetchFiles => new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures"), "*.fetch-*.bin").Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(FetchFiles))]
    public void FetchResponsesDecodeReencodeAndHoldWhatWasProduced(string file)
    {
        var frame = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", file));
        var version = short.Parse(file[(file.LastIndexOf("-v", StringComparison.Ordinal) + 2)..^4]);
        var reader = new KafkaReader(frame.AsMemory());
        var correlationId = KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.Fetch, version);
        var response = FetchResponse.Read(ref reader, version);
        Assert.True(reader.End);

        var output = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(output);
        KafkaHeaders.WriteResponseHeader(ref writer, ApiKey.Fetch, version, correlationId);
        response.Write(ref writer, version);
        writer.Flush();
        Assert.Equal(Convert.ToHexString(frame), Convert.ToHexString(output.WrittenSpan));

        var partition = Assert.Single(Assert.Single(response.Responses).Partitions);
        Assert.Equal(0, partition.ErrorCode);
        var records = new List<(long Offset, string? Key, string? Value, long Timestamp)>();
        using var set = new RecordSetReader(partition.Records!.Value.Span);
        while (set.MoveNext())
        {
            var r = set.Current;
            records.Add((r.Offset, r.IsKeyNull ? null : Encoding.UTF8.GetString(r.Key), r.IsValueNull ? null : Encoding.UTF8.GetString(r.Value), r.Timestamp));
        }
        Assert.Equal(Sent.Select((s, i) => ((long)i, s.Key, s.Value, s.Timestamp)), records);
        // Skipping below a fetch offset inside the batch (kiel redelivered these: L18).
        using var from3 = new RecordSetReader(partition.Records!.Value.Span, minOffset: 3);
        var offsets = new List<long>();
        while (from3.MoveNext()) offsets.Add(from3.Current.Offset);
        Assert.Equal([3L, 4L], offsets);

        // The consumer's own path (scan with CRCs, then the fetched chunk) reads the same records.
        var consumed = ConsumerPath.Read(partition.Records!.Value.Span);
        Assert.Equal(records, consumed.Select(r => (r.Offset, r.Key is null ? null : Encoding.UTF8.GetString(r.Key),
            r.Value is null ? null : Encoding.UTF8.GetString(r.Value), r.Timestamp)));
        Assert.Equal([3L, 4L], ConsumerPath.Read(partition.Records!.Value.Span, fetchOffset: 3).Select(r => r.Offset));
    }

    private static (RequestHeader Header, ProduceRequest Body, short Version, byte[] Frame) Load(string file)
    {
        var frame = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", file));
        var reader = new KafkaReader(frame.AsMemory());
        var header = KafkaHeaders.ReadRequestHeader(ref reader);
        Assert.Equal((short)ApiKey.Produce, header.RequestApiKey);
        var body = ProduceRequest.Read(ref reader, header.RequestApiVersion);
        Assert.True(reader.End);
        return (header, body, header.RequestApiVersion, frame);
    }


    private static List<(string? Key, string? Value, long Timestamp, TimestampType Type, (string, string?)[] Headers, byte Magic, CompressionType Codec, long Offset)> Decode(ProduceRequest body)
    {
        var list = new List<(string?, string?, long, TimestampType, (string, string?)[], byte, CompressionType, long)>();
        var records = Assert.Single(Assert.Single(body.TopicData).PartitionData).Records!.Value;
        using var reader = new RecordSetReader(records.Span, options: new RecordReaderOptions { AllowTruncatedTail = false });
        while (reader.MoveNextBatch())
        while (reader.MoveNextRecord())
        {
            var r = reader.Current;
            var headers = new List<(string, string?)>();
            foreach (var h in r.Headers) headers.Add((h.KeyString, h.IsValueNull ? null : Encoding.UTF8.GetString(h.Value)));
            list.Add((r.IsKeyNull ? null : Encoding.UTF8.GetString(r.Key), r.IsValueNull ? null : Encoding.UTF8.GetString(r.Value),
                r.Timestamp, r.TimestampType, [.. headers], reader.CurrentBatch.Magic, reader.CurrentBatch.Compression, r.Offset));
        }
        return list;
    }

    private static CompressionType CodecOf(string file) =>
        Enum.GetValues<CompressionType>().Single(c => file.Contains("-" + c.ToString().ToLowerInvariant() + "."));

    [Theory]
    [MemberData(nameof(Files))]
    public void RequestReencodesToTheSameBytes(string file)
    {
        var (header, body, version, frame) = Load(file);
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(output);
        KafkaHeaders.WriteRequestHeader(ref writer, ApiKey.Produce, version, header.CorrelationId, header.ClientId);
        body.Write(ref writer, version);
        writer.Flush();
        Assert.Equal(Convert.ToHexString(frame), Convert.ToHexString(output.WrittenSpan));
    }

    /// <summary>
    /// The producer's own write path, byte for byte against a peer: the peer's records appended one by one in their
    /// wire form (<see cref="BatchEncoder.AppendRecord"/>) and the batch finished in place, with the peer's producer id,
    /// epoch, sequence and transactional flag, is the batch the peer sent (CRC-32C included).
    /// </summary>
    [Theory]
    [InlineData("confluent-none.produce-v10.bin")]
    [InlineData("kcat-none.produce-v7.bin")]
    public void TheProducersWireFormIsThePeersUncompressedBatch(string file)
    {
        var (_, body, _, _) = Load(file);
        var peer = Assert.Single(Assert.Single(body.TopicData).PartitionData).Records!.Value.ToArray();
        var header = RecordBatchHeader.Read(peer);
        Assert.Equal(2, peer[RecordBatchHeader.MagicOffset]);

        using var batch = new RecordArena(256);
        var count = 0;
        using (var reader = new RecordSetReader(peer, options: new RecordReaderOptions { AllowTruncatedTail = false }))
        {
            while (reader.MoveNext())
            {
                var r = reader.Current;
                Assert.Equal(header.BaseOffset + count, r.Offset);
                Headers? headers = null;
                foreach (var h in r.Headers) (headers ??= new Headers()).Add(h.KeyString, h.ValueToArray());
                BatchEncoder.AppendRecord(batch, count, r.Timestamp, r.Key, r.IsKeyNull, r.Value, r.IsValueNull, headers);
                count++;
            }
        }
        Assert.Equal(header.RecordCount, count);
        BatchEncoder.FinishInPlace(batch.MutableSpan, count, new ProducerIdentity(header.ProducerId, header.ProducerEpoch),
            header.BaseSequence, transactional: (header.Attributes & RecordBatchHeader.TransactionalFlag) != 0);

        var ours = batch.Span.ToArray();
        // The partition leader epoch is the broker's to set, outside the CRC: librdkafka leaves 0 there, Kiel -1 (as the
        // Java producer does). The base offset (also the broker's) is 0 from both.
        Assert.Equal(0, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(peer.AsSpan(RecordBatchHeader.PartitionLeaderEpochOffset)));
        Assert.Equal(-1, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(ours.AsSpan(RecordBatchHeader.PartitionLeaderEpochOffset)));
        ours.AsSpan(RecordBatchHeader.PartitionLeaderEpochOffset, 4).Clear();
        Assert.Equal(Convert.ToHexString(peer), Convert.ToHexString(ours));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void RecordsAreWhatThePeerSent(string file)
    {
        var (_, body, _, _) = Load(file);
        var records = Decode(body);
        // The consumer's own path (scan with CRCs, then the fetched chunk) reads the same records from the same bytes.
        var consumed = ConsumerPath.Read(Assert.Single(Assert.Single(body.TopicData).PartitionData).Records!.Value.Span, long.MinValue);
        Assert.Equal(records.Select(r => (r.Offset, r.Key, r.Value, r.Timestamp)),
            consumed.Select(r => (r.Offset, r.Key is null ? null : Encoding.UTF8.GetString(r.Key), r.Value is null ? null : Encoding.UTF8.GetString(r.Value), r.Timestamp)));
        var codec = CodecOf(file);
        Assert.All(records, r => Assert.Equal(codec, r.Codec));
        if (file.StartsWith("kcat"))
        {
            // kcat: key|value lines with -H h1=v1 and wall-clock CreateTime timestamps.
            Assert.Equal(["k0", "k1", "k3"], records.Select(r => r.Key));
            Assert.Equal(["value-0", "value-1", Value3], records.Select(r => r.Value));
            Assert.All(records, r => Assert.Equal([("h1", (string?)"v1")], r.Headers));
            Assert.All(records, r => Assert.Equal(TimestampType.CreateTime, r.Type));
            Assert.All(records, r => Assert.Equal(2, r.Magic));
            return;
        }
        var magic = file.StartsWith("kafka-python-0.8.2") ? (byte)0 : file.StartsWith("kafka-python-0.10") ? (byte)1 : (byte)2;
        Assert.Equal(Sent.Length, records.Count);
        for (var i = 0; i < Sent.Length; i++)
        {
            var (key, value, ts, type, headers, m, _, offset) = records[i];
            Assert.Equal(magic, m);
            Assert.Equal(Sent[i].Key, key);
            Assert.Equal(Sent[i].Value, value);
            Assert.Equal(magic == 0 ? -1 : Sent[i].Timestamp, ts);
            Assert.Equal(magic == 0 ? TimestampType.NotAvailable : TimestampType.CreateTime, type);
            Assert.Equal(magic == 2 ? Sent[i].Headers : [], headers);
            Assert.Equal(i, offset - records[0].Offset);
        }
    }

    [Fact]
    public void LibrdkafkaWritesRawSnappyAndJavaStyleLz4Frames()
    {
        // Answers GUIDE §19's open question from the captured bytes.
        foreach (var file in new[] { "confluent-snappy.produce-v10.bin", "kcat-snappy.produce-v7.bin" })
        {
            var region = Assert.Single(Assert.Single(Load(file).Body.TopicData).PartitionData).Records!.Value.Span[RecordBatchHeader.Size..];
            Assert.False(region.Length >= 8 && region[0] == 0x82, $"{file} is xerial-framed");
        }
        foreach (var file in new[] { "confluent-lz4.produce-v10.bin", "kcat-lz4.produce-v7.bin" })
        {
            var region = Assert.Single(Assert.Single(Load(file).Body.TopicData).PartitionData).Records!.Value.Span[RecordBatchHeader.Size..];
            Assert.Equal("04224D18604082", Convert.ToHexString(region[..7]));
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void MutatedPeerBatchesEndInAProtocolErrorOrAValidDecode(string file)
    {
        // Real peers' compressed bytes (librdkafka's snappy, lz4 and zstd, kafka-python's gzip wrappers) mutated at random.
        var original = Assert.Single(Assert.Single(Load(file).Body.TopicData).PartitionData).Records!.Value.ToArray();
        var random = new Random(file.GetHashCode(StringComparison.Ordinal));
        var options = new RecordReaderOptions { VerifyCrc = false, MaxDecompressedBytes = 1 << 20, IncludeControlRecords = true };
        for (var i = 0; i < 500; i++)
        {
            var b = original.ToArray();
            for (var f = 0; f < 1 + i % 3; f++) b[random.Next(b.Length)] ^= (byte)(1 << random.Next(8));
            try
            {
                using var reader = new RecordSetReader(b, options: i % 2 == 0 ? options : options with { VerifyCrc = true });
                while (reader.MoveNext())
                    foreach (var h in reader.Current.Headers) GC.KeepAlive(h.Key.Length);
            }
            catch (KielException ex) when (ex is KafkaProtocolException or CorruptRecordException)
            {
            }
            try
            {
                ConsumerPath.Read(b, 0, checkCrcs: i % 2 != 0);
            }
            catch (KielException ex) when (ex is KafkaProtocolException or CorruptRecordException)
            {
            }
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void EveryTruncationOfACapturedBatchIsAProtocolErrorOrAQuietTail(string file)
    {
        var records = Assert.Single(Assert.Single(Load(file).Body.TopicData).PartitionData).Records!.Value.ToArray();
        for (var cut = 0; cut < records.Length; cut++)
        {
            using var quiet = new RecordSetReader(records.AsSpan(0, cut));
            var read = 0;
            while (quiet.MoveNext()) read++;
            // The consumer reads the complete batches before the cut, the same records.
            Assert.Equal(read, ConsumerPath.Read(records.AsSpan(0, cut), long.MinValue).Count);
            try
            {
                using var strict = new RecordSetReader(records.AsSpan(0, cut), options: new RecordReaderOptions { AllowTruncatedTail = false });
                while (strict.MoveNext()) { }
            }
            catch (KafkaProtocolException)
            {
            }
        }
    }
}
