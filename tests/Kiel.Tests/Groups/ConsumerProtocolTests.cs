using System.Buffers.Binary;
using Kiel.Groups.Kafka;

namespace Kiel.Tests.Groups;

/// <summary>The consumer protocol encodings, version by version, and what a decoder must refuse.</summary>
public class ConsumerProtocolTests
{
    private static readonly TopicPartition[] Owned = [new("b", 2), new("a", 0), new("b", 0)];

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void SubscriptionRoundTripsWhatItsVersionCarries(short version)
    {
        var bytes = ConsumerProtocol.EncodeSubscription(["a", "b"], Owned, 7, "rack-1", new byte[] { 1, 2, 3 }, version);
        Assert.Equal(version, BinaryPrimitives.ReadInt16BigEndian(bytes));
        var s = ConsumerProtocol.DecodeSubscription("member-1", "instance-1", bytes);
        Assert.Equal(("member-1", "instance-1"), (s.MemberId, s.GroupInstanceId));
        Assert.Equal(["a", "b"], s.Topics);
        Assert.Equal(new byte[] { 1, 2, 3 }, s.UserData.ToArray());
        // Grouped by topic in order of first appearance: b's partitions come together.
        Assert.Equal(version >= 1 ? [new("b", 2), new("b", 0), new("a", 0)] : Array.Empty<TopicPartition>(), s.OwnedPartitions);
        Assert.Equal(version >= 2 ? 7 : -1, s.Generation);
        Assert.Equal(version >= 3 ? "rack-1" : null, s.RackId);
    }

    [Fact]
    public void SubscriptionV3HasTheLayoutOfTheSchema()
    {
        var bytes = ConsumerProtocol.EncodeSubscription(["t"], [new("t", 5)], 2, null, default, 3);
        Assert.Equal(
            "0003" + "00000001" + "0001" + "74" // version, topics ["t"]
            + "00000000"                         // user data: empty, not null
            + "00000001" + "0001" + "74" + "00000001" + "00000005" // owned [t: [5]]
            + "00000002"                         // generation
            + "FFFF",                            // rack: null
            Convert.ToHexString(bytes));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void AssignmentRoundTrips(short version)
    {
        var bytes = ConsumerProtocol.EncodeAssignment(Owned, default, version);
        Assert.Equal("00" + version.ToString("X2") + "00000002" + "0001" + "62" + "00000002" + "00000002" + "00000000" + "0001" + "61" + "00000001" + "00000000" + "00000000",
            Convert.ToHexString(bytes));
        Assert.Equal([new("b", 2), new("b", 0), new("a", 0)], ConsumerProtocol.DecodeAssignment(bytes));
    }

    [Fact]
    public void AnEmptyAssignmentIsNoPartitions()
        => Assert.Empty(ConsumerProtocol.DecodeAssignment([]));

    [Fact]
    public void ANewerVersionIsReadWithTheV3LayoutAndItsExtraFieldsIgnored()
    {
        var v3 = ConsumerProtocol.EncodeSubscription(["t"], [new("t", 1)], 9, "r", default, 3);
        byte[] v5 = [0, 5, .. v3.AsSpan(2), 0xAB, 0xCD]; // a future field appended
        var s = ConsumerProtocol.DecodeSubscription("m", null, v5);
        Assert.Equal((9, "r"), (s.Generation, s.RackId));
        Assert.Equal([new TopicPartition("t", 1)], s.OwnedPartitions);

        var a3 = ConsumerProtocol.EncodeAssignment([new("t", 1)], default, 3);
        byte[] a4 = [0, 4, .. a3.AsSpan(2), 0x01];
        Assert.Equal([new TopicPartition("t", 1)], ConsumerProtocol.DecodeAssignment(a4));
    }

    [Fact]
    public void MalformedInputIsRefusedWithTheFieldNamed()
    {
        var good = ConsumerProtocol.EncodeSubscription(["t"], [new("t", 1)], 1, null, default, 3);
        Assert.Contains("negative", Refused([0xFF, 0xFF, .. good.AsSpan(2)]).Message);          // version -1
        Assert.Contains("left after", Refused([.. good, 0]).Message);                          // trailing byte at a known version
        Assert.Contains("Version", Refused([0x00]).Message);                                    // no room for the version
        Assert.Equal("ConsumerProtocolSubscription", Refused(good.AsSpan(0, good.Length - 1).ToArray()).MessageName);
        byte[] negativePartition = [.. good];
        BinaryPrimitives.WriteInt32BigEndian(negativePartition.AsSpan(good.Length - 10), -3);  // owned partition id
        Assert.Contains("partition -3", Refused(negativePartition).Message);
        byte[] hugeCount = [0, 0, 0x7F, 0xFF, 0xFF, 0xFF];
        Assert.Contains("cannot fit", Refused(hugeCount).Message);                             // no allocation for 2^31 topics

        var assignment = ConsumerProtocol.EncodeAssignment([new("t", 1)], default, 0);
        var e = Assert.Throws<KafkaProtocolException>(() => ConsumerProtocol.DecodeAssignment([.. assignment, 1, 2]));
        Assert.Equal("ConsumerProtocolAssignment", e.MessageName);
        Assert.Throws<KafkaProtocolException>(() => ConsumerProtocol.DecodeAssignment([0, 0, 0, 0, 0, 1]));

        static KafkaProtocolException Refused(byte[] bytes) => Assert.Throws<KafkaProtocolException>(() => ConsumerProtocol.DecodeSubscription("m", null, bytes));
    }

    [Fact]
    public void EncodingRefusesAVersionItDoesNotKnow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ConsumerProtocol.EncodeSubscription(["t"], [], -1, null, default, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => ConsumerProtocol.EncodeAssignment([], default, -1));
    }
}
