using System.Runtime.InteropServices;
using Kiel.Consuming;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Tests.Protocol;
using Row = Kiel.Tests.Consuming.FetchAnswerRows.Row;

namespace Kiel.Tests.Consuming;

/// <summary>
/// The consumer decodes Fetch answers in place (<see cref="FetchAnswer.Read"/>) rather than through the generated
/// <see cref="FetchResponse"/>: it must read exactly what the generated decoder reads at every version it is used for,
/// refuse exactly what it refuses, and point the records into the body rather than copy them. Answers a real broker
/// (the librdkafka mock) sent are compared in the integration tests (FetchAnswerPeerTests).
/// </summary>
public sealed class FetchAnswerTests
{
    private static (short ErrorCode, int SessionId, List<Row> Rows) Generated(ReadOnlyMemory<byte> body, short version) => FetchAnswerRows.Generated(body, version);

    private static (short ErrorCode, int SessionId, List<Row> Rows) InPlace(ReadOnlyMemory<byte> body, short version, IReadOnlyList<string> known,
        List<FetchPartitionResponse>? results = null) => FetchAnswerRows.InPlace(body, version, known, results);

    private static FetchResponse Sample(short version)
    {
        var response = new FetchResponse { ThrottleTimeMs = 11, ErrorCode = (short)(version >= 7 ? 70 : 0), SessionId = version >= 7 ? 1234 : 0, Responses = [] };
        foreach (var (name, partitions) in new[] { ("orders", 3), ("tópico-ü", 2) })
        {
            var topic = new FetchResponse.FetchableTopicResponse { Topic = name, Partitions = [] };
            for (var p = 0; p < partitions; p++)
            {
                var partition = new FetchResponse.PartitionData
                {
                    PartitionIndex = p,
                    ErrorCode = (short)(p == 1 ? 6 : 0),
                    HighWatermark = 1000L * p + name.Length,
                    LastStableOffset = version >= 4 ? 900L * p : -1,
                    LogStartOffset = version >= 5 ? 3 : -1,
                    Records = p == 1 ? null : new byte[] { (byte)p, 1, 2, 3, (byte)name.Length },
                };
                if (version >= 4 && p == 2)
                    partition.AbortedTransactions = [new FetchResponse.AbortedTransaction { ProducerId = 77, FirstOffset = 5 }, new FetchResponse.AbortedTransaction { ProducerId = 78, FirstOffset = 9 }];
                if (version >= 4 && p == 1) partition.AbortedTransactions = null;
                if (version >= 11) partition.PreferredReadReplica = p == 0 ? 2 : -1;
                if (version >= 12)
                {
                    if (p == 1) partition.CurrentLeader = new FetchResponse.LeaderIdAndEpoch { LeaderId = 3, LeaderEpoch = 7, UnknownTaggedFields = [new TaggedField(5, new byte[] { 4 })] };
                    if (p == 2) partition.DivergingEpoch = new FetchResponse.EpochEndOffset { Epoch = 4, EndOffset = 40 };
                    if (p == 0) partition.SnapshotId = new FetchResponse.SnapshotId { EndOffset = 12, Epoch = 2 };
                    partition.UnknownTaggedFields = [new TaggedField(99, new byte[] { 1, 2, 3 })];
                }
                topic.Partitions.Add(partition);
            }
            if (version >= 12) topic.UnknownTaggedFields = [new TaggedField(7, new byte[] { 8, 9 })];
            response.Responses.Add(topic);
        }
        if (version >= 12) response.UnknownTaggedFields = [new TaggedField(42, new byte[] { 9 })];
        return response;
    }

    private static byte[] Encode(FetchResponse response, short version) => InPlaceDecoders.Encode(response, version);

    [Fact]
    public void Every_version_reads_as_the_generated_decoder_reads_it_with_the_known_topic_strings()
    {
        for (short version = 0; version <= FetchAnswer.MaxVersion; version++)
        {
            var body = Encode(Sample(version), version);
            var known = new List<string> { new("tópico-ü".ToCharArray()), new("orders".ToCharArray()) };
            var results = new List<FetchPartitionResponse>();
            var inPlace = InPlace(body, version, known, results);
            var generated = Generated(body, version);
            Assert.Equal(generated.Rows, inPlace.Rows);
            Assert.Equal((generated.ErrorCode, generated.SessionId), (inPlace.ErrorCode, inPlace.SessionId));
            Assert.Equal(version >= 7 ? 1234 : 0, inPlace.SessionId);
            Assert.Equal(5, results.Count);
            Assert.Same(known[1], results[0].TopicPartition.Topic);
            Assert.Same(known[0], results[4].TopicPartition.Topic);
            Assert.Equal(version >= 4 ? "77@5,78@9" : "", inPlace.Rows[2].Aborted);
            Assert.Null(results[1].AbortedTransactions);
            Assert.Null(results[0].AbortedTransactions); // none: no list is made
            Assert.Equal(version >= 12 ? (3, 7) : (-1, -1), (results[1].CurrentLeaderId, results[1].CurrentLeaderEpoch));
            Assert.Equal(version >= 5 ? 3 : -1, results[0].LogStartOffset);
            Assert.Equal(version >= 4 ? 1800 : -1, results[2].LastStableOffset);
            // The records are slices of the body, not copies.
            Assert.True(MemoryMarshal.TryGetArray(results[0].Records, out var segment));
            Assert.Same(body, segment.Array);
            Assert.True(results[1].Records.IsEmpty);
        }
    }

    [Fact]
    public void A_topic_not_known_reads_as_a_new_string_and_the_results_are_refilled()
    {
        var body = Encode(Sample(12), 12);
        var results = new List<FetchPartitionResponse>();
        InPlace(body, 12, ["orders"], results);
        Assert.Equal(["orders", "orders", "orders", "tópico-ü", "tópico-ü"], results.Select(r => r.TopicPartition.Topic));
        InPlace(Encode(new FetchResponse { Responses = [] }, 12), 12, [], results);
        Assert.Empty(results);
    }

    [Fact]
    public void A_version_past_the_one_kiel_sends_is_refused()
    {
        var e = Assert.Throws<KafkaProtocolException>(() => InPlace(Encode(Sample(12), 12), 13, ["orders"]));
        Assert.Contains("FetchResponse", e.Message);
        Assert.Contains("0-12", e.Message);
    }

    [Fact]
    public void Truncated_and_mutated_answers_are_refused_exactly_when_the_generated_decoder_refuses_them()
    {
        var random = new Random(20261203);
        string[] known = ["orders", "tópico-ü"];
        foreach (var version in new short[] { 0, 1, 4, 5, 7, 11, 12 })
            InPlaceDecoders.AgreeOnCutsAndMutations(Encode(Sample(version), version),
                b => Text(Generated(b, version)), b => Text(InPlace(b, version, known)), random, 3000);
    }

    private static string Text((short ErrorCode, int SessionId, List<Row> Rows) answer) =>
        $"{answer.ErrorCode} {answer.SessionId}: {string.Join(" | ", answer.Rows)}";

    /// <summary>A v12 answer of one partition whose only tagged field is CurrentLeader (leader 5, epoch 8), declared
    /// <paramref name="declaredSize"/> bytes long and followed by <paramref name="extra"/> bytes inside that size.</summary>
    private static byte[] WithCurrentLeader(int declaredSize, int extra)
    {
        var body = new List<byte> { 0, 0, 0, 0, /* error */ 0, 0, /* session */ 0, 0, 0, 0, /* 1 topic */ 2, /* "t" */ 2, (byte)'t', /* 1 partition */ 2 };
        body.AddRange([0, 0, 0, 1, /* error */ 0, 0]);
        for (var i = 0; i < 3; i++) body.AddRange([0, 0, 0, 0, 0, 0, 0, 9]); // high watermark, last stable, log start
        body.AddRange([/* aborted: null */ 0, /* preferred replica */ 0xFF, 0xFF, 0xFF, 0xFF, /* records: null */ 0]);
        body.AddRange([/* 1 tag */ 1, /* tag 1 */ 1, (byte)declaredSize, 0, 0, 0, 5, 0, 0, 0, 8, /* no inner tags */ 0]);
        for (var i = 0; i < extra; i++) body.Add(0);
        body.AddRange([/* topic tags */ 0, /* top-level tags */ 0]);
        return [.. body];
    }

    [Fact]
    public void A_known_tagged_field_must_fill_exactly_its_declared_size()
    {
        var exact = WithCurrentLeader(9, 0);
        var row = Assert.Single(InPlace(exact, 12, ["t"]).Rows);
        Assert.Equal((5, 8), (row.LeaderId, row.LeaderEpoch));
        Assert.Equal(Generated(exact, 12).Rows, InPlace(exact, 12, ["t"]).Rows);

        var loose = WithCurrentLeader(10, 1);
        Assert.Throws<KafkaProtocolException>(() => Generated(loose, 12));
        var e = Assert.Throws<KafkaProtocolException>(() => InPlace(loose, 12, ["t"]));
        Assert.Contains("left over", e.Message);
        Assert.Throws<KafkaProtocolException>(() => InPlace(WithCurrentLeader(8, 0), 12, ["t"]));
    }

    [Fact]
    public void A_count_the_body_cannot_hold_is_refused_before_anything_is_allocated()
    {
        // v12: throttle, error, session, then a compact topic count of 2^31 - 2.
        byte[] body = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x07];
        var e = Assert.Throws<KafkaProtocolException>(() => InPlace(body, 12, []));
        Assert.Contains("cannot fit", e.Message);
        Assert.Throws<KafkaProtocolException>(() => Generated(body, 12));
    }
}
