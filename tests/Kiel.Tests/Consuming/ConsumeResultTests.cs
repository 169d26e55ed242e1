using Kiel.Consuming;

namespace Kiel.Tests.Consuming;

public sealed class ConsumeResultTests
{
    private static ConsumeResult<string, string> Consumed(Headers? headers) =>
        new("t", 1, 42, DateTimeOffset.FromUnixTimeMilliseconds(1_000), TimestampType.CreateTime, "k", "v", headers, 3);

    [Fact]
    public void A_record_without_headers_gets_one_empty_list_on_first_access_that_keeps_what_the_application_adds()
    {
        var result = Consumed(null);
        var headers = result.Headers;
        Assert.Empty(headers);
        Assert.Same(headers, result.Headers);
        headers.Add("trace", "abc");
        Assert.Equal("abc", result.Headers.LastOrNull("trace")?.ValueAsString());
        // Each record has a list of its own: a header added to one is not seen by another.
        Assert.Empty(Consumed(null).Headers);
    }

    [Fact]
    public void The_consumers_constructor_keeps_every_field_and_the_headers_it_was_given()
    {
        var given = new Headers { { "h", "x" } };
        var result = Consumed(given);
        Assert.Same(given, result.Headers);
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
