using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using Kiel.Cluster;
using Kiel.Consuming;
using Kiel.Groups.Kafka;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Tests.Network;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.Tests.Groups.Kafka;

/// <summary>
/// The leader's SyncGroup and the librdkafka mock: the mock completes a generation as soon as the leader's SyncGroup has
/// set every assignment and answers a follower whose SyncGroup comes later with INVALID_REQUEST (and a null assignment),
/// so that follower must join again and the group loses a whole rebalance round (SessionTimeout − 1 s on the mock). The
/// leader therefore gives its followers a head start, at the mock only (its cluster id starts with "mockCluster"); a
/// scripted coordinator with a fake clock shows when it sends.
/// </summary>
public sealed class ClassicGroupMemberSyncTests
{
    private const string Topic = "t";

    [Fact]
    public async Task The_leader_of_a_group_with_other_members_sends_its_SyncGroup_only_after_the_followers_head_start()
    {
        await using var h = await Harness.StartAsync(members: 2);
        h.Member.Subscribe([Topic]);

        await Eventually.Until(() => h.Time.TimersWithDueTime(ClassicGroupMember.LeaderSyncHeadStart) == 1, "the leader started its head start");
        var joinedAt = h.Time.GetUtcNow();
        h.Time.Advance(ClassicGroupMember.LeaderSyncHeadStart);
        await Eventually.Until(() => h.Broker.Syncs.Count == 1, "the leader's SyncGroup");

        var sync = Assert.Single(h.Broker.Syncs);
        Assert.True(sync.At - joinedAt >= ClassicGroupMember.LeaderSyncHeadStart,
            $"the SyncGroup came {(sync.At - joinedAt).TotalMilliseconds} ms (fake time) after the JoinGroup answer");
        Assert.Equal(2, sync.Assignments); // the leader still assigns every member
        await h.Member.WaitForAssignmentAsync(h.Token);
        Assert.Equal(2, h.Member.Owned.Count); // range: 4 partitions, 2 members
    }

    [Theory]
    [InlineData("MkU3OEVBNTcwNTJENDM2Qk")] // a Kafka broker's id: a UUID in base64
    [InlineData(null)]                     // a broker before Metadata v2 reports none
    [InlineData("mockclusterx")]           // the prefix is matched exactly
    public async Task The_leader_at_a_cluster_other_than_the_mock_sends_its_SyncGroup_at_once(string? clusterId)
    {
        await using var h = await Harness.StartAsync(members: 2, clusterId: clusterId);
        h.Member.Subscribe([Topic]);

        await h.Member.WaitForAssignmentAsync(h.Token); // the fake clock never moves

        var sync = Assert.Single(h.Broker.Syncs);
        Assert.Equal(2, sync.Assignments);
        Assert.Equal(0, h.Time.TimersWithDueTime(ClassicGroupMember.LeaderSyncHeadStart));
        Assert.Equal(2, h.Member.Owned.Count);
    }

    [Theory]
    [InlineData("mockCluster1a2b3c", true)]
    [InlineData("mockCluster", true)]
    [InlineData("MkU3OEVBNTcwNTJENDM2Qk", false)]
    [InlineData("MockCluster1a2b3c", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Only_the_librdkafka_mock_needs_the_head_start(string? clusterId, bool needs)
    {
        var metadata = new MetadataSnapshot(clusterId, 1, new Dictionary<int, BrokerEndpoint>(), new Dictionary<string, TopicMetadata>(), DateTimeOffset.UnixEpoch, 12);
        Assert.Equal(needs, ClassicGroupMember.NeedsLeaderSyncHeadStart(metadata));
    }

    [Fact]
    public async Task A_leader_alone_in_its_group_sends_its_SyncGroup_at_once()
    {
        await using var h = await Harness.StartAsync(members: 1);
        h.Member.Subscribe([Topic]);

        await h.Member.WaitForAssignmentAsync(h.Token); // the fake clock never moves

        Assert.Single(h.Broker.Syncs);
        Assert.Equal(0, h.Time.TimersWithDueTime(ClassicGroupMember.LeaderSyncHeadStart));
        Assert.Equal(4, h.Member.Owned.Count);
    }

    [Fact]
    public async Task A_follower_answered_INVALID_REQUEST_with_a_null_assignment_joins_again_at_the_same_coordinator()
    {
        // What the librdkafka mock sends a follower whose SyncGroup came after the leader's: error 42, null assignment.
        await using var h = await Harness.StartAsync(members: 2, leader: false, firstSyncRaw: [0, 0, 0, 0, 0, 42, 0xFF, 0xFF, 0xFF, 0xFF]);
        h.Member.Subscribe([Topic]);

        // The member backs off (RetryBackoff, 10 ms of the fake clock) before it joins again.
        await Eventually.Until(() => h.Time.TimersWithDueTime(TimeSpan.FromMilliseconds(10)) == 1, "the member's back-off after the error");
        h.Time.Advance(TimeSpan.FromMilliseconds(10));
        await h.Member.WaitForAssignmentAsync(h.Token);

        Assert.Equal(2, h.Broker.Joins);
        Assert.Equal(2, h.Broker.Syncs.Count);
        Assert.Equal(1, h.Scripted.FindCoordinators); // an error answer, not a malformed one: the coordinator is kept
        Assert.Equal(2, h.Member.Owned.Count);
        Assert.Equal(0, h.Time.TimersWithDueTime(ClassicGroupMember.LeaderSyncHeadStart)); // a follower does not wait
    }

    [Theory]
    [InlineData((short)3, new byte[] { 0, 0, 0, 7, 0, 42, 0xFF, 0xFF, 0xFF, 0xFF }, 42, 7)]
    [InlineData((short)0, new byte[] { 0, 27, 0xFF, 0xFF, 0xFF, 0xFF }, 27, 0)]
    public void A_SyncGroup_error_answer_with_a_null_assignment_reads_as_its_error(short version, byte[] body, short error, int throttle)
    {
        using var frame = Frame(body, version);
        var response = ClassicGroupMember.DecodeSyncGroup(frame);
        Assert.Equal(error, response.ErrorCode);
        Assert.Equal(throttle, response.ThrottleTimeMs);
        Assert.True(response.Assignment.IsEmpty);
    }

    [Theory]
    [InlineData((short)3, new byte[] { 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF })]          // no error: a null assignment is malformed
    [InlineData((short)3, new byte[] { 0, 0, 0, 0, 0, 42, 0xFF, 0xFF, 0xFF, 0xFF, 0 })]      // a trailing byte
    [InlineData((short)3, new byte[] { 0, 0, 0, 0, 0, 42, 0xFF, 0xFF, 0xFF })]               // truncated
    [InlineData((short)3, new byte[] { 0, 0, 0, 0, 0, 42, 0xFF, 0xFF, 0xFF, 0xFE })]         // a negative length other than -1
    [InlineData((short)2, new byte[] { 0, 42, 0xFF, 0xFF, 0xFF, 0xFF })]                     // v1+ has a throttle time
    public void Other_malformed_SyncGroup_answers_are_still_refused(short version, byte[] body)
    {
        using var frame = Frame(body, version);
        Assert.Throws<KafkaProtocolException>(() => ClassicGroupMember.DecodeSyncGroup(frame));
    }

    [Fact]
    public void A_well_formed_SyncGroup_answer_decodes_as_before()
    {
        var assignment = ConsumerProtocol.EncodeAssignment([new TopicPartition(Topic, 1)], default, 0);
        using var frame = Frame(MessageBytes.Encode(new SyncGroupResponse { ThrottleTimeMs = 3, Assignment = assignment }, 3), 3);
        var response = ClassicGroupMember.DecodeSyncGroup(frame);
        Assert.Equal(0, response.ErrorCode);
        Assert.Equal([new TopicPartition(Topic, 1)], ConsumerProtocol.DecodeAssignment(response.Assignment.Span));
    }

    private static ResponseFrame Frame(byte[] body, short version)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(body.Length);
        body.CopyTo(buffer, 0);
        return new ResponseFrame(buffer, 0, body.Length, ApiKey.SyncGroup, version, 1, new BrokerEndpoint(1, "127.0.0.1", 9));
    }

    private sealed class Listener : IGroupMemberListener
    {
        public ValueTask OnAssignedAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken) => ValueTask.CompletedTask;
        public ValueTask OnRevokedAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken) => ValueTask.CompletedTask;
        public ValueTask OnLostAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken) => ValueTask.CompletedTask;
        public void OnFailed(Exception error) { }
        public (long HandOuts, bool Waiting) Progress => (0, true);
    }

    /// <summary>
    /// The script of a <see cref="ScriptedCoordinator"/> for group "g" with members "m-1" (the member under test; the
    /// leader unless told otherwise) and, with two members, "m-2"; topic "t" has 4 partitions. Each JoinGroup starts a
    /// generation; SyncGroup requests are recorded with the fake time they arrived at and answered with the leader's
    /// assignment for m-1 (or, for a follower, with half the partitions); the first may be answered with raw bytes instead.
    /// </summary>
    private sealed class CoordinatorBroker(TimeProvider time, int members, bool leader, byte[]? firstSyncRaw)
    {
        public static readonly (short Key, short Min, short Max)[] Ranges = [(3, 0, 8), (10, 0, 2), (11, 0, 5), (12, 0, 3), (13, 0, 2), (14, 0, 3), (18, 0, 3)];

        private int _joins;

        public ConcurrentQueue<(DateTimeOffset At, int Assignments)> SyncQueue { get; } = new();
        public IReadOnlyList<(DateTimeOffset At, int Assignments)> Syncs => [.. SyncQueue];
        public int Joins => Volatile.Read(ref _joins);

        public async Task<IKafkaMessage?> AnswerAsync(ScriptedConnection c, ScriptedRequest r)
        {
            var reader = new KafkaReader(r.Body.ToArray().AsMemory());
            switch (r.ApiKey)
            {
                case 11:
                    var join = JoinGroupRequest.Read(ref reader, r.Version);
                    var generation = Interlocked.Increment(ref _joins);
                    var metadata = join.Protocols.First().Metadata;
                    var other = ConsumerProtocol.EncodeSubscription([Topic], [], -1, null, default, 3);
                    var all = new List<JoinGroupResponse.JoinGroupResponseMember> { new() { MemberId = "m-1", Metadata = metadata } };
                    if (members > 1) all.Add(new() { MemberId = "m-2", Metadata = other });
                    return new JoinGroupResponse
                    {
                        GenerationId = generation,
                        ProtocolName = join.Protocols.First().Name,
                        Leader = leader ? "m-1" : "m-2",
                        MemberId = "m-1",
                        Members = leader ? all : [],
                    };
                case 14:
                    var sync = SyncGroupRequest.Read(ref reader, r.Version);
                    var first = SyncQueue.IsEmpty;
                    SyncQueue.Enqueue((time.GetUtcNow(), sync.Assignments.Count));
                    if (first && firstSyncRaw is not null)
                    {
                        await c.RespondAsync(r.CorrelationId, firstSyncRaw);
                        return null;
                    }
                    var mine = leader
                        ? sync.Assignments.Single(a => a.MemberId == "m-1").Assignment
                        : ConsumerProtocol.EncodeAssignment([new TopicPartition(Topic, 0), new TopicPartition(Topic, 1)], default, 0);
                    return new SyncGroupResponse { Assignment = mine };
                case 12:
                    return new HeartbeatResponse();
                case 13:
                    return new LeaveGroupResponse();
                default:
                    return null;
            }
        }
    }

    private sealed class Harness : IAsyncDisposable
    {
        private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));

        private Harness(CoordinatorBroker broker, ScriptedCoordinator scripted, KafkaCluster cluster, ClassicGroupMember member, TimerWatchingTimeProvider time)
        {
            Broker = broker;
            Scripted = scripted;
            Cluster = cluster;
            Member = member;
            Time = time;
        }

        public CoordinatorBroker Broker { get; }
        public ScriptedCoordinator Scripted { get; }
        public KafkaCluster Cluster { get; }
        public ClassicGroupMember Member { get; }
        public TimerWatchingTimeProvider Time { get; }
        public CancellationToken Token => _timeout.Token;

        /// <summary>The cluster id of the librdkafka mock, whose leaders give their followers a head start.</summary>
        public const string MockClusterId = ClassicGroupMember.MockClusterIdPrefix + "5f3a9c";

        public static async Task<Harness> StartAsync(int members, bool leader = true, byte[]? firstSyncRaw = null, string? clusterId = MockClusterId)
        {
            var time = new TimerWatchingTimeProvider();
            var broker = new CoordinatorBroker(time, members, leader, firstSyncRaw);
            var scripted = new ScriptedCoordinator(CoordinatorBroker.Ranges, [(Topic, 4)], broker.AnswerAsync, clusterId);
            var cluster = new KafkaCluster(new ClusterOptions(scripted.BootstrapServers));
            var options = new KielConsumerOptions
            {
                BootstrapServers = scripted.BootstrapServers,
                GroupId = "g",
                PartitionAssignmentStrategy = [PartitionAssignor.Range],
                SessionTimeout = TimeSpan.FromSeconds(6),
                HeartbeatInterval = TimeSpan.FromSeconds(1),
                RetryBackoff = TimeSpan.FromMilliseconds(10),
                TimeProvider = time,
            };
            using var start = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await cluster.StartAsync(start.Token);
            var member = new ClassicGroupMember(cluster, options, new Listener(), NullLogger.Instance);
            return new Harness(broker, scripted, cluster, member, time);
        }

        public async ValueTask DisposeAsync()
        {
            await Member.DisposeAsync();
            await Cluster.DisposeAsync();
            await Scripted.DisposeAsync();
            _timeout.Dispose();
        }
    }
}
