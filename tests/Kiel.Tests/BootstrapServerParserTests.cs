using Kiel.Consuming;
using Kiel.Producing;

namespace Kiel.Tests;

public class BootstrapServerParserTests
{
    [Theory]
    [InlineData("a:9092", new[] { "a:9092" })]
    [InlineData("kafka1:9092, kafka2:9093 ,kafka3", new[] { "kafka1:9092", "kafka2:9093", "kafka3" })]
    [InlineData("[::1]:9092,127.0.0.1:1", new[] { "[::1]:9092", "127.0.0.1:1" })]
    public void A_comma_separated_list_parses_into_trimmed_entries(string servers, string[] expected)
    {
        Assert.Null(BootstrapServerParser.Problem(servers));
        Assert.Equal(expected, BootstrapServerParser.Parse(servers));
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("   ", "is empty")]
    [InlineData("a:9092,,b:9092", "empty entry")]
    [InlineData("a:9092,b:notaport", "'b:notaport'")]
    [InlineData("a:0", "'a:0'")]
    [InlineData("a:65536", "'a:65536'")]
    [InlineData("a:1:2", "'a:1:2'")]
    [InlineData("my host:9092", "'my host:9092'")]
    [InlineData("a:9092/chroot", "'a:9092/chroot'")]
    public void A_bad_list_gets_an_error_that_names_the_entry_and_the_fix(string servers, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => BootstrapServerParser.Parse(servers, "X.BootstrapServers"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("X.BootstrapServers: ", e.Message);
        Assert.Contains("host:port", e.Message);
    }

    [Fact]
    public void Every_options_type_checks_the_bootstrap_list_the_same_way()
    {
        const string bad = "ok:9092,bad:x";
        var producer = Assert.Throws<ArgumentException>(() => new KielProducerOptions { BootstrapServers = bad }.Validate());
        var consumer = Assert.Throws<ArgumentException>(() => new KielConsumerOptions { BootstrapServers = bad }.Validate());
        var grouped = Assert.Throws<ArgumentException>(() => new GroupedConsumerOptions { BootstrapServers = bad, Group = "g" }.Validate());
        foreach (var e in new[] { producer, consumer, grouped })
        {
            Assert.Contains("BootstrapServers", e.Message);
            Assert.Contains("'bad:x'", e.Message);
        }
        Assert.Equal(["ok:9092", "other:1"], new KielConsumerOptions { BootstrapServers = "ok:9092,other:1" }.BootstrapServerList);
    }
}
