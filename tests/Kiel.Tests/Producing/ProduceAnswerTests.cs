using Kiel.Producing.Internal;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Tests.Protocol;

namespace Kiel.Tests.Producing;

/// <summary>
/// The producer decodes Produce answers in place (<see cref="ProduceWire.ReadAnswer"/>) rather than through the generated
/// <see cref="ProduceResponse"/>: it must read exactly what the generated decoder reads, at every version, from bytes a real
/// broker (the librdkafka mock) sent and from generated ones, and refuse exactly what it refuses.
/// </summary>
public sealed class ProduceAnswerTests
{
    private static ProduceRequest RequestFor(params string[] topics) => new()
    {
        TopicData = [.. topics.Select(t => new ProduceRequest.TopicProduceData { Name = t, PartitionData = [] })],
    };

    private static List<ProducePartitionResult> Generated(ReadOnlySpan<byte> body, short version)
    {
        var reader = new KafkaReader(body, "ProduceResponse", version);
        var response = ProduceResponse.Read(ref reader, version);
        return [.. response.Responses.SelectMany(t => t.PartitionResponses.Select(p =>
            new ProducePartitionResult(t.Name, p.Index, p.ErrorCode, p.BaseOffset, p.LogAppendTimeMs, p.ErrorMessage)))];
    }

    private static List<ProducePartitionResult> InPlace(ReadOnlySpan<byte> body, short version, ProduceRequest request)
    {
        var results = new List<ProducePartitionResult> { new("stale", 9, 9, 9, 9, "left over from the last exchange") };
        ProduceWire.ReadAnswer(body, version, request, results);
        return results;
    }

    private static byte[] ResponseBody(CapturedFrameTests.Frame frame)
    {
        var reader = new KafkaReader(frame.Bytes.AsMemory());
        KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.Produce, frame.Version);
        return frame.Bytes[reader.Position..];
    }

    [Fact]
    public void Answers_the_librdkafka_mock_sent_read_as_the_generated_decoder_reads_them_with_the_requests_topic_strings()
    {
        var answers = CapturedFrameTests.Frames.Where(f => f.Key == ApiKey.Produce && !f.IsRequest).ToList();
        Assert.NotEmpty(answers);
        foreach (var frame in answers)
        {
            var body = ResponseBody(frame);
            var request = RequestFor("other", new string("capture".ToCharArray()));
            var results = InPlace(body, frame.Version, request);
            Assert.Equal(Generated(body, frame.Version), results);
            var result = Assert.Single(results);
            Assert.Equal(0, result.ErrorCode);
            Assert.Same(request.TopicData[1].Name, result.Topic);
            // A topic the request did not name still reads (as a new string).
            Assert.Equal("capture", Assert.Single(InPlace(body, frame.Version, RequestFor("other"))).Topic);
        }
    }

    private static ProduceResponse Sample(short version)
    {
        var response = new ProduceResponse { ThrottleTimeMs = 17, Responses = [] };
        foreach (var (name, partitions) in new[] { ("orders", 3), ("tópico-ü", 2) })
        {
            var topic = new ProduceResponse.TopicProduceResponse { Name = name, PartitionResponses = [] };
            for (var p = 0; p < partitions; p++)
            {
                var partition = new ProduceResponse.PartitionProduceResponse
                {
                    Index = p,
                    ErrorCode = (short)(p == 1 ? 6 : 0),
                    BaseOffset = 1000L * p + name.Length,
                    LogAppendTimeMs = p == 2 ? 1_750_000_000_123 : -1,
                    LogStartOffset = 5,
                };
                if (version >= 8 && p == 1)
                {
                    partition.ErrorMessage = "not the leader";
                    partition.RecordErrors = [new ProduceResponse.BatchIndexAndErrorMessage { BatchIndex = 2, BatchIndexErrorMessage = "bad record" }];
                }
                if (version >= 10 && p == 1) partition.CurrentLeader = new ProduceResponse.LeaderIdAndEpoch { LeaderId = 3, LeaderEpoch = 7 };
                if (version >= 9) partition.UnknownTaggedFields = [new TaggedField(99, new byte[] { 1, 2, 3 })];
                topic.PartitionResponses.Add(partition);
            }
            response.Responses.Add(topic);
        }
        if (version >= 10) response.NodeEndpoints = [new ProduceResponse.NodeEndpoint { NodeId = 3, Host = "b3", Port = 9092, Rack = null }];
        if (version >= 9) response.UnknownTaggedFields = [new TaggedField(42, new byte[] { 9 })];
        return response;
    }

    private static byte[] Encode(ProduceResponse response, short version) => InPlaceDecoders.Encode(response, version);

    [Fact]
    public void Every_version_reads_as_the_generated_decoder_reads_it()
    {
        for (short version = 0; version <= 11; version++)
        {
            var body = Encode(Sample(version), version);
            var request = RequestFor("tópico-ü", "orders");
            var results = InPlace(body, version, request);
            Assert.Equal(Generated(body, version), results);
            Assert.Equal(5, results.Count);
            Assert.Same(request.TopicData[1].Name, results[0].Topic);
            Assert.Same(request.TopicData[0].Name, results[4].Topic);
            Assert.Equal(version >= 8 ? "not the leader" : null, results[1].ErrorMessage);
            Assert.Equal(version >= 2 ? 1_750_000_000_123 : -1, results[2].LogAppendTimeMs);
        }
    }

    [Fact]
    public void A_version_past_the_schema_is_refused()
    {
        var e = Assert.Throws<KafkaProtocolException>(() => InPlace(Encode(Sample(11), 11), 12, RequestFor("orders")));
        Assert.Contains("ProduceResponse", e.Message);
    }

    [Fact]
    public void Truncated_and_mutated_answers_are_refused_exactly_when_the_generated_decoder_refuses_them()
    {
        var random = new Random(20261202);
        foreach (var version in new short[] { 0, 2, 5, 8, 9, 10, 11 })
        {
            var request = RequestFor("orders", "tópico-ü");
            InPlaceDecoders.AgreeOnCutsAndMutations(Encode(Sample(version), version),
                b => string.Join(" | ", Generated(b, version)), b => string.Join(" | ", InPlace(b, version, request)), random, 2000);
        }
    }
}
