using Kiel.Producing;
using Kiel.Protocol.Compression;

namespace Kiel.Tests.Producing;

public class ProducerOptionsTests
{
    private static readonly KielProducerOptions Good = new() { BootstrapServers = "127.0.0.1:9092" };

    [Fact]
    public void Defaults_are_the_documented_ones()
    {
        Good.Validate();
        Assert.Equal(Acks.All, Good.Acks);
        Assert.Equal(TimeSpan.FromMilliseconds(5), Good.Linger);
        Assert.Equal(5, Good.MaxInFlight);
        Assert.Equal(TimeSpan.FromSeconds(120), Good.DeliveryTimeout);
        Assert.True(Good.EnableIdempotence);
        Assert.Equal(64L * 1024 * 1024, Good.BufferMemory);
        Assert.Equal(-1, (short)Acks.All);
    }

    public static TheoryData<KielProducerOptions, string> Bad => new()
    {
        { new KielProducerOptions(), "BootstrapServers" },
        { Good with { BootstrapServers = "a:9092,b:notaport" }, "b:notaport" },
        { Good with { ClientId = "" }, "ClientId" },
        { Good with { RetryBackoff = TimeSpan.FromMilliseconds(-1) }, "RetryBackoff" },
        { Good with { Acks = (Acks)2 }, "Acks" },
        { Good with { Acks = Acks.Leader }, "idempotence needs Acks.All" },
        { Good with { BatchSize = 10 }, "BatchSize" },
        { Good with { MaxInFlight = 0 }, "MaxInFlight" },
        { Good with { Compression = CompressionType.Gzip, CompressionLevel = 12 }, "gzip" },
        { Good with { Compression = CompressionType.Snappy, CompressionLevel = 1 }, "no levels" },
        { Good with { DeliveryTimeout = TimeSpan.FromSeconds(1) }, "Linger + RequestTimeout" },
        { Good with { BufferMemory = 100 }, "BufferMemory" },
        { Good with { Linger = TimeSpan.FromMilliseconds(-1) }, "Linger" },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public void Validate_says_what_is_wrong(KielProducerOptions options, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Acks_leader_without_idempotence_is_fine() =>
        (Good with { Acks = Acks.Leader, EnableIdempotence = false }).Validate();
}
