using Kiel.Consuming;

namespace Kiel.Tests.Consuming;

public sealed class ConsumeResultTests
{
    private static ConsumeResult<string, string> Consumed(Headers? headers) =>
        new("t", 1, 42, DateTimeOffset.FromUnixTimeMilliseconds(1_000), TimestampType.CreateTime, "k", "v", headers, 3);

    [Fact]
    public void A_record_without_headers_holds_no_list_and_hands_out_an_empty_one()
    {
        var result = Consumed(null);
        Assert.False(result.HasHeaders);
        var headers = result.Headers;
        Assert.Empty(headers);
        // The record holds none: each access makes an empty list, and one added to is not kept by the record.
        headers.Add("trace", "abc");
        Assert.Empty(result.Headers);
        Assert.NotSame(headers, result.Headers);
        Assert.False(result.HasHeaders);
    }

    [Fact]
    public void A_consumed_record_is_a_struct_that_allocates_nothing_of_its_own()
    {
        Assert.True(typeof(ConsumeResult<byte[], byte[]>).IsValueType);
        var value = new byte[100];
        Consumed(null); // JIT and statics first
        var before = GC.GetAllocatedBytesForCurrentThread();
        var made = new ConsumeResult<byte[], byte[]>("t", 1, 42, DateTimeOffset.UnixEpoch, TimestampType.CreateTime, value, value, null, 3);
        var after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
        Assert.Same(value, made.Value);
    }

    [Fact]
    public void The_consumers_constructor_keeps_every_field_and_the_headers_it_was_given()
    {
        var given = new Headers { { "h", "x" } };
        var result = Consumed(given);
        Assert.Same(given, result.Headers);
        Assert.True(result.HasHeaders);
        Assert.Equal(("t", 1, 42L, 1_000L, TimestampType.CreateTime, "k", "v", (int?)3),
            (result.Topic, result.Partition, result.Offset, result.Timestamp.ToUnixTimeMilliseconds(), result.TimestampType, result.Key, result.Value, result.LeaderEpoch));
    }

    [Fact]
    public void An_initializer_still_sets_every_member()
    {
        var result = new ConsumeResult<string, string>
        {
            Topic = "t", Partition = 0, Offset = 1, Timestamp = DateTimeOffset.UnixEpoch, Key = "k", Value = "v", Headers = [],
        };
        Assert.Empty(result.Headers);
        Assert.Null(result.LeaderEpoch);
    }
}
