using Kiel.Cluster;
using Kiel.Network;
using Kiel.Protocol;

namespace Kiel.Tests.Network;

public sealed class NetworkPrimitivesTests
{
    [Theory]
    [InlineData("kafka", "kafka", 9092)]
    [InlineData("kafka:9093", "kafka", 9093)]
    [InlineData(" 127.0.0.1:1 ", "127.0.0.1", 1)]
    [InlineData("[::1]:9094", "::1", 9094)]
    [InlineData("[::1]", "::1", 9092)]
    [InlineData("::1", "::1", 9092)]
    public void Parses_broker_addresses_with_the_default_port(string text, string host, int port)
    {
        var e = BrokerEndpoint.Parse(text);
        Assert.Equal(host, e.Host);
        Assert.Equal(port, e.Port);
        Assert.Equal(-1, e.NodeId);
    }

    [Theory]
    [InlineData("")]
    [InlineData("kafka:")]
    [InlineData("kafka:0")]
    [InlineData("kafka:70000")]
    [InlineData("kafka:x")]
    [InlineData(":9092")]
    [InlineData("[::1")]
    public void Rejects_bad_addresses_with_a_clear_message(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => BrokerEndpoint.Parse(text));
        Assert.Contains("host:port", e.Message);
    }

    [Fact]
    public void Chooses_the_highest_common_version_capped_by_Kiel()
    {
        var table = new ApiVersionTable(new Dictionary<ApiKey, ApiVersionRange>
        {
            [ApiKey.Metadata] = new(0, 13),
            [ApiKey.Produce] = new(3, 11),
            [ApiKey.Fetch] = new(4, 4),
        });
        Assert.Equal(KielApiVersions.Get(ApiKey.Metadata)!.Value.Max, table.Choose(ApiKey.Metadata));
        Assert.Equal(7, table.Choose(ApiKey.Produce, 0, 7));
        Assert.Equal(4, table.Choose(ApiKey.Fetch));
        Assert.False(table.TryChoose(ApiKey.Fetch, 5, 16, out _));
        Assert.False(table.Supports(ApiKey.OffsetCommit));
        var e = Assert.Throws<UnsupportedVersionException>(() => table.Choose(ApiKey.Produce, 0, 2));
        Assert.Equal(new ApiVersionRange(3, 11), e.BrokerRange);
        Assert.Equal(new ApiVersionRange(0, 2), e.ClientRange);
        Assert.Contains("Produce", e.Message);
        var missing = Assert.Throws<UnsupportedVersionException>(() => table.Choose(ApiKey.OffsetCommit));
        Assert.Null(missing.BrokerRange);
        Assert.Contains("does not offer OffsetCommit", missing.Message);
    }

    [Theory]
    [InlineData("0.8.2", (short)ApiKey.OffsetCommit, 1)]
    [InlineData("0.8.0", (short)ApiKey.Metadata, 0)]
    [InlineData("0.9.0.1", (short)ApiKey.Produce, 1)]
    [InlineData("0.9", (short)ApiKey.JoinGroup, 0)]
    [InlineData("0.10.0", (short)ApiKey.Produce, 2)]
    [InlineData("0.10.1", (short)ApiKey.Fetch, 3)]
    [InlineData("0.11.0", (short)ApiKey.Metadata, 4)]
    public void The_fallback_table_knows_old_releases(string release, short api, short max)
    {
        Assert.True(BrokerVersionFallback.TryGet(release, out var versions));
        Assert.Equal(max, versions[(ApiKey)api].Max);
    }

    [Fact]
    public void Releases_without_an_API_leave_it_out_and_unknown_releases_are_refused()
    {
        Assert.True(BrokerVersionFallback.TryGet("0.8.1", out var v081));
        Assert.False(v081.ContainsKey(ApiKey.FindCoordinator));
        Assert.False(v081.ContainsKey(ApiKey.ApiVersions));
        var e = Assert.Throws<ArgumentException>(() => BrokerVersionFallback.Get("2.0"));
        Assert.Contains("0.9.0", e.Message);
    }

    [Fact]
    public void Connection_options_validate_with_clear_messages()
    {
        new ConnectionOptions().Validate();
        Assert.Contains("MaxInFlight", Assert.Throws<ArgumentException>(() => new ConnectionOptions { MaxInFlight = 0 }.Validate()).Message);
        Assert.Contains("BrokerVersionFallback", Assert.Throws<ArgumentException>(() => new ConnectionOptions { ApiVersionRequest = false }.Validate()).Message);
        Assert.Contains("'7.7'", Assert.Throws<ArgumentException>(() => new ConnectionOptions { BrokerVersionFallback = "7.7" }.Validate()).Message);
        Assert.Contains("ClientSoftwareName", Assert.Throws<ArgumentException>(() => new ConnectionOptions { ClientSoftwareName = "kiel dotnet" }.Validate()).Message);
        Assert.Contains("RequestTimeout", Assert.Throws<ArgumentException>(() => new ConnectionOptions { RequestTimeout = TimeSpan.Zero }.Validate()).Message);
    }

    [Fact]
    public void Cluster_options_validate_with_clear_messages()
    {
        var ok = new ClusterOptions("a:1", "b");
        ok.Validate();
        Assert.Equal(["a:1", "b"], ok.BootstrapServers);
        Assert.Equal(["x:1", "y:2"], ClusterOptions.FromBootstrapString(" x:1 , y:2 ").BootstrapServers);
        Assert.Contains("BootstrapServers", Assert.Throws<ArgumentException>(() => new ClusterOptions().Validate()).Message);
        Assert.Contains("'a:b'", Assert.Throws<ArgumentException>(() => new ClusterOptions("a:b").Validate()).Message);
        Assert.Contains("MetadataMaxAge", Assert.Throws<ArgumentException>(() => (ok with { MetadataMaxAge = TimeSpan.Zero }).Validate()).Message);
        Assert.Contains("BackoffMax", Assert.Throws<ArgumentException>(() => (ok with { Retry = new RetryPolicy { Backoff = TimeSpan.FromSeconds(2) } }).Validate()).Message);
        Assert.Contains("MaxInFlight", Assert.Throws<ArgumentException>(() => (ok with { MaxInFlight = -1 }).Validate()).Message);
        Assert.Equal(TimeSpan.FromMinutes(5), ok.MetadataMaxAge);
    }

    [Fact]
    public void Backoff_grows_exponentially_with_jitter_and_a_cap()
    {
        var policy = new RetryPolicy { Backoff = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromSeconds(1), Jitter = 0.2 };
        Assert.Equal(TimeSpan.Zero, policy.Delay(0));
        for (var i = 0; i < 200; i++)
        {
            Assert.InRange(policy.Delay(1).TotalMilliseconds, 80, 120);
            Assert.InRange(policy.Delay(3).TotalMilliseconds, 320, 480);
            Assert.InRange(policy.Delay(50).TotalMilliseconds, 800, 1200);
        }
        var distinct = Enumerable.Range(0, 50).Select(_ => policy.Delay(2)).Distinct().Count();
        Assert.True(distinct > 1, "jitter must vary the delay");
        Assert.Equal(TimeSpan.FromMilliseconds(400), (policy with { Jitter = 0 }).Delay(3));
    }

    [Fact]
    public void Errors_are_classified()
    {
        Assert.True(ErrorClassification.IsRetriable(new KafkaException(ErrorCode.NotLeaderOrFollower)));
        Assert.False(ErrorClassification.IsRetriable(new KafkaException(ErrorCode.TopicAuthorizationFailed)));
        Assert.True(ErrorClassification.IsRetriable(new KafkaConnectionException(new BrokerEndpoint(1, "h", 1), "x")));
        Assert.True(ErrorClassification.IsRetriable(new NoBrokersException("op", [])));
        Assert.True(ErrorClassification.IsRetriable(new BrokerNotAvailableException(3, "leader")));
        Assert.False(ErrorClassification.IsRetriable(new KafkaProtocolException("bad")));
        Assert.False(ErrorClassification.IsRetriable(new InvalidOperationException()));
        Assert.False(ErrorClassification.IsRetriable(new UnsupportedVersionException(ApiKey.Fetch, null, null, new ApiVersionRange(4, 16))));
        Assert.True(ErrorClassification.MeansStaleMetadata(ErrorCode.NotLeaderOrFollower));
        Assert.True(ErrorClassification.MeansStaleMetadata(ErrorCode.UnknownTopicOrPartition));
        Assert.True(ErrorClassification.MeansStaleMetadata(ErrorCode.LeaderNotAvailable));
        Assert.False(ErrorClassification.MeansStaleMetadata(ErrorCode.NotCoordinator));
        Assert.True(ErrorClassification.MeansCoordinatorMoved(ErrorCode.NotCoordinator));
        Assert.True(ErrorClassification.MeansCoordinatorMoved(ErrorCode.CoordinatorNotAvailable));
        Assert.False(ErrorClassification.MeansCoordinatorMoved(ErrorCode.CoordinatorLoadInProgress));
        Assert.Equal(ErrorCode.NotCoordinator, ErrorClassification.GetErrorCode(new KafkaException(ErrorCode.NotCoordinator)));
    }

    [Fact]
    public void NoBrokersException_lists_each_broker_and_its_answer()
    {
        var e = new NoBrokersException("Bootstrap", [new("a:1", "connection refused"), new("b:2", "timed out")]);
        Assert.Contains("a:1: connection refused", e.Message);
        Assert.Contains("b:2: timed out", e.Message);
        Assert.Contains("2 broker(s)", e.Message);
    }

    [Fact]
    public void A_snapshot_does_not_give_a_leader_that_is_not_in_the_broker_list()
    {
        var brokers = new Dictionary<int, BrokerEndpoint> { [1] = new(1, "h", 1), [2] = new(2, "h", 2) };
        var topic = new TopicMetadata("t", Guid.Empty, 0, false,
        [
            new PartitionMetadata(0, 1, 5, [1], [1], [], 0),
            new PartitionMetadata(1, 3, 5, [3], [3], [], 0),
            new PartitionMetadata(2, -1, -1, [2], [], [], 5),
        ]);
        var missing = new TopicMetadata("gone", Guid.Empty, 3, false, []);
        var snapshot = new MetadataSnapshot("c", 1, brokers, new Dictionary<string, TopicMetadata> { ["t"] = topic, ["gone"] = missing }, DateTimeOffset.UtcNow, 12);
        Assert.True(snapshot.TryGetLeader("t", 0, out var leader));
        Assert.Equal(1, leader.NodeId);
        Assert.False(snapshot.TryGetLeader("t", 1, out _));
        Assert.True(snapshot.TryGetPartition("t", 1, out var p1));
        Assert.Equal(3, p1.LeaderId);
        Assert.False(snapshot.TryGetLeader("t", 2, out _));
        Assert.False(snapshot.TryGetPartition("t", 9, out _));
        Assert.False(snapshot.TryGetTopic("gone", out _));
        Assert.Contains("2 broker(s)", snapshot.ToString());
    }
}
