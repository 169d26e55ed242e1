using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Tests.Protocol;

/// <summary>
/// Truncated and mutated frames of every message type end in a <see cref="KafkaProtocolException"/> or a valid
/// decode: never another exception, never a hang, and never an allocation out of proportion to the input.
/// </summary>
public class HostileInputTests
{
    // Decoding allocates objects per element (a class, its lists); this bounds it per input byte, with slack for
    // the allocation-context granularity of GC.GetAllocatedBytesForCurrentThread.
    private const int BytesPerInputByte = 96;
    private const int Slack = 64 * 1024;

    private static int StableSeed(string s)
    {
        var h = 17;
        foreach (var c in s) h = h * 31 + c;
        return h;
    }

    [Theory]
    [MemberData(nameof(RoundTripTests.MessageNames), MemberType = typeof(RoundTripTests))]
    public void TruncatedAndMutatedFramesFailCleanly(string name)
    {
        var spec = Schemas.Spec(name);
        var type = Schemas.TypeOf(spec);
        var read = Schemas.ReaderOf(type);
        var rng = new Random(StableSeed(name));
        var decoded = 0;
        var rejected = 0;
        foreach (var version in Schemas.VersionsOf(spec))
        {
            for (var f = 0; f < 3; f++)
            {
                var frame = Schemas.Encode(new MessageValues(rng.Next()).Create(spec, version), version);
                // Every truncation (long frames: a sample of them, so the test stays fast).
                var step = Math.Max(1, frame.Length / 256);
                for (var length = 0; length < frame.Length; length += step)
                    Check(frame.AsMemory(0, length), read, name, version, ref decoded, ref rejected);
                for (var m = 0; m < 400; m++)
                    Check(Mutate(frame, rng), read, name, version, ref decoded, ref rejected);
            }
        }
        Assert.True(rejected > 0);
    }

    private static readonly byte[][] Hostile =
    [
        [0x7F, 0xFF, 0xFF, 0xFF], // int32 count or length of int.MaxValue
        [0xFF, 0xFF, 0xFF, 0xFE], // -2
        [0x80, 0x00, 0x00, 0x00], // int.MinValue
        [0xFF, 0xFF, 0xFF, 0xFF], // -1 (null) where maybe not nullable
        [0x7F, 0xFF],             // int16 length 32767
        [0xFF, 0xFE],             // int16 -2
        [0xFF, 0xFF, 0xFF, 0xFF, 0x0F], // compact length of uint.MaxValue
        [0xFE, 0xFF, 0xFF, 0xFF, 0x07], // compact length of int.MaxValue
        [0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // over-long varint
        [0x00],                   // compact null
    ];

    private static ReadOnlyMemory<byte> Mutate(byte[] frame, Random rng)
    {
        if (frame.Length == 0) return Hostile[rng.Next(Hostile.Length)];
        var bytes = (byte[])frame.Clone();
        var pos = rng.Next(bytes.Length);
        switch (rng.Next(5))
        {
            case 0:
                bytes[pos] = (byte)rng.Next(256);
                return bytes;
            case 1:
                var h = Hostile[rng.Next(Hostile.Length)];
                h.AsSpan(0, Math.Min(h.Length, bytes.Length - pos)).CopyTo(bytes.AsSpan(pos));
                return bytes;
            case 2:
                return bytes.AsMemory(0, pos); // truncated at a random point
            case 3:
                var inserted = new byte[bytes.Length + 1];
                bytes.AsSpan(0, pos).CopyTo(inserted);
                inserted[pos] = (byte)rng.Next(256);
                bytes.AsSpan(pos).CopyTo(inserted.AsSpan(pos + 1));
                return inserted;
            default:
                for (var i = 0; i < 4; i++) bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                return bytes;
        }
    }

    private static void Check(ReadOnlyMemory<byte> input, Schemas.ReadFn read, string name, short version, ref int decoded, ref int rejected)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            var reader = new KafkaReader(input);
            read(ref reader, version);
            decoded++;
        }
        catch (KafkaProtocolException e)
        {
            Assert.Equal(name, e.MessageName);
            Assert.Equal(version, e.Version);
            rejected++;
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException(
                $"{name} v{version}: {e.GetType().Name} instead of KafkaProtocolException for input {Convert.ToHexString(input.Span)}: {e}");
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > (long)input.Length * BytesPerInputByte + Slack)
            throw new Xunit.Sdk.XunitException(
                $"{name} v{version}: decoding {input.Length} bytes allocated {allocated} bytes; input {Convert.ToHexString(input.Span)}");
    }

    [Fact]
    public void ArrayCountOfIntMaxValueIsRejectedBeforeAllocating()
    {
        // MetadataResponse v1: Brokers count int.MaxValue, nothing behind it.
        var bytes = KnownBytesTests.Hex("7fffffff 0000");
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<KafkaProtocolException>(() =>
        {
            var r = new KafkaReader(bytes.AsMemory());
            MetadataResponse.Read(ref r, 1);
        });
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 * 1024);
        Assert.Equal("Brokers", e.Field);
        Assert.Contains("2147483647", e.Message);
    }

    [Theory]
    [InlineData("fffe", "negative length")]       // string length -2
    [InlineData("7fff 61", "truncated")]          // 32767 bytes claimed, 1 present
    [InlineData("ffff", "not nullable")]          // null where the field is not nullable
    public void BadStringLengthsAreRejected(string hex, string expected)
    {
        var bytes = KnownBytesTests.Hex(hex);
        var e = Assert.Throws<KafkaProtocolException>(() =>
        {
            var r = new KafkaReader(bytes.AsMemory());
            SaslHandshakeRequest.Read(ref r, 1);
        });
        Assert.Equal("Mechanism", e.Field);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void CompactLengthsBeyondIntRangeAreRejected()
    {
        // ApiVersionsRequest v3: ClientSoftwareName with a compact length of uint.MaxValue.
        var bytes = KnownBytesTests.Hex("ffffffff0f");
        var e = Assert.Throws<KafkaProtocolException>(() =>
        {
            var r = new KafkaReader(bytes.AsMemory());
            ApiVersionsRequest.Read(ref r, 3);
        });
        Assert.Equal("ClientSoftwareName", e.Field);
    }

    [Fact]
    public void HugeTaggedFieldCountsAndSizesAreRejected()
    {
        foreach (var hex in new[] { "0000 01 00000000 ffffffff07", "0000 01 00000000 01 05 ffffffff07" })
        {
            var bytes = KnownBytesTests.Hex(hex);
            Assert.Throws<KafkaProtocolException>(() =>
            {
                var r = new KafkaReader(bytes.AsMemory());
                ApiVersionsResponse.Read(ref r, 3);
            });
        }
    }
}
