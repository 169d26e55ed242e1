using System.Text;
using Kiel.Producing;

namespace Kiel.Tests.Producing;

public class PartitionerTests
{
    // Published vectors from Apache Kafka's UtilsTest.testMurmur2 (Java's signed int results).
    [Theory]
    [InlineData("21", -973932308)]
    [InlineData("foobar", -790332482)]
    [InlineData("a-little-bit-long-string", -985981536)]
    [InlineData("a-little-bit-longer-string", -1486304829)]
    [InlineData("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971)]
    [InlineData("abc", 479470107)]
    public void Murmur2_matches_the_java_client(string key, int expected) =>
        Assert.Equal(expected, Murmur2.Hash(Encoding.ASCII.GetBytes(key)));

    [Fact]
    public void ToPositive_clears_only_the_sign_bit()
    {
        Assert.Equal(int.MaxValue, Murmur2.ToPositive(-1));
        Assert.Equal(0, Murmur2.ToPositive(int.MinValue));
        Assert.Equal(42, Murmur2.ToPositive(42));
    }

    [Theory]
    [InlineData("21", 8)]
    [InlineData("foobar", 3)]
    [InlineData("abc", 7)]
    public void Default_partitioner_uses_toPositive_murmur2_modulo(string key, int partitions)
    {
        var bytes = Encoding.ASCII.GetBytes(key);
        var expected = (Murmur2.Hash(bytes) & 0x7fffffff) % partitions;
        Assert.Equal(expected, Partitioners.Default.Partition("t", bytes, false, partitions));
    }

    [Fact]
    public void Crc32_is_zlibs()
    {
        Assert.Equal(0xCBF43926u, Partitioners.Crc32Of("123456789"u8));
        Assert.Equal(0u, Partitioners.Crc32Of([]));
    }

    [Fact]
    public void Consistent_random_is_crc32_modulo_for_keys_and_in_range_without()
    {
        var p = Partitioners.ConsistentRandom;
        Assert.Equal((int)(0xCBF43926u % 7), p.Partition("t", "123456789"u8, false, 7));
        for (var i = 0; i < 100; i++)
            Assert.InRange(p.Partition("t", [], true, 5), 0, 4);
        Assert.Equal(0, Partitioners.Consistent.Partition("t", [], true, 5));
    }

    [Fact]
    public void Sticky_keeps_a_partition_until_its_batch_is_sealed_then_moves()
    {
        var p = Partitioners.Default;
        var first = p.Partition("t", [], true, 6);
        for (var i = 0; i < 50; i++) Assert.Equal(first, p.Partition("t", [], true, 6));
        p.OnBatchSealed("t", (first + 1) % 6, 6); // another partition's batch: no move
        Assert.Equal(first, p.Partition("t", [], true, 6));
        p.OnBatchSealed("t", first, 6);
        var second = p.Partition("t", [], true, 6);
        Assert.NotEqual(first, second);
        Assert.InRange(second, 0, 5);
    }

    [Fact]
    public void Sticky_with_one_partition_stays_on_it()
    {
        var p = Partitioners.Default;
        Assert.Equal(0, p.Partition("t", [], true, 1));
        p.OnBatchSealed("t", 0, 1);
        Assert.Equal(0, p.Partition("t", [], true, 1));
    }

    [Fact]
    public void Round_robin_cycles_per_topic()
    {
        var p = Partitioners.RoundRobin;
        var seen = Enumerable.Range(0, 6).Select(_ => p.Partition("a", "k"u8, false, 3)).ToArray();
        Assert.Equal([0, 1, 2, 0, 1, 2], seen);
        Assert.Equal(0, p.Partition("b", [], true, 3));
    }

    [Fact]
    public void Func_partitioner_is_called_with_the_key()
    {
        var p = Partitioners.FromFunc((topic, key, isNull, count) => isNull ? count - 1 : key.Length % count);
        Assert.Equal(3, p.Partition("t", "abc"u8, false, 5));
        Assert.Equal(4, p.Partition("t", [], true, 5));
    }
}
