using System.Collections.Concurrent;
using Confluent.Kafka;
using Kiel.Consuming;
using Kiel.IntegrationTests.Capture;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;
using Kiel.Testing;
using Xunit.Abstractions;
using M = Kiel.Protocol.Messages;
using P = Kiel.Protocol;

namespace Kiel.IntegrationTests.KafkaGroups;

/// <summary>
/// Static membership (KIP-345) against a coordinator that keeps a static member's place through a restart
/// (<see cref="StaticMembershipCoordinator"/> in front of the mock, which rebalances on every JoinGroup). A member with a
/// <c>GroupInstanceId</c> is closed and started again within the session timeout: it gets its partitions back, the other
/// member sees no rebalance (no JoinGroup reaches the mock, no revocation or assignment callback), and records produced
/// meanwhile are all read. Proven with Confluent.Kafka first, then with Kiel.
/// </summary>
[Collection("KafkaGroups")]
public sealed class StaticMembershipTests(ITestOutputHelper output)
{
    private const int Partitions = 4;
    private const int SessionTimeoutMs = 10_000;

    private sealed class StaticCluster : IAsyncDisposable
    {
        public required EmbeddedKafkaCluster Cluster { get; init; }
        public required RecordingProxy Proxy { get; init; }
        public StaticMembershipCoordinator Coordinator { get; } = new();
        public required string Topic { get; init; }
        public string Group { get; } = KafkaClusterFixture.UniqueTopic("g");

        /// <summary>A one-broker cluster behind the proxy and its coordinator, with a topic of <see cref="Partitions"/>.</summary>
        public static async Task<StaticCluster> StartAsync(string name)
        {
            var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
            // The proxy rewrites every Metadata response with the generated MetadataResponse, which stops at v12.
            cluster.SetApiVersion(KafkaApiKeys.Metadata, 0, 12);
            var s = new StaticCluster { Cluster = cluster, Proxy = RecordingProxy.Start(cluster.BootstrapServers), Topic = KafkaClusterFixture.UniqueTopic(name) };
            s.Proxy.RequestHook = s.Coordinator.HookAsync;
            cluster.CreateTopic(s.Topic, Partitions);
            return s;
        }

        public async ValueTask DisposeAsync()
        {
            await Proxy.DisposeAsync();
            await Cluster.DisposeAsync();
        }
    }

    /// <summary>A Confluent.Kafka member reading on a thread of its own.</summary>
    private sealed class ConfluentMember : IDisposable
    {
        private readonly IConsumer<string, string> _consumer;
        private readonly Thread _thread;
        private volatile bool _stop;

        public ConcurrentDictionary<int, byte> Owned { get; } = new();
        public ConcurrentQueue<string> Events { get; } = new();
        public ConcurrentDictionary<(int, long), byte> Read { get; } = new();

        public ConfluentMember(string bootstrap, string group, string topic, string instance)
        {
            _consumer = ConfluentClients.Consumer(bootstrap, group, c =>
            {
                c.GroupInstanceId = instance;
                c.SessionTimeoutMs = SessionTimeoutMs;
                c.HeartbeatIntervalMs = 300;
                c.PartitionAssignmentStrategy = PartitionAssignmentStrategy.RoundRobin;
            }, b => b
                .SetPartitionsAssignedHandler((_, parts) => { Events.Enqueue("assigned"); foreach (var p in parts) Owned[p.Partition.Value] = 0; })
                .SetPartitionsRevokedHandler((_, parts) => { Events.Enqueue("revoked"); foreach (var p in parts) Owned.TryRemove(p.Partition.Value, out byte _); })
                .SetPartitionsLostHandler((_, parts) => { Events.Enqueue("lost"); foreach (var p in parts) Owned.TryRemove(p.Partition.Value, out byte _); }));
            _consumer.Subscribe(topic);
            _thread = new Thread(() =>
            {
                while (!_stop)
                {
                    try
                    {
                        if (_consumer.Consume(100) is { IsPartitionEOF: false } r) Read[(r.Partition.Value, r.Offset.Value)] = 0;
                    }
                    catch (Confluent.Kafka.ConsumeException)
                    {
                    }
                }
            }) { IsBackground = true, Name = $"confluent-{instance}" };
            _thread.Start();
        }

        public void Dispose()
        {
            if (_stop) return;
            _stop = true;
            _thread.Join(TimeSpan.FromSeconds(10));
            _consumer.Close(); // a static member's close sends no LeaveGroup
            _consumer.Dispose();
        }
    }

    [Fact]
    public async Task Confluent_static_member_restarted_within_the_session_timeout_gets_its_partitions_back_and_the_other_sees_no_rebalance()
    {
        await using var s = await StaticCluster.StartAsync("static-confluent");
        var (topic, group) = (s.Topic, s.Group);
        var members = new Dictionary<string, ConfluentMember>();
        try
        {
            foreach (var id in new[] { "a", "b" }) members[id] = new ConfluentMember(s.Proxy.BootstrapServers, group, topic, id);
            Assert.True(await TestTimeouts.WaitUntilAsync(() => members.Values.All(m => m.Owned.Count == 2) && s.Coordinator.LeaderInstance(group) is not null, TimeSpan.FromSeconds(60)),
                $"the group did not settle: {string.Join("; ", members.Select(m => $"{m.Key} owns {string.Join(",", m.Value.Owned.Keys)} after {string.Join(",", m.Value.Events)}"))}\n{GroupTrace(s)}");
            // A real coordinator rebalances when the leader restarts (it must see the members again): restart the follower.
            var (id2, other) = members.Single(m => m.Key == s.Coordinator.LeaderInstance(group));
            var follower = members.Single(m => m.Key != id2).Key;
            var mine = members[follower].Owned.Keys.Order().ToList();
            var otherEvents = other.Events.Count;
            var joins = s.Coordinator.JoinsForwarded;
            members[follower].Dispose();

            members[follower] = new ConfluentMember(s.Proxy.BootstrapServers, group, topic, follower);
            var restarted = members[follower];
            Assert.True(await TestTimeouts.WaitUntilAsync(() => restarted.Owned.Count == 2, TimeSpan.FromSeconds(20)), "the restarted member got nothing");
            output.WriteLine($"after the restart of {follower}: {s.Coordinator.Describe()}, answered {s.Coordinator.JoinsAnswered}");
            Assert.Equal(mine, restarted.Owned.Keys.Order().ToList());
            await ProduceAndReadAllAsync(s, topic, () => restarted.Read.Count + other.Read.Count);
            AssertNoRebalance(s, joins, other.Events.Count - otherEvents, string.Join(",", other.Events));
            Assert.Equal(2, other.Owned.Count);
        }
        finally
        {
            foreach (var m in members.Values) m.Dispose();
        }
    }

    [Fact]
    public async Task Kiel_static_member_restarted_within_the_session_timeout_gets_its_partitions_back_and_the_other_sees_no_rebalance()
    {
        await using var s = await StaticCluster.StartAsync("static-kiel");
        var (topic, group) = (s.Topic, s.Group);
        var log = new DeliveryLog();
        KielConsumerOptions Options(string instance) => KielGroupMember.Options(s.Proxy.BootstrapServers, group, o => o with
        {
            GroupInstanceId = instance,
            SessionTimeout = TimeSpan.FromMilliseconds(SessionTimeoutMs),
            PartitionAssignmentStrategy = [PartitionAssignor.RoundRobin],
        });
        var members = new Dictionary<string, KielGroupMember>();
        var closed = new HashSet<KielGroupMember>();
        try
        {
            foreach (var id in new[] { "a", "b" })
            {
                members[id] = new KielGroupMember(id, Options(id), log);
                members[id].Start(topic);
            }
            Assert.True(await TestTimeouts.WaitUntilAsync(() => members.Values.All(m => m.Owned.Count == 2) && s.Coordinator.LeaderInstance(group) is not null, TimeSpan.FromSeconds(60)),
                $"the group did not settle: {string.Join("; ", members.Select(m => $"{m.Key} owns {string.Join(",", m.Value.Owned)}"))}");
            var (leader, other) = members.Single(m => m.Key == s.Coordinator.LeaderInstance(group));
            var follower = members.Single(m => m.Key != leader).Key;
            var mine = members[follower].Owned.Order().ToList();
            var otherEvents = other.Events.Count;
            var generation = other.Consumer.GroupMetadata!.GenerationId;
            var joins = s.Coordinator.JoinsForwarded;
            await members[follower].DisposeAsync();
            closed.Add(members[follower]);

            var restarted = members[follower] = new KielGroupMember(follower + "2", Options(follower), log);
            restarted.Start(topic);
            Assert.True(await TestTimeouts.WaitUntilAsync(() => restarted.Owned.Count == 2, TimeSpan.FromSeconds(20)), "the restarted member got nothing");
            output.WriteLine($"after the restart of {follower}: {s.Coordinator.Describe()}, answered {s.Coordinator.JoinsAnswered}");
            Assert.Equal(mine, restarted.Owned.Order().ToList());
            Assert.Equal(generation, restarted.Consumer.GroupMetadata!.GenerationId);
            await ProduceAndReadAllAsync(s, topic, () => log.Distinct().Count);
            AssertNoRebalance(s, joins, other.Events.Count - otherEvents, string.Join(",", other.Events.Select(e => e.Kind)));
            Assert.Equal(generation, other.Consumer.GroupMetadata!.GenerationId);
            Assert.Equal(2, other.Owned.Count);
            Assert.Null(restarted.ReadError);
            Assert.Null(other.ReadError);
        }
        finally
        {
            foreach (var m in members.Values.Where(m => !closed.Contains(m))) await m.DisposeAsync();
        }
    }

    /// <summary>Produces 10 records per partition and waits until the group has read them all (heartbeats go on meanwhile).</summary>
    private async Task ProduceAndReadAllAsync(StaticCluster s, string topic, Func<int> read)
    {
        await ConsumingHelpers.ProduceAsync(s.Cluster.BootstrapServers, topic, 10 * Partitions);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => read() >= 10 * Partitions, TimeSpan.FromSeconds(30)), $"read {read()} of {10 * Partitions}");
        output.WriteLine($"joins answered {s.Coordinator.JoinsAnswered}, syncs answered {s.Coordinator.SyncsAnswered}, late follower syncs answered {s.Coordinator.LateSyncsAnswered}, joins forwarded {s.Coordinator.JoinsForwarded}; {s.Coordinator.Describe()}");
        output.WriteLine("group requests: " + string.Join(", ", s.Proxy.Frames.Where(f => f.Direction == FrameDirection.Request
            && f.ApiKey is Kiel.Protocol.ApiKey.JoinGroup or Kiel.Protocol.ApiKey.SyncGroup or Kiel.Protocol.ApiKey.Heartbeat or Kiel.Protocol.ApiKey.LeaveGroup)
            .GroupBy(f => $"{f.ApiKey} v{f.ApiVersion}").Select(g => $"{g.Key} x{g.Count()}")));
    }

    /// <summary>The group requests and answers the proxy saw (the last 60), with members, generations and error codes.</summary>
    private static string GroupTrace(StaticCluster s)
    {
        var lines = new List<string>();
        foreach (var f in s.Proxy.Frames)
        {
            if (f.ApiKey is not (P.ApiKey.JoinGroup or P.ApiKey.SyncGroup or P.ApiKey.Heartbeat or P.ApiKey.LeaveGroup)) continue;
            var request = f.Direction == FrameDirection.Request;
            string what;
            try
            {
                var r = new P.KafkaReader(f.Frame.AsMemory());
                if (request) P.KafkaHeaders.ReadRequestHeader(ref r);
                else P.KafkaHeaders.ReadResponseHeader(ref r, f.ApiKey, f.ApiVersion);
                what = (f.ApiKey, request) switch
                {
                    (P.ApiKey.JoinGroup, true) => Describe(M.JoinGroupRequest.Read(ref r, f.ApiVersion)),
                    (P.ApiKey.JoinGroup, false) => Describe(M.JoinGroupResponse.Read(ref r, f.ApiVersion)),
                    (P.ApiKey.SyncGroup, true) => Describe(M.SyncGroupRequest.Read(ref r, f.ApiVersion)),
                    (P.ApiKey.SyncGroup, false) => Describe(M.SyncGroupResponse.Read(ref r, f.ApiVersion)),
                    (P.ApiKey.Heartbeat, true) => Describe(M.HeartbeatRequest.Read(ref r, f.ApiVersion)),
                    (P.ApiKey.Heartbeat, false) => $"error {M.HeartbeatResponse.Read(ref r, f.ApiVersion).ErrorCode}",
                    _ => "",
                };
            }
            catch (Exception e)
            {
                // The mock answers a SyncGroup it fails with a null assignment, which the field does not allow: the
                // error code (after the throttle time) is what matters.
                what = request ? $"unreadable: {e.Message}" : $"error {ErrorCode(f)}, the rest unreadable: {e.Message}";
            }
            lines.Add($"c{f.Connection} {(request ? "->" : "<-")} {f.ApiKey} v{f.ApiVersion} #{f.CorrelationId} {what}");
        }
        return string.Join("\n", lines.TakeLast(60));

        static short ErrorCode(CapturedFrame f)
        {
            var r = new P.KafkaReader(f.Frame.AsMemory());
            P.KafkaHeaders.ReadResponseHeader(ref r, f.ApiKey, f.ApiVersion);
            if (f.ApiVersion >= (f.ApiKey == P.ApiKey.JoinGroup ? 2 : 1)) r.ReadInt32(); // throttle_time_ms
            return r.ReadInt16();
        }

        static string Describe(object message) => message switch
        {
            M.JoinGroupRequest j => $"member '{j.MemberId}' instance {j.GroupInstanceId}",
            M.JoinGroupResponse j => $"error {j.ErrorCode} member '{j.MemberId}' gen {j.GenerationId} leader '{j.Leader}' members {j.Members.Count}",
            M.SyncGroupRequest y => $"member '{y.MemberId}' gen {y.GenerationId} assignments {y.Assignments.Count}",
            M.SyncGroupResponse y => $"error {y.ErrorCode} assignment {y.Assignment.Length} B",
            M.HeartbeatRequest h => $"member '{h.MemberId}' gen {h.GenerationId}",
            _ => "",
        };
    }

    private static void AssertNoRebalance(StaticCluster s, int joinsBefore, int newOtherEvents, string otherEvents)
    {
        Assert.Equal(1, s.Coordinator.JoinsAnswered);
        Assert.Equal(1, s.Coordinator.SyncsAnswered);
        Assert.Equal(joinsBefore, s.Coordinator.JoinsForwarded);
        Assert.DoesNotContain(s.Proxy.Frames, f => f.ApiKey == Kiel.Protocol.ApiKey.LeaveGroup);
        Assert.True(newOtherEvents == 0, $"the other member saw a rebalance: {otherEvents}");
    }
}
