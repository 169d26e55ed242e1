using System.Text;
using FsCheck.Xunit;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Records;

public class Crc32CTests
{
    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("123456789", 0xE3069283u)]
    [InlineData("a", 0xC1D04330u)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x22620404u)]
    public void KnownValues(string text, uint expected)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        Assert.Equal(expected, Crc32C.Compute(bytes));
        Assert.Equal(expected, ~Crc32C.UpdateSoftware(0xFFFFFFFF, bytes));
    }

    [Fact]
    public void ThirtyTwoZeroBytesMatchRfc3720()
    {
        // iSCSI (RFC 3720, B.4) test vectors.
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
    }

    [Theory]
    [InlineData(12287)]
    [InlineData(12288)]
    [InlineData(12289)]
    [InlineData(50_000)]
    [InlineData(1 << 20)]
    public void LargeInputsMatchTheTableAcrossInterleavedBlocks(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        Assert.Equal(~Crc32C.UpdateSoftware(0xFFFFFFFF, data), Crc32C.Compute(data));
        Assert.Equal(~Crc32C.UpdateSoftware(0xFFFFFFFF, data.AsSpan(3)), Crc32C.Compute(data.AsSpan(3)));
    }

    [Property(MaxTest = 300)]
    public bool HardwareAndTableAgree(byte[] data, int split)
    {
        split = data.Length == 0 ? 0 : Math.Abs(split % (data.Length + 1));
        var whole = ~Crc32C.UpdateSoftware(0xFFFFFFFF, data);
        var chained = ~Crc32C.Update(Crc32C.Update(0xFFFFFFFF, data.AsSpan(0, split)), data.AsSpan(split));
        return whole == Crc32C.Compute(data) && whole == chained;
    }
}
