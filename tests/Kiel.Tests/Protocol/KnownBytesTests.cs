using System.Buffers;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Tests.Protocol;

/// <summary>
/// Byte-level checks. Vectors marked "kafka-python" were encoded by kafka-python 2.0.2's protocol classes (a real
/// peer; the script is in the README of this folder); the others were built by hand from the schemas and GUIDE §18.
/// </summary>
public class KnownBytesTests
{
    internal static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    private static byte[] Frame(ApiKey key, short version, int correlationId, string? clientId, IKafkaMessage body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        KafkaHeaders.WriteRequestHeader(ref writer, key, version, correlationId, clientId);
        body.Write(ref writer, version);
        writer.Flush();
        var size = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(size, buffer.WrittenCount);
        return [.. size, .. buffer.WrittenSpan];
    }

    private static T DecodeAndCheck<T>(byte[] bytes, short version) where T : IResponseMessage<T>
    {
        var reader = new KafkaReader(bytes.AsMemory());
        var message = T.Read(ref reader, version);
        Assert.True(reader.End);
        Assert.Equal(bytes, Schemas.Encode(message, version));
        return message;
    }

    private static void AssertRequest(IRequestMessage request, short version, string expectedHex)
    {
        var expected = Hex(expectedHex);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(Schemas.Encode(request, version)));
        var reader = new KafkaReader(expected.AsMemory());
        var decoded = MessageReaders.ReadRequest(request.ApiKey, ref reader, version);
        Assert.True(reader.End);
        DeepEqual.Assert(request, decoded);
    }

    [Fact]
    public void ApiVersionsV3RequestMatchesTheGuideVector()
    {
        var frame = Frame(ApiKey.ApiVersions, 3, 1, "kiel", new ApiVersionsRequest { ClientSoftwareName = "kiel", ClientSoftwareVersion = "1.0" });
        Assert.Equal(Hex("00000019 0012 0003 00000001 0004 6b69656c 00 05 6b69656c 04 312e30 00"), frame);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void ApiVersionsRequestsBeforeV3HaveAnEmptyBodyAndHeaderV1(short version)
    {
        // kafka-python: header 0012 0000 00000001 0004 6b69656c, empty body (v0); v1/v2 differ only in the version.
        var frame = Frame(ApiKey.ApiVersions, version, 1, "kiel", new ApiVersionsRequest { ClientSoftwareName = "", ClientSoftwareVersion = "" });
        Assert.Equal(Hex($"0000000e 0012 000{version} 00000001 0004 6b69656c"), frame);
        // Software name and version are ignorable: dropped silently below v3.
        Assert.Empty(Schemas.Encode(new ApiVersionsRequest { ClientSoftwareName = "kiel" }, version));
    }

    [Fact]
    public void MetadataV0RequestMatchesKafkaPython()
    {
        var request = new MetadataRequest
        {
            Topics = [new() { Name = "foo" }, new() { Name = "bar" }],
        };
        AssertRequest(request, 0, "00000002 0003 666f6f 0003 626172");
        Assert.Equal(Hex("0000001c 0003 0000 00000007 0004 6b69656c 00000002 0003666f6f 0003626172"),
            Frame(ApiKey.Metadata, 0, 7, "kiel", request));
    }

    [Fact]
    public void MetadataNullTopicsMeansAllFromV1AndIsRefusedInV0()
    {
        var all = new MetadataRequest { Topics = null };
        AssertRequest(all, 1, "ffffffff"); // kafka-python
        Assert.Throws<KafkaEncodeException>(() => Schemas.Encode(all, 0));
        var e = Assert.Throws<KafkaProtocolException>(() =>
        {
            var r = new KafkaReader(Hex("ffffffff").AsMemory());
            MetadataRequest.Read(ref r, 0);
        });
        Assert.Equal("MetadataRequest", e.MessageName);
        Assert.Equal(0, e.Version);
        Assert.Equal("Topics", e.Field);
    }

    [Fact]
    public void MetadataV4RequestMatchesKafkaPython()
    {
        AssertRequest(new MetadataRequest { Topics = [new() { Name = "t" }], AllowAutoTopicCreation = false }, 4, "00000001 0001 74 00");
    }

    [Fact]
    public void NonDefaultFieldMissingFromTheVersionIsRefusedUnlessIgnorable()
    {
        // AllowAutoTopicCreation exists from v4 and is not ignorable.
        var e = Assert.Throws<KafkaEncodeException>(() => Schemas.Encode(new MetadataRequest { AllowAutoTopicCreation = false }, 3));
        Assert.Equal("AllowAutoTopicCreation", e.Field);
        Assert.Equal(3, e.Version);
        // ThrottleTimeMs of FetchResponse exists from v1 and is ignorable.
        Assert.Equal(Hex("00000000"), Schemas.Encode(new FetchResponse { ThrottleTimeMs = 5 }, 0));
    }

    [Fact]
    public void FetchV4RequestMatchesKafkaPython()
    {
        var request = new FetchRequest
        {
            ReplicaId = -1, MaxWaitMs = 500, MinBytes = 1, MaxBytes = 1048576, IsolationLevel = 1,
            Topics = [new() { Topic = "foo", Partitions = [new() { Partition = 0, FetchOffset = 42, PartitionMaxBytes = 65536 }] }],
        };
        AssertRequest(request, 4, "ffffffff000001f4000000010010000001000000010003666f6f0000000100000000000000000000002a00010000");
    }

    internal static readonly byte[] Batch = Hex(
        "0000000000000000 0000003a ffffffff 02 bbcc4115 0000 00000000 0000018bcfe56800 0000018bcfe56800 " +
        "ffffffffffffffff ffff ffffffff 00000001 1000000001046869 00");

    [Fact]
    public void ProduceV3RequestMatchesKafkaPythonAndRecordsAreAZeroCopySlice()
    {
        var request = new ProduceRequest
        {
            TransactionalId = null, Acks = -1, TimeoutMs = 30000,
            TopicData = [new() { Name = "foo", PartitionData = [new() { Index = 0, Records = Batch }] }],
        };
        const string hex = "ffff ffff 00007530 00000001 0003666f6f 00000001 00000000 00000046" +
            "00000000000000000000003affffffff02bbcc41150000000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff00000001100000000104686900";
        AssertRequest(request, 3, hex);

        var bytes = Hex(hex);
        var reader = new KafkaReader(bytes.AsMemory());
        var decoded = ProduceRequest.Read(ref reader, 3);
        var records = decoded.TopicData[0].PartitionData[0].Records!.Value;
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(records, out var segment));
        Assert.Same(bytes, segment.Array);
        Assert.Equal(bytes.Length - Batch.Length, segment.Offset);
    }

    [Fact]
    public void JoinGroupV2RequestMatchesKafkaPython()
    {
        var request = new JoinGroupRequest
        {
            GroupId = "g", SessionTimeoutMs = 10000, RebalanceTimeoutMs = 30000, MemberId = "", ProtocolType = "consumer",
            Protocols = [new() { Name = "range", Metadata = new byte[] { 0, 1 } }],
        };
        AssertRequest(request, 2, "000167000027100000753000000008636f6e73756d657200000001000572616e6765000000020001");
    }

    [Fact]
    public void OffsetCommitV2RequestMatchesKafkaPython()
    {
        var request = new OffsetCommitRequest
        {
            GroupId = "g", GenerationIdOrMemberEpoch = 3, MemberId = "m", RetentionTimeMs = -1,
            Topics = [new() { Name = "foo", Partitions = [new() { PartitionIndex = 0, CommittedOffset = 100, CommittedMetadata = "meta" }] }],
        };
        AssertRequest(request, 2, "0001670000000300016dffffffffffffffff000000010003666f6f0000000100000000000000000000006400046d657461");
    }

    [Fact]
    public void ListOffsetsV1RequestMatchesKafkaPython()
    {
        var request = new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [new() { Name = "foo", Partitions = [new() { PartitionIndex = 0, Timestamp = -1 }] }],
        };
        AssertRequest(request, 1, "ffffffff000000010003666f6f0000000100000000ffffffffffffffff");
    }

    [Fact]
    public void MetadataV1ResponseFromKafkaPythonDecodes()
    {
        var m = DecodeAndCheck<MetadataResponse>(Hex(
            "000000020000000100096c6f63616c686f737400002384ffff00000002000268320000238500027231000000010000000100000003666f6f" +
            "0000000001000000000000000000010000000200000001000000020000000100000001"), 1);
        Assert.Equal(2, m.Brokers.Count);
        Assert.Equal("localhost", m.Brokers[0].Host);
        Assert.Null(m.Brokers[0].Rack);
        Assert.Equal("r1", m.Brokers[1].Rack);
        Assert.Equal(9093, m.Brokers[1].Port);
        Assert.Equal(1, m.ControllerId);
        var p = Assert.Single(Assert.Single(m.Topics).Partitions);
        Assert.Equal([1, 2], p.ReplicaNodes);
        Assert.Equal([1], p.IsrNodes);
        Assert.Equal(1, p.LeaderId);
        Assert.Equal(-1, p.LeaderEpoch); // absent in v1: the schema default
    }

    [Fact]
    public void FetchV4ResponseFromKafkaPythonDecodesWithRecordsAsRawBytes()
    {
        var f = DecodeAndCheck<FetchResponse>(Hex(
            "00000000000000010003666f6f00000001000000000000000000000000000a000000000000000a0000000100000000000000050000000000000003" +
            "00000046" + Convert.ToHexString(Batch)), 4);
        var p = Assert.Single(Assert.Single(f.Responses).Partitions);
        Assert.Equal(10, p.HighWatermark);
        Assert.Equal(10, p.LastStableOffset);
        Assert.Equal(-1, p.LogStartOffset);
        var aborted = Assert.Single(p.AbortedTransactions!);
        Assert.Equal(5, aborted.ProducerId);
        Assert.Equal(3, aborted.FirstOffset);
        Assert.Equal(Batch, p.Records!.Value.ToArray());
    }

    [Fact]
    public void ApiVersionsV1ResponseFromKafkaPythonDecodes()
    {
        var r = DecodeAndCheck<ApiVersionsResponse>(Hex("00000000000200000000000800030000000900000000"), 1);
        Assert.Equal(0, r.ErrorCode);
        Assert.Equal(2, r.ApiKeys.Count);
        Assert.Equal(3, r.ApiKeys[1].ApiKey);
        Assert.Equal(9, r.ApiKeys[1].MaxVersion);
    }

    [Fact]
    public void KnownTaggedFieldIsWrittenOnlyWhenNotDefault()
    {
        // ApiVersionsResponse v3: ErrorCode, compact ApiKeys (empty), ThrottleTimeMs, tagged section.
        Assert.Equal(Hex("0000 01 00000000 00"), Schemas.Encode(new ApiVersionsResponse(), 3));
        var withEpoch = new ApiVersionsResponse { FinalizedFeaturesEpoch = 5 };
        var bytes = Schemas.Encode(withEpoch, 3);
        Assert.Equal(Hex("0000 01 00000000 01 01 08 0000000000000005"), bytes);
        Assert.Equal(5, DecodeAndCheck<ApiVersionsResponse>(bytes, 3).FinalizedFeaturesEpoch);
        // Below v3 there is no tagged section; the field is ignorable, so it is dropped.
        Assert.Equal(Hex("0000 00000000 00000000"), Schemas.Encode(withEpoch, 1));
    }

    [Fact]
    public void UnknownTagsAreKeptInOrderBetweenKnownOnes()
    {
        // Tags 1 (known: FinalizedFeaturesEpoch), 4 and 9 (unknown to this schema).
        var bytes = Hex("0000 01 00000000 03 01 08 0000000000000007 04 02 abcd 09 00");
        var r = DecodeAndCheck<ApiVersionsResponse>(bytes, 3);
        Assert.Equal(7, r.FinalizedFeaturesEpoch);
        Assert.Equal([4u, 9u], r.UnknownTaggedFields!.Select(t => t.Tag));
        Assert.Equal(new byte[] { 0xab, 0xcd }, r.UnknownTaggedFields![0].Value.ToArray());

        // An unknown tag below a known one is written back before it.
        var mixed = Hex("0000 01 00000000 02 00 01 01 01 08 0000000000000007");
        var m = DecodeAndCheck<ApiVersionsResponse>(Hex("0000 01 00000000 01 01 08 0000000000000007"), 3);
        m.UnknownTaggedFields = [new TaggedField(0, new byte[] { 0x01 })];
        Assert.Equal(mixed, Schemas.Encode(m, 3));
    }

    [Fact]
    public void TaggedFieldWithTrailingBytesIsRejected()
    {
        // FinalizedFeaturesEpoch (int64) claims 9 bytes.
        var e = Assert.Throws<KafkaProtocolException>(() =>
        {
            var r = new KafkaReader(Hex("0000 01 00000000 01 01 09 000000000000000700").AsMemory());
            ApiVersionsResponse.Read(ref r, 3);
        });
        Assert.Equal("FinalizedFeaturesEpoch", e.Field);
    }

    [Fact]
    public void UuidIsBigEndian()
    {
        var id = Guid.Parse("00010203-0405-0607-0809-0a0b0c0d0e0f");
        var bytes = Schemas.Encode(new MetadataRequest { Topics = [new() { TopicId = id, Name = null }] }, 10);
        Assert.Equal(Hex("02 000102030405060708090a0b0c0d0e0f 00 00 01 00 00 00"), bytes);
    }

    [Fact]
    public void NullableStructUsesAnInt8Marker()
    {
        var none = new DescribeTopicPartitionsRequest { Topics = [], ResponsePartitionLimit = 1, Cursor = null };
        Assert.Equal(Hex("01 00000001 ff 00"), Schemas.Encode(none, 0));
        var some = new DescribeTopicPartitionsRequest { Topics = [], ResponsePartitionLimit = 1, Cursor = new() { TopicName = "a", PartitionIndex = 2 } };
        var bytes = Schemas.Encode(some, 0);
        Assert.Equal(Hex("01 00000001 01 02 61 00000002 00 00"), bytes);
        var reader = new KafkaReader(bytes.AsMemory());
        Assert.Equal("a", DescribeTopicPartitionsRequest.Read(ref reader, 0).Cursor!.TopicName);
    }

    [Fact]
    public void RequestHeaderClientIdKeepsTheInt16LengthInV2()
    {
        var header = new RequestHeader { RequestApiKey = 3, RequestApiVersion = 12, CorrelationId = 9, ClientId = "ab" };
        Assert.Equal(Hex("0003 000c 00000009 0002 6162 00"), Schemas.Encode(header, 2));
        Assert.Equal(Hex("0003 000c 00000009 ffff 00"), Schemas.Encode(new RequestHeader { RequestApiKey = 3, RequestApiVersion = 12, CorrelationId = 9, ClientId = null }, 2));
        Assert.Equal(Hex("0003 000c 00000009"), Schemas.Encode(header, 0)); // ClientId is ignorable

        var frame = Hex("0003 000c 00000009 0002 6162 00 ff");
        var reader = new KafkaReader(frame.AsMemory());
        var read = KafkaHeaders.ReadRequestHeader(ref reader);
        Assert.Equal("ab", read.ClientId);
        Assert.Equal(1, reader.Remaining);
    }

    [Theory]
    [InlineData((short)ApiKey.Metadata, 8, 1, 0)]
    [InlineData((short)ApiKey.Metadata, 9, 2, 1)]
    [InlineData((short)ApiKey.Produce, 8, 1, 0)]
    [InlineData((short)ApiKey.Produce, 9, 2, 1)]
    [InlineData((short)ApiKey.Fetch, 11, 1, 0)]
    [InlineData((short)ApiKey.Fetch, 12, 2, 1)]
    [InlineData((short)ApiKey.ApiVersions, 2, 1, 0)]
    [InlineData((short)ApiKey.ApiVersions, 3, 2, 0)] // ApiVersions responses always use header v0
    [InlineData((short)ApiKey.ApiVersions, 4, 2, 0)]
    [InlineData((short)ApiKey.SaslHandshake, 1, 1, 0)]
    [InlineData((short)ApiKey.DescribeCluster, 0, 2, 1)]
    [InlineData((short)ApiKey.ControlledShutdown, 0, 0, 0)]
    [InlineData((short)ApiKey.ControlledShutdown, 1, 1, 0)]
    public void HeaderVersionsFollowTheFlexibleRule(short api, short version, short request, short response)
    {
        var key = (ApiKey)api;
        Assert.Equal(request, ApiKeys.RequestHeaderVersion(key, version));
        Assert.Equal(response, ApiKeys.ResponseHeaderVersion(key, version));
    }

    [Fact]
    public void ResponseHeadersAreReadAndWrittenPerVersion()
    {
        var reader = new KafkaReader(Hex("00000005 01 07 01 aa 00000000").AsMemory());
        Assert.Equal(5, KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.Metadata, 12));
        Assert.Equal(4, reader.Remaining);

        reader = new KafkaReader(Hex("00000005 00").AsMemory());
        Assert.Equal(5, KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.ApiVersions, 3));
        Assert.Equal(1, reader.Remaining); // no tagged section in header v0

        var e = Assert.Throws<KafkaProtocolException>(() =>
        {
            var r = new KafkaReader(Hex("000000").AsMemory());
            KafkaHeaders.ReadResponseHeader(ref r, ApiKey.Metadata, 1);
        });
        Assert.Equal("CorrelationId", e.Field);

        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        KafkaHeaders.WriteResponseHeader(ref writer, ApiKey.Fetch, 12, 3);
        KafkaHeaders.WriteResponseHeader(ref writer, ApiKey.Fetch, 11, 4);
        writer.Flush();
        Assert.Equal(Hex("00000003 00 00000004"), buffer.WrittenSpan.ToArray());
        Assert.True(KafkaHeaders.TryPeekCorrelationId(buffer.WrittenSpan, out var id));
        Assert.Equal(3, id);
    }

    [Fact]
    public void RequestHeaderWithUnknownApiIsRejected()
    {
        Assert.Throws<KafkaProtocolException>(() =>
        {
            var r = new KafkaReader(Hex("7fff 0000 00000001 0000").AsMemory());
            KafkaHeaders.ReadRequestHeader(ref r);
        });
    }

    [Fact]
    public void ResponseDispatchByApiKeyDecodesCapturedFrames()
    {
        var reader = new KafkaReader(Hex("00000000000200000000000800030000000900000000").AsMemory());
        var message = MessageReaders.ReadResponse(ApiKey.ApiVersions, ref reader, 1);
        Assert.IsType<ApiVersionsResponse>(message);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            var r = new KafkaReader(ReadOnlyMemory<byte>.Empty);
            MessageReaders.ReadResponse((ApiKey)500, ref r, 0);
        });
    }

    [Fact]
    public void VersionOutsideTheRangeIsRejectedOnRead()
    {
        var e = Assert.Throws<KafkaProtocolException>(() =>
        {
            var r = new KafkaReader(ReadOnlyMemory<byte>.Empty);
            MetadataRequest.Read(ref r, 13);
        });
        Assert.Equal("MetadataRequest", e.MessageName);
    }
}

public class WriterAndReaderSurfaceTests
{
    private sealed class Segment : System.Buffers.ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    [Fact]
    public void EncodesIntoASpanAndDecodesFromAMultiSegmentSequence()
    {
        var request = new MetadataRequest { Topics = [new() { Name = "foo" }, new() { Name = "bar" }] };
        Span<byte> destination = stackalloc byte[64];
        var writer = new KafkaWriter(destination);
        request.Write(ref writer, 0);
        var bytes = destination[..(int)writer.BytesWritten].ToArray();
        Assert.Equal(KnownBytesTests.Hex("00000002 0003 666f6f 0003 626172"), bytes);

        var first = new Segment(bytes.AsMemory(0, 5), null);
        var last = new Segment(bytes.AsMemory(5), first);
        var sequence = new System.Buffers.ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        var reader = KafkaReader.Create(sequence);
        var decoded = MetadataRequest.Read(ref reader, 0);
        Assert.Equal(["foo", "bar"], decoded.Topics!.Select(t => t.Name));
    }

    [Fact]
    public void WritingPastAFixedSpanThrowsInsteadOfOverrunning()
    {
        var request = new MetadataRequest { Topics = [new() { Name = "a-long-topic-name" }] };
        Assert.Throws<InvalidOperationException>(() =>
        {
            Span<byte> small = stackalloc byte[8];
            var writer = new KafkaWriter(small);
            request.Write(ref writer, 0);
        });
    }
}
