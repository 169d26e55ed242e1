using System.Diagnostics;
using Kiel;
using Kiel.Cluster;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Cluster;

/// <summary>KafkaCluster against the librdkafka mock: bootstrap, metadata, outages, leader moves, coordinators, injected errors.</summary>
public sealed class KafkaClusterMockTests
{
    private static ClusterOptions Options(EmbeddedKafkaCluster kafka) => ClusterOptions.FromBootstrapString(kafka.BootstrapServers) with
    {
        RequestTimeout = TimeSpan.FromSeconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(3),
        Retry = new RetryPolicy { MaxAttempts = 10, Backoff = TimeSpan.FromMilliseconds(20), BackoffMax = TimeSpan.FromMilliseconds(200) },
    };

    private static CancellationToken Bounded(double seconds = 20) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Bootstraps_and_caches_brokers_topics_leaders_epochs_and_ids()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.CreateTopic("orders", 4, 1);
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        var md = cluster.Metadata;
        Assert.Equal([1, 2, 3], md.Brokers.Keys.Order());
        Assert.NotNull(md.ClusterId);
        kafka.SetControllerId(2);
        md = await cluster.RefreshMetadataAsync(null, Bounded());
        Assert.Equal(2, md.ControllerId);
        Assert.Equal(12, md.MetadataVersion);
        Assert.True(md.TryGetTopic("orders", out var orders));
        Assert.NotEqual(Guid.Empty, orders.TopicId);
        Assert.True(md.TryGetTopicById(orders.TopicId, out var byId));
        Assert.Same(orders, byId);
        Assert.False(md.TryGetTopicById(Guid.Empty, out _));
        Assert.Equal(4, orders.Partitions.Count);
        foreach (var p in orders.Partitions)
        {
            Assert.Equal(p.Partition % 3 + 1, p.LeaderId); // RF=1: deterministic leaders
            Assert.True(p.LeaderEpoch >= 0);
            Assert.Equal([p.LeaderId], p.Replicas);
            Assert.Equal([p.LeaderId], p.Isr);
            Assert.True(md.TryGetLeader("orders", p.Partition, out var leader));
            Assert.Equal(p.LeaderId, leader.NodeId);
        }
    }

    [Fact]
    public async Task The_mock_reports_the_cluster_id_that_gives_group_leaders_their_SyncGroup_head_start()
    {
        // A classic group's leader waits before its SyncGroup only at the librdkafka mock, recognised by this id; if a
        // librdkafka release changed it, the group tests here would lose whole rebalance rounds without saying why.
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        Assert.StartsWith(Kiel.Groups.Kafka.ClassicGroupMember.MockClusterIdPrefix, cluster.Metadata.ClusterId);
        Assert.True(Kiel.Groups.Kafka.ClassicGroupMember.NeedsLeaderSyncHeadStart(cluster.Metadata));
    }

    [Fact]
    public async Task Bootstrap_addresses_are_tried_in_order_and_failures_are_listed()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        var dead = DeadPort();
        var options = Options(kafka) with { BootstrapServers = [$"127.0.0.1:{dead}", kafka.BootstrapServers.Split(',')[1]] };
        await using (var cluster = new KafkaCluster(options))
        {
            await cluster.StartAsync(Bounded());
            Assert.Equal(3, cluster.Metadata.Brokers.Count);
        }

        var allDead = Options(kafka) with { BootstrapServers = [$"127.0.0.1:{dead}", $"localhost:{DeadPort()}"] };
        await using var nothing = new KafkaCluster(allDead);
        var e = await Assert.ThrowsAsync<NoBrokersException>(() => nothing.StartAsync(Bounded()));
        Assert.Equal(2, e.Attempts.Count);
        Assert.Contains($"127.0.0.1:{dead}", e.Message);
        Assert.Contains("localhost:", e.Message);
        Assert.True(e.IsRetriable);
    }

    private static int DeadPort()
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        var port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    [Fact]
    public async Task A_broker_going_down_fails_all_50_requests_in_flight_promptly_and_the_next_succeeds_after_it_returns()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        var options = Options(kafka) with { MaxInFlight = 50, RequestTimeout = TimeSpan.FromSeconds(5) };
        await using var cluster = new KafkaCluster(options);
        await cluster.StartAsync(Bounded());
        var conn = await cluster.GetConnectionAsync(1, ConnectionPurpose.Group, Bounded());
        kafka.SetBrokerRtt(1, 3000); // hold the replies so all 50 are in flight
        var sw = Stopwatch.StartNew();
        var requests = Enumerable.Range(0, 50).Select(_ => conn.SendAsync(new MetadataRequest { Topics = [] }, Bounded(30)).AsTask()).ToArray();
        Assert.True(await TestWaits.UntilAsync(() => conn.InFlightCount == 50, TimeSpan.FromSeconds(5)));
        kafka.SetBrokerDown(1);
        var all = Task.WhenAll(requests);
        await Assert.ThrowsAnyAsync<Exception>(() => all.WaitAsync(options.RequestTimeout + TimeSpan.FromSeconds(2)));
        Assert.True(sw.Elapsed < options.RequestTimeout + TimeSpan.FromSeconds(2), $"took {sw.Elapsed}");
        Assert.All(requests, t => Assert.True(t.IsFaulted && t.Exception!.InnerException is KafkaConnectionException { IsRetriable: true }));

        kafka.SetBrokerRtt(1, 0);
        kafka.SetBrokerUp(1);
        var reply = await cluster.ExecuteAsync("Metadata via broker 1", async (_, ct) =>
        {
            var c = await cluster.GetConnectionAsync(1, ConnectionPurpose.Group, ct);
            return await c.SendAsync(new MetadataRequest { Topics = [] }, ct);
        }, Bounded());
        Assert.True(reply.Brokers.Count >= 2);
    }

    [Fact]
    public async Task A_moved_leader_is_found_after_NOT_LEADER_and_later_requests_go_to_it()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.CreateTopic("moving", 1, 1);
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        Assert.Equal(1, (await cluster.GetLeaderAsync("moving", 0, Bounded())).NodeId);

        kafka.SetPartitionLeader("moving", 0, 2);
        kafka.StartRequestTracking();
        var offset = await cluster.ExecuteOnLeaderAsync("moving", 0, ConnectionPurpose.Fetch, (c, ct) => ListEndOffsetAsync(cluster, c, "moving", ct), Bounded());
        Assert.Equal(0, offset);
        Assert.Equal(2, (await cluster.GetLeaderAsync("moving", 0, Bounded())).NodeId);
        var listOffsets = kafka.GetRequests().Where(r => r.ApiKey == KafkaApiKeys.ListOffsets).ToList();
        Assert.Equal(1, listOffsets[0].BrokerId); // the stale leader answered NOT_LEADER
        Assert.Equal(2, listOffsets[^1].BrokerId);

        await cluster.ExecuteOnLeaderAsync("moving", 0, ConnectionPurpose.Fetch, (c, ct) => ListEndOffsetAsync(cluster, c, "moving", ct), Bounded());
        Assert.Equal(2, kafka.GetRequests().Where(r => r.ApiKey == KafkaApiKeys.ListOffsets).Last().BrokerId);
    }

    private static async ValueTask<long> ListEndOffsetAsync(KafkaCluster cluster, BrokerConnection c, string topic, CancellationToken ct)
    {
        var request = new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = topic, Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = 0, Timestamp = -1 }] }],
        };
        var response = await c.SendAsync(request, c.Versions.Choose(ApiKey.ListOffsets, 1, 7), ct);
        var p = response.Topics[0].Partitions[0];
        cluster.ThrowIfError(p.ErrorCode, $"ListOffsets {topic}[0] via {c.Endpoint}");
        return p.Offset;
    }

    [Fact]
    public async Task A_leader_missing_from_the_broker_list_is_a_retriable_error_not_a_crash()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.CreateTopic("orphan", 3, 1); // partition 2 is led by broker 3
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        kafka.SetBrokerDown(3);
        var md = await cluster.RefreshMetadataAsync(null, Bounded());
        Assert.DoesNotContain(3, md.Brokers.Keys);
        Assert.True(md.TryGetPartition("orphan", 2, out var p));
        Assert.Equal(3, p.LeaderId);
        Assert.False(md.TryGetLeader("orphan", 2, out _));
        var e = await Assert.ThrowsAsync<BrokerNotAvailableException>(() => cluster.GetLeaderAsync("orphan", 2, Bounded()).AsTask());
        Assert.True(e.IsRetriable);
        Assert.True(cluster.IsMetadataStale);
        Assert.Equal(1, (await cluster.GetLeaderAsync("orphan", 0, Bounded())).NodeId);
    }

    [Fact]
    public async Task Metadata_requests_that_drop_the_connection_move_on_and_rebootstrap_then_report_every_attempt()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        // Three disconnects: every known broker fails once, then the bootstrap list answers.
        kafka.PushRequestErrors(KafkaApiKeys.Metadata, Enumerable.Repeat(EmbeddedKafkaCluster.DisconnectErrorCode, 3).ToArray());
        var md = await cluster.RefreshMetadataAsync(null, Bounded());
        Assert.Equal(3, md.Brokers.Count);

        kafka.PushRequestErrors(KafkaApiKeys.Metadata, Enumerable.Repeat(EmbeddedKafkaCluster.DisconnectErrorCode, 6).ToArray());
        var e = await Assert.ThrowsAsync<NoBrokersException>(() => cluster.RefreshMetadataAsync(null, Bounded()));
        Assert.Equal(6, e.Attempts.Count);
        Assert.True(e.IsRetriable);
        Assert.All(e.Attempts, a => Assert.Contains("127.0.0.1:", a.Broker));
    }

    [Fact]
    public async Task Metadata_latency_injected_per_broker_is_bounded_by_the_request_timeout()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka) with { RequestTimeout = TimeSpan.FromMilliseconds(300) });
        await cluster.StartAsync(Bounded());
        foreach (var id in kafka.BrokerIds) kafka.PushBrokerRequestErrors(id, KafkaApiKeys.Metadata, [(0, 1500)]);
        var sw = Stopwatch.StartNew();
        var md = await cluster.RefreshMetadataAsync(null, Bounded()); // each broker times out, then the bootstrap list answers
        Assert.Equal(3, md.Brokers.Count);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed}");
    }

    [Fact]
    public async Task Topic_errors_in_metadata_are_classified_retriable_or_fatal()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.CreateTopic("electing", 1, 1);
        kafka.CreateTopic("forbidden", 1, 1);
        kafka.SetTopicError("electing", 5);
        kafka.SetTopicError("forbidden", 29);
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        var retriable = await Assert.ThrowsAsync<KafkaException>(() => cluster.GetLeaderAsync("electing", 0, Bounded()).AsTask());
        Assert.Equal(ErrorCode.LeaderNotAvailable, retriable.ErrorCode);
        Assert.True(retriable.IsRetriable);
        var fatal = await Assert.ThrowsAsync<KafkaException>(() => cluster.GetLeaderAsync("forbidden", 0, Bounded()).AsTask());
        Assert.Equal(ErrorCode.TopicAuthorizationFailed, fatal.ErrorCode);
        Assert.False(fatal.IsRetriable);

        // The retry helper waits out the retriable one until it clears, and gives up at once on the fatal one.
        var clear = Task.Delay(300).ContinueWith(_ => kafka.SetTopicError("electing", 0));
        var leader = await cluster.ExecuteAsync("leader of electing", async (_, ct) => await cluster.GetLeaderAsync("electing", 0, ct), Bounded());
        Assert.Equal(1, leader.NodeId);
        await clear;
        var attempts = 0;
        await Assert.ThrowsAsync<KafkaException>(() => cluster.ExecuteAsync("leader of forbidden", async (_, ct) =>
        {
            attempts++;
            return await cluster.GetLeaderAsync("forbidden", 0, ct);
        }, Bounded()));
        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task FindCoordinator_retries_retriable_errors_and_fails_fast_on_fatal_ones()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        kafka.SetGroupCoordinator("g1", 2);
        kafka.PushRequestErrors(KafkaApiKeys.FindCoordinator, 15, 14, 16, EmbeddedKafkaCluster.DisconnectErrorCode);
        var coordinator = await cluster.FindCoordinatorAsync(CoordinatorType.Group, "g1", Bounded());
        Assert.Equal(2, coordinator.NodeId);

        kafka.PushRequestErrors(KafkaApiKeys.FindCoordinator, 30);
        var e = await Assert.ThrowsAsync<KafkaException>(() => cluster.FindCoordinatorAsync(CoordinatorType.Group, "g2", Bounded()));
        Assert.Equal(ErrorCode.GroupAuthorizationFailed, e.ErrorCode);
        Assert.False(e.IsRetriable);

        kafka.SetTransactionCoordinator("tx", 3);
        Assert.Equal(3, (await cluster.FindCoordinatorAsync(CoordinatorType.Transaction, "tx", Bounded())).NodeId);
    }

    [Fact]
    public async Task A_cached_coordinator_is_forgotten_on_NOT_COORDINATOR_and_the_new_one_is_used()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        kafka.SetGroupCoordinator("moving-group", 1);
        Assert.Equal(1, (await cluster.FindCoordinatorAsync(CoordinatorType.Group, "moving-group", Bounded())).NodeId);
        kafka.SetGroupCoordinator("moving-group", 3);
        Assert.Equal(1, cluster.GetCachedCoordinator(CoordinatorType.Group, "moving-group")!.NodeId);

        var answeredBy = await cluster.ExecuteOnCoordinatorAsync(CoordinatorType.Group, "moving-group", async (c, ct) =>
        {
            var hb = await c.SendAsync(new HeartbeatRequest { GroupId = "moving-group", GenerationId = -1, MemberId = "m" }, ct);
            if (hb.ErrorCode is 15 or 16) cluster.ThrowIfError(hb.ErrorCode, "Heartbeat");
            return c.Endpoint.NodeId; // any other answer (UNKNOWN_MEMBER_ID) came from the coordinator itself
        }, Bounded());
        Assert.Equal(3, answeredBy);
        Assert.Equal(3, cluster.GetCachedCoordinator(CoordinatorType.Group, "moving-group")!.NodeId);
    }

    [Fact]
    public async Task A_down_coordinator_is_forgotten_and_looked_up_again()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        kafka.SetGroupCoordinator("g", 2);
        await cluster.FindCoordinatorAsync(CoordinatorType.Group, "g", Bounded());
        kafka.SetBrokerDown(2);
        kafka.SetGroupCoordinator("g", 1);
        var node = await cluster.ExecuteOnCoordinatorAsync(CoordinatorType.Group, "g", async (c, ct) =>
        {
            var hb = await c.SendAsync(new HeartbeatRequest { GroupId = "g", GenerationId = -1, MemberId = "m" }, ct);
            if (hb.ErrorCode is 15 or 16) cluster.ThrowIfError(hb.ErrorCode, "Heartbeat");
            return c.Endpoint.NodeId;
        }, Bounded());
        Assert.Equal(1, node);
        Assert.Equal(1, cluster.GetCachedCoordinator(CoordinatorType.Group, "g")!.NodeId);
    }

    [Fact]
    public async Task Connections_are_separate_per_purpose()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var cluster = new KafkaCluster(Options(kafka));
        await cluster.StartAsync(Bounded());
        var group = await cluster.GetConnectionAsync(1, ConnectionPurpose.Group, Bounded());
        var fetch = await cluster.GetConnectionAsync(1, ConnectionPurpose.Fetch, Bounded());
        var produce = await cluster.GetConnectionAsync(1, ConnectionPurpose.Produce, Bounded());
        Assert.Equal(3, new HashSet<BrokerConnection> { group, fetch, produce }.Count);
        Assert.Same(group, await cluster.GetConnectionAsync(1, ConnectionPurpose.Group, Bounded()));
        // A slow request on the fetch connection does not hold up the group connection.
        kafka.PushBrokerRequestErrors(1, KafkaApiKeys.Metadata, [(0, 2500)]);
        var slow = fetch.SendAsync(new MetadataRequest { Topics = [] }, Bounded()).AsTask();
        await Task.Delay(100);
        await group.SendAsync(new MetadataRequest { Topics = [] }, Bounded());
        Assert.False(slow.IsCompleted, "the group request had to wait for the held fetch-connection request");
        await slow;
    }
}
