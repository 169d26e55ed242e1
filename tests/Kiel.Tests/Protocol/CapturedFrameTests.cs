using System.Buffers;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Tests.Protocol;

/// <summary>
/// Frames captured between Confluent.Kafka 2.16 (librdkafka 2.16.0) and librdkafka's mock cluster; see
/// <c>Fixtures/librdkafka-2.16-frames.md</c>. Kiel decodes every one, and re-encoding gives the same bytes.
/// </summary>
public class CapturedFrameTests
{
    internal sealed record Frame(bool IsRequest, ApiKey Key, short Version, byte[] Bytes)
    {
        public override string ToString() => $"{(IsRequest ? "request" : "response")} {Key} v{Version} ({Bytes.Length} B)";
    }

    internal static IReadOnlyList<Frame> Frames { get; } = Load();

    /// <summary>The transactional producer's frames (Confluent.Kafka 2.16 through the recording proxy; see Fixtures/README.md).</summary>
    internal static IReadOnlyList<Frame> TransactionFrames { get; } = Load("confluent-2.16-transactions.txt");

    private static List<Frame> Load() => [.. Load("librdkafka-2.16-frames.txt"), .. Load("confluent-2.16-transactions.txt")];

    private static List<Frame> Load(string file)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", file);
        return File.ReadAllLines(path)
            .Where(l => l.Length > 0)
            .Select(l => l.Split(' '))
            .Select(p => new Frame(p[0] == "request", (ApiKey)short.Parse(p[1]), short.Parse(p[2]), Convert.FromHexString(p[3])))
            .ToList();
    }

    private static T Body<T>(ApiKey key, bool request) where T : class
    {
        var frame = TransactionFrames.Single(f => f.Key == key && f.IsRequest == request);
        var reader = new KafkaReader(frame.Bytes.AsMemory());
        if (request) KafkaHeaders.ReadRequestHeader(ref reader);
        else KafkaHeaders.ReadResponseHeader(ref reader, key, frame.Version);
        var body = request ? MessageReaders.ReadRequest(key, ref reader, frame.Version) : MessageReaders.ReadResponse(key, ref reader, frame.Version);
        Assert.True(reader.End, $"{frame}: {reader.Remaining} byte(s) left");
        return Assert.IsType<T>(body);
    }

    /// <summary>
    /// What Confluent.Kafka's transactional producer sent for init, two records on two partitions, the input offset of a
    /// group member, and commit (TransactionPeerSequenceTests compares Kiel's requests with these fields live).
    /// </summary>
    [Fact]
    public void ConfluentTransactionalFramesDecodeToWhatItSent()
    {
        Assert.Equal([ApiKey.InitProducerId, ApiKey.AddPartitionsToTxn, ApiKey.AddOffsetsToTxn, ApiKey.TxnOffsetCommit, ApiKey.EndTxn],
            TransactionFrames.Where(f => f.IsRequest).Select(f => f.Key));
        Assert.Equal(TransactionFrames.Where(f => f.IsRequest).Select(f => (f.Key, f.Version)), TransactionFrames.Where(f => !f.IsRequest).Select(f => (f.Key, f.Version)));

        var init = Body<InitProducerIdRequest>(ApiKey.InitProducerId, request: true);
        Assert.Equal(("txn-seq", 60000, -1L, (short)-1), (init.TransactionalId, init.TransactionTimeoutMs, init.ProducerId, init.ProducerEpoch));
        var id = Body<InitProducerIdResponse>(ApiKey.InitProducerId, request: false);
        Assert.Equal((short)0, id.ErrorCode);

        var add = Body<AddPartitionsToTxnRequest>(ApiKey.AddPartitionsToTxn, request: true);
        Assert.Equal(("txn-seq", id.ProducerId, id.ProducerEpoch), (add.V3AndBelowTransactionalId, add.V3AndBelowProducerId, add.V3AndBelowProducerEpoch));
        var topic = Assert.Single(add.V3AndBelowTopics);
        Assert.StartsWith("txn-seq-", topic.Name, StringComparison.Ordinal);
        Assert.Equal([0, 1], topic.Partitions.Order());
        Assert.All(Body<AddPartitionsToTxnResponse>(ApiKey.AddPartitionsToTxn, request: false).ResultsByTopicV3AndBelow.SelectMany(t => t.ResultsByPartition),
            p => Assert.Equal((short)0, p.PartitionErrorCode));

        var offsets = Body<AddOffsetsToTxnRequest>(ApiKey.AddOffsetsToTxn, request: true);
        Assert.Equal(("txn-seq", id.ProducerId, id.ProducerEpoch, "txn-seq-confluent-group"), (offsets.TransactionalId, offsets.ProducerId, offsets.ProducerEpoch, offsets.GroupId));

        var commit = Body<TxnOffsetCommitRequest>(ApiKey.TxnOffsetCommit, request: true);
        Assert.Equal(("txn-seq", "txn-seq-confluent-group", id.ProducerId, id.ProducerEpoch), (commit.TransactionalId, commit.GroupId, commit.ProducerId, commit.ProducerEpoch));
        // A member of a joined group: its generation and member id (the mock's are pointer strings), no instance id.
        Assert.True(commit.GenerationId >= 1);
        Assert.StartsWith("0x", commit.MemberId, StringComparison.Ordinal);
        Assert.Null(commit.GroupInstanceId);
        var partition = Assert.Single(Assert.Single(commit.Topics).Partitions);
        Assert.Equal((0, 1L, -1, ""), (partition.PartitionIndex, partition.CommittedOffset, partition.CommittedLeaderEpoch, partition.CommittedMetadata));

        var end = Body<EndTxnRequest>(ApiKey.EndTxn, request: true);
        Assert.Equal(("txn-seq", id.ProducerId, id.ProducerEpoch, true), (end.TransactionalId, end.ProducerId, end.ProducerEpoch, end.Committed));
        Assert.Equal((short)0, Body<EndTxnResponse>(ApiKey.EndTxn, request: false).ErrorCode);
    }

    public static TheoryData<int> FrameIndexes()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < Frames.Count; i++) data.Add(i);
        return data;
    }

    [Fact]
    public void FixtureCoversTheClientApisOfAGroupConsumerAndAnIdempotentProducer()
    {
        var keys = Frames.Select(f => f.Key).ToHashSet();
        foreach (var k in new[] { ApiKey.Produce, ApiKey.Fetch, ApiKey.ListOffsets, ApiKey.Metadata, ApiKey.OffsetCommit, ApiKey.OffsetFetch,
                     ApiKey.FindCoordinator, ApiKey.JoinGroup, ApiKey.Heartbeat, ApiKey.LeaveGroup, ApiKey.SyncGroup, ApiKey.ApiVersions, ApiKey.InitProducerId })
            Assert.Contains(k, keys);
        Assert.Contains(Frames, f => f.IsRequest && f.Key == ApiKey.Produce && f.Version >= 9); // flexible
        Assert.Contains(Frames, f => !f.IsRequest && f.Key == ApiKey.Fetch && f.Version >= 12);
    }

    [Theory]
    [MemberData(nameof(FrameIndexes))]
    public void CapturedFrameDecodesAndReencodesToTheSameBytes(int index)
    {
        var frame = Frames[index];
        var reader = new KafkaReader(frame.Bytes.AsMemory());
        var output = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(output);
        if (frame.IsRequest)
        {
            var header = KafkaHeaders.ReadRequestHeader(ref reader);
            Assert.Equal((short)frame.Key, header.RequestApiKey);
            Assert.Equal(frame.Version, header.RequestApiVersion);
            var body = MessageReaders.ReadRequest(frame.Key, ref reader, frame.Version);
            Assert.True(reader.End, $"{frame}: {reader.Remaining} byte(s) left");
            header.Write(ref writer, ApiKeys.RequestHeaderVersion(frame.Key, frame.Version));
            body.Write(ref writer, frame.Version);
        }
        else
        {
            var correlationId = KafkaHeaders.ReadResponseHeader(ref reader, frame.Key, frame.Version);
            var body = MessageReaders.ReadResponse(frame.Key, ref reader, frame.Version);
            // The mock writes the empty tagged section of some flexible responses twice (Metadata): a trailing 0x00
            // that real brokers do not send. Decoders must stop at the end of the body and ignore it.
            var trailing = reader.RemainingSpan.ToArray();
            Assert.True(trailing.Length == 0 || trailing is [0], $"{frame}: unexpected trailing bytes {Convert.ToHexString(trailing)}");
            KafkaHeaders.WriteResponseHeader(ref writer, frame.Key, frame.Version, correlationId);
            body.Write(ref writer, frame.Version);
            writer.WriteRaw(trailing);
        }
        writer.Flush();
        Assert.Equal(Convert.ToHexString(frame.Bytes), Convert.ToHexString(output.WrittenSpan));
    }

    [Fact]
    public void CapturedProduceRequestCarriesTheBatchAsAZeroCopySlice()
    {
        var frame = Frames.First(f => f.IsRequest && f.Key == ApiKey.Produce);
        var reader = new KafkaReader(frame.Bytes.AsMemory());
        KafkaHeaders.ReadRequestHeader(ref reader);
        var produce = ProduceRequest.Read(ref reader, frame.Version);
        var records = produce.TopicData[0].PartitionData[0].Records!.Value;
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(records, out var segment));
        Assert.Same(frame.Bytes, segment.Array);
        Assert.Equal(2, records.Span[16]); // magic byte of a v2 record batch
    }

    [Fact]
    public void MockAnswersAnUnsupportedApiVersionsVersionWithErrorCodeFirst()
    {
        // librdkafka's mock (ApiVersions up to v2) answered librdkafka's v3 request with this body. It is not a valid
        // body at any version, but its first field is ErrorCode 35 (UNSUPPORTED_VERSION), which is all a client
        // needs to fall back to v0.
        var frame = KnownBytesTests.Hex("00000001 0023 01 0012 0000 0002 00000000");
        var reader = new KafkaReader(frame.AsMemory());
        Assert.Equal(1, KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.ApiVersions, 3));
        Assert.True(ApiVersionsResponse.TryPeekErrorCode(reader.RemainingSpan, out var code));
        Assert.Equal(ErrorCode.UnsupportedVersion, code);
        // Decoded at v3 it parses, but into nonsense (no API ranges, bytes left over): hence the peek.
        var r = new KafkaReader(frame.AsMemory(4));
        var nonsense = ApiVersionsResponse.Read(ref r, 3);
        Assert.Empty(nonsense.ApiKeys);
        Assert.False(r.End);
        Assert.False(ApiVersionsResponse.TryPeekErrorCode([0x00], out _));
    }

    [Theory]
    [MemberData(nameof(FrameIndexes))]
    public void TruncatedAndMutatedCapturedFramesFailCleanly(int index)
    {
        var frame = Frames[index];
        var rng = new Random(index);
        for (var n = 0; n < frame.Bytes.Length + 300; n++)
        {
            ReadOnlyMemory<byte> input;
            if (n < frame.Bytes.Length) input = frame.Bytes.AsMemory(0, n);
            else
            {
                var bytes = (byte[])frame.Bytes.Clone();
                for (var i = rng.Next(1, 4); i > 0; i--) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
                input = bytes;
            }
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                var reader = new KafkaReader(input);
                if (frame.IsRequest)
                {
                    var header = KafkaHeaders.ReadRequestHeader(ref reader);
                    MessageReaders.ReadRequest((ApiKey)header.RequestApiKey, ref reader, header.RequestApiVersion);
                }
                else
                {
                    KafkaHeaders.ReadResponseHeader(ref reader, frame.Key, frame.Version);
                    MessageReaders.ReadResponse(frame.Key, ref reader, frame.Version);
                }
            }
            catch (KafkaProtocolException)
            {
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"{frame}: {e.GetType().Name} for {Convert.ToHexString(input.Span)}: {e}");
            }
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated > input.Length * 96L + 64 * 1024)
                throw new Xunit.Sdk.XunitException($"{frame}: {allocated} bytes allocated for {input.Length} input bytes");
        }
    }
}
