using Kiel.Protocol;

namespace Kiel.Tests;

public class VarIntTests
{
    [Theory]
    [InlineData(0, new byte[] { 0x00 })]
    [InlineData(-1, new byte[] { 0x01 })]
    [InlineData(1, new byte[] { 0x02 })]
    [InlineData(63, new byte[] { 0x7E })]
    [InlineData(-64, new byte[] { 0x7F })]
    [InlineData(64, new byte[] { 0x80, 0x01 })]
    [InlineData(int.MaxValue, new byte[] { 0xFE, 0xFF, 0xFF, 0xFF, 0x0F })]
    [InlineData(int.MinValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })]
    public void ZigZagVarIntMatchesProtobufBytes(int value, byte[] expected)
    {
        var buffer = new byte[5];
        var n = VarInt.WriteVarInt(buffer, value);
        Assert.Equal(expected, buffer[..n]);
        Assert.Equal(expected.Length, VarInt.SizeOfVarInt(value));
        var reader = new KafkaReader(expected.AsSpan());
        Assert.Equal(value, reader.ReadVarInt());
        Assert.True(reader.End);
    }

    [Fact]
    public void SixByteVarIntIsRejected()
    {
        var bytes = new byte[] { 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
        var ex = Assert.Throws<KafkaProtocolException>(() => new KafkaReader(bytes.AsSpan(), "Test", 0).ReadUnsignedVarInt());
        Assert.Contains("Test v0", ex.Message);
    }

    [Fact]
    public void HostileArrayCountIsRejectedBeforeAllocation()
    {
        var bytes = new byte[] { 0x7F, 0xFF, 0xFF, 0xFF, 0x00 };
        Assert.Throws<KafkaProtocolException>(() => new KafkaReader(bytes.AsSpan()).ReadArrayLength(false));
    }
}
