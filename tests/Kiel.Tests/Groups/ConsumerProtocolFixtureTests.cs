using System.Buffers.Binary;
using Kiel.Groups.Kafka;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Tests.Groups;

/// <summary>
/// Golden bytes of the consumer protocol from Confluent.Kafka 2.16 and kafka-python 2.0.2 (Fixtures/README.md): each
/// JoinGroup and SyncGroup frame decodes and re-encodes to the same bytes, and so does every subscription and
/// assignment inside it; and each truncation or mutation of them fails cleanly.
/// </summary>
public class ConsumerProtocolFixtureTests
{
    private static string FixturePath(string file) => Path.Combine(AppContext.BaseDirectory, "Fixtures", file);

    public static TheoryData<string> GroupFiles => new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures"), "*group*.bin").Select(Path.GetFileName)!);

    private static short VersionOf(string file) => short.Parse(file[(file.LastIndexOf("-v", StringComparison.Ordinal) + 2)..^4]);

    /// <summary>The subscriptions and assignments a frame carries.</summary>
    internal static (List<ReadOnlyMemory<byte>> Subscriptions, List<ReadOnlyMemory<byte>> Assignments) Payloads(string file)
    {
        var frame = File.ReadAllBytes(FixturePath(file));
        var version = VersionOf(file);
        var reader = new KafkaReader(frame.AsMemory());
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(output);
        var subscriptions = new List<ReadOnlyMemory<byte>>();
        var assignments = new List<ReadOnlyMemory<byte>>();
        if (file.Contains(".syncgroup-response-", StringComparison.Ordinal))
        {
            var correlationId = KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.SyncGroup, version);
            var body = SyncGroupResponse.Read(ref reader, version);
            KafkaHeaders.WriteResponseHeader(ref writer, ApiKey.SyncGroup, version, correlationId);
            body.Write(ref writer, version);
            assignments.Add(body.Assignment);
        }
        else
        {
            var header = KafkaHeaders.ReadRequestHeader(ref reader);
            KafkaHeaders.WriteRequestHeader(ref writer, (ApiKey)header.RequestApiKey, version, header.CorrelationId, header.ClientId);
            if (file.Contains(".joingroup-", StringComparison.Ordinal))
            {
                var body = JoinGroupRequest.Read(ref reader, version);
                body.Write(ref writer, version);
                Assert.Equal("consumer", body.ProtocolType);
                subscriptions.AddRange(body.Protocols.Select(p => p.Metadata));
            }
            else
            {
                var body = SyncGroupRequest.Read(ref reader, version);
                body.Write(ref writer, version);
                assignments.AddRange(body.Assignments.Select(a => a.Assignment));
            }
        }
        Assert.True(reader.End);
        writer.Flush();
        Assert.Equal(Convert.ToHexString(frame), Convert.ToHexString(output.WrittenSpan));
        return (subscriptions, assignments);
    }

    [Theory]
    [MemberData(nameof(GroupFiles))]
    public void EverySubscriptionAndAssignmentReencodesToTheSameBytes(string file)
    {
        var (subscriptions, assignments) = Payloads(file);
        Assert.NotEmpty(subscriptions.Concat(assignments));
        foreach (var metadata in subscriptions)
        {
            var version = BinaryPrimitives.ReadInt16BigEndian(metadata.Span);
            var s = ConsumerProtocol.DecodeSubscription("member", null, metadata.Span);
            var again = ConsumerProtocol.EncodeSubscription(s.Topics, s.OwnedPartitions, s.Generation, s.RackId, s.UserData, version);
            Assert.Equal(Convert.ToHexString(metadata.Span), Convert.ToHexString(again));
            Assert.Equal(["orders", "payments"], s.Topics.Order(StringComparer.Ordinal));
        }
        foreach (var data in assignments)
        {
            var version = BinaryPrimitives.ReadInt16BigEndian(data.Span);
            var partitions = ConsumerProtocol.DecodeAssignment(data.Span);
            var userData = ConsumerProtocol.ReadAssignment(data.Span, out _).UserData ?? ReadOnlyMemory<byte>.Empty;
            var again = ConsumerProtocol.EncodeAssignment(partitions, userData, version);
            Assert.Equal(Convert.ToHexString(data.Span), Convert.ToHexString(again));
            Assert.All(partitions, tp => Assert.Contains(tp.Topic, new[] { "orders", "payments" }));
        }
    }

    [Fact]
    public void ConfluentSendsSubscriptionV3WithEmptyUserDataAndAnEmptyRack()
    {
        var (subscriptions, _) = Payloads("confluent-range.joingroup-v5.bin");
        Assert.Equal(2, subscriptions.Count);
        var s = ConsumerProtocol.DecodeSubscription("m", "i", subscriptions[0].Span);
        Assert.Equal(("m", "i"), (s.MemberId, s.GroupInstanceId));
        Assert.Equal((short)3, BinaryPrimitives.ReadInt16BigEndian(subscriptions[0].Span));
        Assert.Equal(["orders", "payments"], s.Topics);
        Assert.Empty(s.OwnedPartitions);
        Assert.Equal(-1, s.Generation);
        Assert.True(s.UserData.IsEmpty);
        Assert.Equal("", s.RackId);
    }

    [Fact]
    public void ConfluentCooperativeRejoinNamesOwnedPartitionsAndGeneration()
    {
        var (subscriptions, _) = Payloads("confluent-cooperative-rejoin.joingroup-v5.bin");
        var s = ConsumerProtocol.DecodeSubscription("m", null, Assert.Single(subscriptions).Span);
        Assert.Equal(7, s.OwnedPartitions.Count);
        Assert.Equal(Enumerable.Range(0, 4).Select(p => new TopicPartition("orders", p)).Concat(Enumerable.Range(0, 3).Select(p => new TopicPartition("payments", p))),
            s.OwnedPartitions.Order());
        Assert.Equal(2, s.Generation);
        // librdkafka's sticky user data ends with the same generation.
        Assert.Equal(2, BinaryPrimitives.ReadInt32BigEndian(s.UserData.Span[^4..]));
    }

    [Fact]
    public void ConfluentCooperativeLeaderSplitsTheSevenPartitions()
    {
        var (_, assignments) = Payloads("confluent-cooperative.syncgroup-v3.bin");
        Assert.Equal(2, assignments.Count);
        var all = assignments.SelectMany(a => ConsumerProtocol.DecodeAssignment(a.Span)).Order().ToArray();
        Assert.Equal(7, all.Distinct().Count());
        var (_, response) = Payloads("confluent-cooperative.syncgroup-response-v3.bin");
        Assert.NotEmpty(ConsumerProtocol.DecodeAssignment(Assert.Single(response).Span));
    }

    [Fact]
    public void KafkaPythonSendsSubscriptionV0AndAssignmentV0()
    {
        var (subscriptions, _) = Payloads("kafka-python-range.joingroup-v1.bin");
        Assert.All(subscriptions, m => Assert.Equal((short)0, BinaryPrimitives.ReadInt16BigEndian(m.Span)));
        var s = ConsumerProtocol.DecodeSubscription("m", null, subscriptions[0].Span);
        Assert.Equal((-1, (string?)null, 0), (s.Generation, s.RackId, s.UserData.Length));
        var (_, assignments) = Payloads("kafka-python-range.syncgroup-v0.bin");
        var data = Assert.Single(assignments);
        Assert.Equal((short)0, BinaryPrimitives.ReadInt16BigEndian(data.Span));
        Assert.Equal(7, ConsumerProtocol.DecodeAssignment(data.Span).Count);
    }

    [Theory]
    [MemberData(nameof(GroupFiles))]
    public void EveryTruncationAndMutationFailsCleanly(string file)
    {
        var (subscriptions, assignments) = Payloads(file);
        var rng = new Random(file.Length * 7919 + file[0]);
        var rejected = 0;
        foreach (var (payload, isSubscription) in subscriptions.Select(s => (s, true)).Concat(assignments.Select(a => (a, false))))
        {
            var bytes = payload.ToArray();
            for (var length = isSubscription ? 0 : 1; length < bytes.Length; length++)
            {
                Assert.Throws<KafkaProtocolException>(() => Decode(bytes.AsSpan(0, length), isSubscription));
                rejected++;
            }
            for (var m = 0; m < 2000; m++)
            {
                var mutated = Mutate(bytes, rng);
                var before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    Decode(mutated, isSubscription);
                }
                catch (KafkaProtocolException)
                {
                    rejected++;
                }
                // Counts and lengths are checked against the remaining bytes before anything is allocated.
                Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 64 * 1024 + 128L * mutated.Length);
            }
        }
        Assert.True(rejected > 0);
    }

    private static void Decode(ReadOnlySpan<byte> bytes, bool isSubscription)
    {
        if (isSubscription) ConsumerProtocol.DecodeSubscription("m", null, bytes);
        else ConsumerProtocol.DecodeAssignment(bytes);
    }

    private static byte[] Mutate(byte[] original, Random rng)
    {
        var bytes = (byte[])original.Clone();
        var pos = rng.Next(bytes.Length);
        switch (rng.Next(4))
        {
            case 0:
                bytes[pos] = (byte)rng.Next(256);
                return bytes;
            case 1:
                byte[][] hostile = [[0x7F, 0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0xFE], [0x80, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], [0x7F, 0xFF], [0xFF, 0xFE]];
                var h = hostile[rng.Next(hostile.Length)];
                h.AsSpan(0, Math.Min(h.Length, bytes.Length - pos)).CopyTo(bytes.AsSpan(pos));
                return bytes;
            case 2:
                return [.. bytes, .. new byte[rng.Next(1, 5)]];
            default:
                return bytes[..pos];
        }
    }
}
