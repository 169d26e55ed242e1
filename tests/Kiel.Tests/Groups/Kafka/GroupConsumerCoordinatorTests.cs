using Kiel.Cluster;
using Kiel.Consuming;
using Kiel.Groups.Kafka;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Tests.Consuming;
using Kiel.Tests.Network;

namespace Kiel.Tests.Groups.Kafka;

/// <summary>
/// A group consumer's side of a rebalance (GroupConsumerCoordinator) with a stand-in member and a scripted coordinator
/// that records every OffsetCommit: a revoked partition is no longer handed out when the application's revoked handler
/// runs, and no commit (manual, explicit or queued behind the revocation) names a partition the member gave up, so a
/// late commit can never move the group's offset back under the partition's new owner.
/// </summary>
public sealed class GroupConsumerCoordinatorTests
{
    private const string Topic = "orders";
    private static readonly TopicPartition P0 = new(Topic, 0);
    private static readonly TopicPartition P1 = new(Topic, 1);

    [Fact]
    public async Task A_commit_of_explicit_offsets_leaves_out_a_partition_revoked_meanwhile()
    {
        await using var h = await Harness.StartAsync(autoCommit: false);
        await h.Coordinator.OnAssignedAsync([P0, P1], h.Token);
        await h.Coordinator.OnRevokedAsync([P0], h.Token);
        h.Member.Owned = [P1];

        // The application still holds a position of the partition it gave up (as the test member in its own process did).
        await h.Coordinator.CommitAsync(new Dictionary<TopicPartition, long> { [P0] = 786, [P1] = 20 }, h.Token);

        var commit = Assert.Single(h.Broker.Commits);
        Assert.Equal([(P1, 20L)], commit);
    }

    [Fact]
    public async Task The_revoked_handler_runs_after_the_partitions_stopped_being_handed_out_and_can_still_commit_them()
    {
        await using var h = await Harness.StartAsync(autoCommit: false);
        await h.Coordinator.OnAssignedAsync([P0, P1], h.Token);
        h.Engine.Seek(P0, 42); // the application moved past the committed 10
        IReadOnlyList<TopicPartition>? fetchingDuringHandler = null;
        h.Coordinator.Revoked = async (parts, ct) =>
        {
            fetchingDuringHandler = h.Engine.Assignment;
            await h.Coordinator.CommitAsync(ct); // the usual "commit what I processed" in a revoked handler
        };
        await h.Coordinator.OnRevokedAsync([P0], h.Token);

        Assert.NotNull(fetchingDuringHandler);
        Assert.DoesNotContain(P0, fetchingDuringHandler);
        Assert.Contains(P1, fetchingDuringHandler);
        // The handler's commit names the partition being revoked at the position it stopped at (P1 did not move).
        var commit = Assert.Single(h.Broker.Commits);
        Assert.Equal([(P0, 42L)], commit);
    }

    [Fact]
    public async Task A_commit_queued_behind_the_revocation_does_not_send_the_revoked_partition()
    {
        await using var h = await Harness.StartAsync(autoCommit: true);
        await h.Coordinator.OnAssignedAsync([P0, P1], h.Token);
        // Hold the revocation's final commit at the broker until a second commit (taken before the revocation) is queued.
        h.Broker.HoldCommits = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // A position past the committed 10, so the revocation has something to commit, and inside the log (0-99): a
        // position past its end is reset to 100 by the reset policy as soon as the engine's fetch comes back.
        h.Engine.Seek(P0, 60);
        var revoke = h.Coordinator.OnRevokedAsync([P0], h.Token).AsTask();
        await Eventually.Until(() => h.Broker.Received >= 1, "the revocation's commit reached the broker", TimeSpan.FromSeconds(20));
        var queued = h.Coordinator.CommitAsync(new Dictionary<TopicPartition, long> { [P0] = 40, [P1] = 30 }, h.Token);
        h.Broker.HoldCommits.SetResult();
        await revoke;
        await queued;

        Assert.Equal(2, h.Broker.Commits.Count);
        Assert.Equal([(P0, 60L)], h.Broker.Commits[0]);
        Assert.Equal([(P1, 30L)], h.Broker.Commits[1]);
    }

    [Fact]
    public async Task A_partition_given_back_in_the_next_generation_resumes_where_the_refused_final_commit_left_it()
    {
        await using var h = await Harness.StartAsync(autoCommit: true);
        await h.Coordinator.OnAssignedAsync([P0, P1], h.Token);
        h.Engine.Seek(P0, 60); // handed out and moved past; the group has 10 committed
        h.Engine.Seek(P1, 70);
        h.Broker.RefuseCommits = true; // as the mock does while the group is joining
        await h.Coordinator.OnRevokedAsync([P0, P1], h.Token);
        Assert.True(h.Broker.Received >= 1);
        Assert.Empty(h.Broker.Commits);

        // The next generation gives P0 back: nobody else owned it since, so it goes on at 60, not at the committed 10.
        h.Broker.RefuseCommits = false;
        h.Member.Metadata = new ConsumerGroupMetadata("g", "member-1", 6);
        h.Member.Owned = [P0];
        await h.Coordinator.OnAssignedAsync([P0], h.Token);
        Assert.Equal(60, h.Engine.Position(P0));
        // The next commit records that position under the new generation.
        await h.Coordinator.CommitAsync(h.Token);
        Assert.Equal([(P0, 60L)], Assert.Single(h.Broker.Commits));
    }

    [Fact]
    public async Task An_auto_commit_answered_rebalance_in_progress_tells_the_member_its_generation()
    {
        await using var h = await Harness.StartAsync(autoCommit: true);
        await h.Coordinator.OnAssignedAsync([P0], h.Token);
        h.Engine.Seek(P0, 60);
        h.Broker.RefuseCommits = true;
        await Assert.ThrowsAsync<KafkaException>(() => h.Coordinator.CommitAsync(h.Token));
        // The member joins at once (Java's requestRejoin) instead of handing out records until its next heartbeat.
        Assert.Equal([5], h.Member.RebalancesSeen);
    }

    [Fact]
    public async Task A_partition_given_back_later_than_the_next_generation_or_after_it_was_lost_starts_at_the_committed_offset()
    {
        await using var h = await Harness.StartAsync(autoCommit: true);
        await h.Coordinator.OnAssignedAsync([P0, P1], h.Token);
        h.Engine.Seek(P0, 60);
        h.Engine.Seek(P1, 70);
        h.Broker.RefuseCommits = true;
        await h.Coordinator.OnRevokedAsync([P0, P1], h.Token);

        // Generation 7: a generation passed in between, in which another member may have read P0 and committed.
        h.Member.Metadata = new ConsumerGroupMetadata("g", "member-1", 7);
        await h.Coordinator.OnAssignedAsync([P0], h.Token);
        Assert.Equal(10, h.Engine.Position(P0));

        // Refused again at generation 7, then partitions were lost (the session lapsed): no position of this member's
        // is trusted any more, even in generation 8.
        h.Engine.Seek(P0, 80);
        await h.Coordinator.OnRevokedAsync([P0], h.Token);
        await h.Coordinator.OnLostAsync([P1], h.Token);
        h.Member.Metadata = new ConsumerGroupMetadata("g", "member-1", 8);
        await h.Coordinator.OnAssignedAsync([P0], h.Token);
        Assert.Equal(10, h.Engine.Position(P0));
    }

    [Fact]
    public async Task Without_auto_commit_a_partition_given_back_starts_at_the_committed_offset()
    {
        // The application manages offsets (for example in transactions, which may abort): its position is not the group's.
        await using var h = await Harness.StartAsync(autoCommit: false);
        await h.Coordinator.OnAssignedAsync([P0], h.Token);
        h.Engine.Seek(P0, 60);
        h.Broker.RefuseCommits = true;
        await h.Coordinator.OnRevokedAsync([P0], h.Token);
        h.Member.Metadata = new ConsumerGroupMetadata("g", "member-1", 6);
        await h.Coordinator.OnAssignedAsync([P0], h.Token);
        Assert.Equal(10, h.Engine.Position(P0));
    }

    /// <summary>A stand-in member: the test says what it owns and its generation (5 at first).</summary>
    private sealed class StandInMember : IGroupMember
    {
        public ConsumerGroupMetadata Metadata { get; set; } = new("g", "member-1", 5);
        public IReadOnlyList<TopicPartition> Owned { get; set; } = [];
        public bool MayHandOut => true;
        public Exception? Failure => null;
        public void Subscribe(IReadOnlyList<string> topics) { }
        public Task WaitForAssignmentAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public void NotifyPolling() { }
        public List<int> RebalancesSeen { get; } = [];
        public void OnCommitSawRebalance(int generation) => RebalancesSeen.Add(generation);
        public Task LeaveAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>The script of a <see cref="ScriptedCoordinator"/>: OffsetFetch (committed 10 everywhere) and OffsetCommit, recorded.</summary>
    private sealed class CoordinatorBroker
    {
        private int _received;

        public List<List<(TopicPartition, long)>> Commits { get; } = [];
        public int Received => Volatile.Read(ref _received);
        public TaskCompletionSource? HoldCommits { get; set; }
        /// <summary>Answers OffsetCommit with REBALANCE_IN_PROGRESS and records nothing.</summary>
        public bool RefuseCommits { get; set; }
        public static readonly (short Key, short Min, short Max)[] Ranges = [(3, 0, 8), (8, 0, 2), (9, 0, 1), (10, 0, 2), (18, 0, 3)];

        public async Task<IKafkaMessage?> AnswerAsync(ScriptedConnection c, ScriptedRequest r)
        {
            var reader = new KafkaReader(r.Body.ToArray().AsMemory());
            switch (r.ApiKey)
            {
                case 9:
                    var fetch = OffsetFetchRequest.Read(ref reader, r.Version);
                    return new OffsetFetchResponse
                    {
                        Topics = [.. fetch.Topics!.Select(t => new OffsetFetchResponse.OffsetFetchResponseTopic
                        {
                            Name = t.Name,
                            Partitions = [.. t.PartitionIndexes.Select(p => new OffsetFetchResponse.OffsetFetchResponsePartition { PartitionIndex = p, CommittedOffset = 10 })],
                        })],
                    };
                case 8:
                    var commit = OffsetCommitRequest.Read(ref reader, r.Version);
                    Interlocked.Increment(ref _received);
                    if (HoldCommits is { } hold) await hold.Task.WaitAsync(TimeSpan.FromSeconds(30));
                    var refuse = RefuseCommits;
                    if (!refuse)
                        lock (Commits)
                        Commits.Add([.. commit.Topics.SelectMany(t => t.Partitions.Select(p => (new TopicPartition(t.Name, p.PartitionIndex), p.CommittedOffset)))
                            .OrderBy(x => x.Item1)]);
                    return new OffsetCommitResponse
                    {
                        Topics = [.. commit.Topics.Select(t => new OffsetCommitResponse.OffsetCommitResponseTopic
                        {
                            Name = t.Name,
                            Partitions = [.. t.Partitions.Select(p => new OffsetCommitResponse.OffsetCommitResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = refuse ? (short)27 : (short)0 })],
                        })],
                    };
                default:
                    return null;
            }
        }
    }

    private sealed class Harness : IAsyncDisposable
    {
        private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));

        private Harness(CoordinatorBroker broker, ScriptedCoordinator scripted, KafkaCluster cluster, FetchEngine engine, GroupConsumerCoordinator coordinator, StandInMember member)
        {
            Broker = broker;
            Scripted = scripted;
            Cluster = cluster;
            Engine = engine;
            Coordinator = coordinator;
            Member = member;
        }

        public CoordinatorBroker Broker { get; }
        public ScriptedCoordinator Scripted { get; }
        public KafkaCluster Cluster { get; }
        public FetchEngine Engine { get; }
        public GroupConsumerCoordinator Coordinator { get; }
        public StandInMember Member { get; }
        public CancellationToken Token => _timeout.Token;

        public static async Task<Harness> StartAsync(bool autoCommit)
        {
            var broker = new CoordinatorBroker();
            var scripted = new ScriptedCoordinator(CoordinatorBroker.Ranges, [], broker.AnswerAsync);
            var cluster = new KafkaCluster(new ClusterOptions(scripted.BootstrapServers));
            var backend = new FakeBackend();
            backend.CreateTopic(Topic, 2);
            // Offsets 0-99 exist, so the committed 10 and the positions the tests seek to are in range (an empty log
            // would reset them by the reset policy while the engine fetches).
            backend.Append(P0, TestBatches.V2(0, 100));
            backend.Append(P1, TestBatches.V2(0, 100));
            var options = new KielConsumerOptions
            {
                BootstrapServers = scripted.BootstrapServers,
                GroupId = "g",
                EnableAutoCommit = autoCommit,
                AutoCommitInterval = TimeSpan.FromHours(1),
                FetchMaxWait = TimeSpan.FromMilliseconds(20),
            };
            var engine = new FetchEngine(backend, options);
            var member = new StandInMember();
            var coordinator = new GroupConsumerCoordinator(cluster, engine, options, _ => member);
            using var start = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await cluster.StartAsync(start.Token);
            member.Owned = [P0, P1];
            return new Harness(broker, scripted, cluster, engine, coordinator, member);
        }

        public async ValueTask DisposeAsync()
        {
            await Coordinator.DisposeAsync();
            await Engine.DisposeAsync();
            await Cluster.DisposeAsync();
            await Scripted.DisposeAsync();
            _timeout.Dispose();
        }
    }
}
