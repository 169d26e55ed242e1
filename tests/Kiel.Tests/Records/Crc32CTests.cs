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

    [Fact]
    public void FoldingMatchesTheTableAtEveryLengthAlignmentAndStartingValue()
    {
        // The 512-bit carry-less folding path (AVX-512 VPCLMULQDQ). On a machine without it Compute takes the CRC
        // instruction, which the other tests check; this one then checks only that Compute still agrees.
        var random = new Random(20261204);
        var data = new byte[70_000 + 3];
        random.NextBytes(data);
        for (var length = 256; length <= 1400; length++) Check(length % 4, length);
        for (var k = 0; k < 60; k++) Check(random.Next(0, 4), random.Next(256, 70_000));

        void Check(int offset, int length)
        {
            var start = (uint)random.Next() ^ ((uint)random.Next() << 16);
            var slice = data.AsSpan(offset, length);
            var expected = Crc32C.UpdateSoftware(start, slice);
            Assert.Equal(expected, Crc32C.Update(start, slice));
            if (Crc32C.IsFoldAccelerated) Assert.Equal(expected, Crc32C.UpdateFolded(start, slice));
        }
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
