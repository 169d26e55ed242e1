using System.Threading.Channels;
using Kiel.Groups.Kafka;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.Tests.Groups;

/// <summary>
/// The KIP-848 member's state machine against a scripted coordinator and a fake clock: join with epoch 0, revoke
/// before assign and acknowledge at once, heartbeat at the interval the coordinator asks, fenced and unknown member
/// lose everything and rejoin with epoch 0 and the same member id, coordinator moves are retried, fatal errors stop
/// it, a lapsed session loses the partitions, a stall past MaxPollInterval leaves, and leaving sends -1 or -2.
/// </summary>
public class ConsumerGroupMemberTests
{
    private static readonly Guid Orders = new("11111111-1111-1111-1111-111111111111");
    private static readonly Guid Payments = new("22222222-2222-2222-2222-222222222222");
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(1000);
    private static readonly TimeSpan Backoff = TimeSpan.FromMilliseconds(50);

    internal sealed record Call(ConsumerGroupHeartbeatRequest Request, TaskCompletionSource<ConsumerGroupHeartbeatResponse> Reply)
    {
        /// <summary>Answers with <paramref name="epoch"/> and, when any are given, a new assignment (none given: no change).</summary>
        public void Answer(int epoch, params (Guid Topic, int[] Partitions)[] assignment) => Reply.SetResult(Response(epoch, assignment.Length == 0 ? null : assignment));

        /// <summary>Answers with an assignment of nothing.</summary>
        public void AnswerEmpty(int epoch) => Reply.SetResult(Response(epoch, []));

        public void Fail(ErrorCode code) => Reply.SetResult(new ConsumerGroupHeartbeatResponse { ErrorCode = (short)code, MemberEpoch = -1 });

        public (Guid, int[])[] Owned => [.. Request.TopicPartitions!.Select(t => (t.TopicId, t.Partitions.ToArray()))];
    }

    internal static ConsumerGroupHeartbeatResponse Response(int epoch, (Guid Topic, int[] Partitions)[]? assignment) => new()
    {
        MemberEpoch = epoch,
        HeartbeatIntervalMs = (int)Interval.TotalMilliseconds,
        Assignment = assignment is null ? null : new ConsumerGroupHeartbeatResponse.AssignmentData
        {
            TopicPartitions = [.. assignment.Select(a => new ConsumerGroupHeartbeatResponse.TopicPartitions { TopicId = a.Topic, Partitions = [.. a.Partitions] })],
        },
    };

    internal sealed class ScriptedChannel : IConsumerGroupHeartbeatChannel
    {
        private readonly Channel<Call> _calls = Channel.CreateUnbounded<Call>();
        public Dictionary<Guid, string> Names { get; } = new() { [Orders] = "orders", [Payments] = "payments" };
        public int CoordinatorMoves;
        public Exception? Throw;

        public ValueTask<ConsumerGroupHeartbeatResponse> HeartbeatAsync(ConsumerGroupHeartbeatRequest request, CancellationToken cancellationToken)
        {
            if (Throw is { } e) return ValueTask.FromException<ConsumerGroupHeartbeatResponse>(e);
            var reply = new TaskCompletionSource<ConsumerGroupHeartbeatResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
            _calls.Writer.TryWrite(new Call(request, reply));
            return new ValueTask<ConsumerGroupHeartbeatResponse>(reply.Task.WaitAsync(cancellationToken));
        }

        public void CoordinatorMoved(string reason) => Interlocked.Increment(ref CoordinatorMoves);

        public ValueTask<IReadOnlyDictionary<Guid, string>> ResolveTopicNamesAsync(IReadOnlyCollection<Guid> topicIds, IReadOnlyList<string> subscribed, CancellationToken cancellationToken)
        {
            lock (Names) return ValueTask.FromResult<IReadOnlyDictionary<Guid, string>>(topicIds.Where(Names.ContainsKey).ToDictionary(id => id, id => Names[id]));
        }

        public async Task<Call> NextAsync()
        {
            using var timeout = new CancellationTokenSource(Eventually.Deadline);
            return await _calls.Reader.ReadAsync(timeout.Token);
        }

        public bool Pending => _calls.Reader.Count > 0;
    }

    internal sealed class RecordingListener : IGroupMemberListener
    {
        public List<string> Events { get; } = [];
        public long HandOuts = 0;
        public bool Waiting = true;

        public ValueTask OnAssignedAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken) => Add("assigned", partitions);
        public ValueTask OnRevokedAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken) => Add("revoked", partitions);
        public ValueTask OnLostAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken) => Add("lost", partitions);
        public (long HandOuts, bool Waiting) Progress => (Interlocked.Read(ref HandOuts), Volatile.Read(ref Waiting));
        public void OnFailed(Exception error) => Events.Add("failed " + error.GetType().Name);

        private ValueTask Add(string what, IReadOnlyList<TopicPartition> partitions)
        {
            lock (Events) Events.Add($"{what} {string.Join(",", partitions)}");
            return ValueTask.CompletedTask;
        }

        public string[] Snapshot()
        {
            lock (Events) return [.. Events];
        }
    }

    private sealed class Harness : IAsyncDisposable
    {
        public TimerWatchingTimeProvider Time { get; } = new();
        public ScriptedChannel Channel { get; } = new();
        public RecordingListener Listener { get; } = new();
        public ConsumerGroupMember Member { get; }

        public Harness(string? instanceId = null, string? assignor = "uniform")
        {
            Member = new ConsumerGroupMember(Channel,
                new ConsumerGroupMemberSettings("g", instanceId, assignor, TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(10), Backoff, Time),
                Listener, NullLogger.Instance);
        }

        /// <summary>Joins and takes orders 0 and 1 at epoch 1; returns the acknowledging heartbeat's call.</summary>
        public async Task<Call> JoinAsync()
        {
            Member.Subscribe(["orders", "payments"]);
            var join = await Channel.NextAsync();
            join.Answer(1, (Orders, [0, 1]));
            return await Channel.NextAsync();
        }

        public async ValueTask DisposeAsync() => await Member.DisposeAsync();
    }

    [Fact]
    public async Task JoinsWithEpochZeroAndItsFullStateThenAcknowledgesTheAssignmentAtOnce()
    {
        await using var h = new Harness();
        h.Member.Subscribe(["payments", "orders", "orders"]);
        var join = await h.Channel.NextAsync();
        var r = join.Request;
        Assert.Equal(("g", 0, 10_000, "uniform"), (r.GroupId, r.MemberEpoch, r.RebalanceTimeoutMs, r.ServerAssignor));
        Assert.Equal(22, r.MemberId.Length); // a UUID in Kafka's base64 form, chosen by the member (v1)
        Assert.Equal(["orders", "payments"], r.SubscribedTopicNames);
        Assert.Equal("", r.SubscribedTopicRegex);
        Assert.NotNull(r.TopicPartitions);
        Assert.Empty(r.TopicPartitions);
        Assert.Null(r.InstanceId);
        Assert.False(h.Member.MayHandOut);

        join.Answer(1, (Orders, [1, 0]));
        var ack = await h.Channel.NextAsync();
        // No interval wait before the acknowledgement: no timer with the interval was armed.
        Assert.Equal(0, h.Time.TimersWithDueTime(Interval));
        Assert.Equal((r.MemberId, 1), (ack.Request.MemberId, ack.Request.MemberEpoch));
        Assert.Equal([(Orders, new[] { 0, 1 })], ack.Owned);
        Assert.Equal(["assigned orders:0,orders:1"], h.Listener.Snapshot());
        Assert.True(h.Member.MayHandOut);
        Assert.Equal([new TopicPartition("orders", 0), new TopicPartition("orders", 1)], h.Member.Owned);
        Assert.Equal(("g", r.MemberId, 1, (string?)null), (h.Member.Metadata.GroupId, h.Member.Metadata.MemberId, h.Member.Metadata.GenerationId, h.Member.Metadata.GroupInstanceId));
        await h.Member.WaitForAssignmentAsync(CancellationToken.None);
    }

    [Fact]
    public async Task HeartbeatsAtTheIntervalTheCoordinatorGives()
    {
        await using var h = new Harness();
        var ack = await h.JoinAsync();
        ack.Answer(1);
        await Eventually.Until(() => h.Time.TimersWithDueTime(Interval) == 1, "the member waits the heartbeat interval");
        h.Time.Advance(Interval - TimeSpan.FromMilliseconds(1));
        await Eventually.Holds(() => !h.Channel.Pending, "no heartbeat before the interval", TimeSpan.FromMilliseconds(100));
        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        var next = await h.Channel.NextAsync();
        Assert.Equal(1, next.Request.MemberEpoch);
        Assert.Equal([(Orders, new[] { 0, 1 })], next.Owned);
    }

    [Fact]
    public async Task RevokesFirstThenAssignsAndAcknowledgesWithWhatItOwnsNow()
    {
        await using var h = new Harness();
        var ack = await h.JoinAsync();
        // The coordinator takes orders:0 away and gives payments:2, with the next epoch.
        ack.Answer(2, (Orders, [1]), (Payments, [2]));
        var next = await h.Channel.NextAsync();
        Assert.Equal(["assigned orders:0,orders:1", "revoked orders:0", "assigned payments:2"], h.Listener.Snapshot());
        Assert.Equal(2, next.Request.MemberEpoch);
        Assert.Equal([(Orders, new[] { 1 }), (Payments, new[] { 2 })], next.Owned.OrderBy(o => o.Item1).ToArray());
    }

    [Fact]
    public async Task ARevocationAloneIsAcknowledgedBeforeTheNewPartitionsArrive()
    {
        await using var h = new Harness();
        var ack = await h.JoinAsync();
        ack.Answer(1, (Orders, [1])); // revoke orders:0 first; the epoch moves on only once it is released
        var released = await h.Channel.NextAsync();
        Assert.Equal([(Orders, new[] { 1 })], released.Owned);
        Assert.Equal(["assigned orders:0,orders:1", "revoked orders:0"], h.Listener.Snapshot());
        released.Answer(2, (Orders, [1]), (Payments, [0]));
        var next = await h.Channel.NextAsync();
        Assert.Equal(2, next.Request.MemberEpoch);
        Assert.Equal("assigned payments:0", h.Listener.Snapshot()[^1]);
    }

    [Fact]
    public async Task AnEmptyAssignmentRevokesEverythingAndStillCountsAsAssigned()
    {
        await using var h = new Harness();
        var ack = await h.JoinAsync();
        ack.AnswerEmpty(2);
        var next = await h.Channel.NextAsync();
        Assert.Empty(next.Request.TopicPartitions!);
        Assert.Equal("revoked orders:0,orders:1", h.Listener.Snapshot()[^1]);
        Assert.Empty(h.Member.Owned);
    }

    [Theory]
    [InlineData(ErrorCode.FencedMemberEpoch)]
    [InlineData(ErrorCode.UnknownMemberId)]
    public async Task FencedOrUnknownLosesEverythingAndRejoinsWithEpochZeroAndTheSameId(ErrorCode code)
    {
        await using var h = new Harness();
        var ack = await h.JoinAsync();
        var id = ack.Request.MemberId;
        ack.Fail(code);
        var rejoin = await h.Channel.NextAsync();
        Assert.Equal((id, 0), (rejoin.Request.MemberId, rejoin.Request.MemberEpoch));
        Assert.Empty(rejoin.Request.TopicPartitions!);
        Assert.Equal(["assigned orders:0,orders:1", "lost orders:0,orders:1"], h.Listener.Snapshot());
        Assert.False(h.Member.MayHandOut);
        Assert.Equal(-1, h.Member.Metadata.GenerationId);
        rejoin.Answer(5, (Orders, [0]));
        Assert.Equal(5, (await h.Channel.NextAsync()).Request.MemberEpoch);
        Assert.Equal("assigned orders:0", h.Listener.Snapshot()[^1]);
        Assert.True(h.Member.MayHandOut);
    }

    [Theory]
    [InlineData(ErrorCode.NotCoordinator, 1)]
    [InlineData(ErrorCode.CoordinatorNotAvailable, 1)]
    [InlineData(ErrorCode.CoordinatorLoadInProgress, 0)]
    public async Task CoordinatorTroubleIsRetriedAfterABackoffKeepingThePartitions(ErrorCode code, int moves)
    {
        await using var h = new Harness();
        var ack = await h.JoinAsync();
        ack.Fail(code);
        await Eventually.Until(() => h.Time.TimersWithDueTime(Backoff) == 1, "the member backs off");
        Assert.Equal(moves, h.Channel.CoordinatorMoves);
        h.Time.Advance(Backoff);
        var retry = await h.Channel.NextAsync();
        Assert.Equal(1, retry.Request.MemberEpoch);
        Assert.Equal([(Orders, new[] { 0, 1 })], retry.Owned);
        Assert.DoesNotContain(h.Listener.Snapshot(), e => e.StartsWith("lost", StringComparison.Ordinal));
        Assert.True(h.Member.MayHandOut);
    }

    [Theory]
    [InlineData(ErrorCode.GroupAuthorizationFailed)]
    [InlineData(ErrorCode.UnsupportedAssignor)]
    [InlineData(ErrorCode.UnreleasedInstanceId)]
    [InlineData(ErrorCode.InvalidRequest)]
    [InlineData(ErrorCode.GroupMaxSizeReached)]
    public async Task AFatalErrorStopsTheMemberAndItsPartitionsAreLost(ErrorCode code)
    {
        await using var h = new Harness();
        h.Member.Subscribe(["orders"]);
        (await h.Channel.NextAsync()).Fail(code);
        var e = await Assert.ThrowsAsync<KafkaException>(() => h.Member.WaitForAssignmentAsync(CancellationToken.None));
        Assert.Equal(code, e.ErrorCode);
        Assert.Same(e, h.Member.Failure);
        Assert.False(h.Member.MayHandOut);
        await h.Member.Loop.WaitAsync(Eventually.Deadline);
    }

    [Fact]
    public async Task ACoordinatorWithoutHeartbeatV1StopsTheMemberWithAClearError()
    {
        await using var h = new Harness();
        h.Channel.Throw = new KafkaException(ErrorCode.UnsupportedVersion, "the coordinator does not serve ConsumerGroupHeartbeat v1; use GroupProtocol.Classic");
        h.Member.Subscribe(["orders"]);
        var e = await Assert.ThrowsAsync<KafkaException>(() => h.Member.WaitForAssignmentAsync(CancellationToken.None));
        Assert.Contains("GroupProtocol.Classic", e.Message);
        await h.Member.Loop.WaitAsync(Eventually.Deadline);
        Assert.Same(e, h.Member.Failure);
    }

    [Fact]
    public async Task ASessionWithoutASuccessfulHeartbeatLosesThePartitions()
    {
        await using var h = new Harness();
        var ack = await h.JoinAsync();
        h.Channel.Throw = new IOException("connection refused");
        ack.Answer(1);
        await Eventually.Until(() => h.Time.TimersWithDueTime(Interval) == 1, "the member waits the heartbeat interval");
        // Each failure backs off (50, 100, 200, ... capped at 1 s); the session (6 s) lapses after some of them.
        for (var i = 0; i < 200 && !h.Listener.Snapshot().Any(e => e.StartsWith("lost", StringComparison.Ordinal)); i++)
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(2);
        }
        Assert.Equal("lost orders:0,orders:1", h.Listener.Snapshot()[^1]);
        Assert.False(h.Member.MayHandOut);
        Assert.True(h.Channel.CoordinatorMoves > 0); // a connection failure sends it to look for the coordinator again
        h.Channel.Throw = null;
        for (var i = 0; i < 20 && !h.Channel.Pending; i++)
        {
            h.Time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5);
        }
        Assert.Equal(0, (await h.Channel.NextAsync()).Request.MemberEpoch);
    }

    [Fact]
    public async Task AStallPastMaxPollIntervalLeavesAndRejoinsWhenTheApplicationAsksAgain()
    {
        await using var h = new Harness();
        var ack = await h.JoinAsync();
        h.Listener.Waiting = false; // the application holds records and does not come back
        ack.Answer(1);
        Call? leave = null;
        var seen = 0;
        for (var i = 0; i < 60 && leave is null; i++)
        {
            await Eventually.Until(() => h.Channel.Pending || h.Time.TimersWithDueTime(Interval) > seen, "the member heartbeats or waits the interval");
            if (h.Channel.Pending)
            {
                var call = await h.Channel.NextAsync();
                if (call.Request.MemberEpoch == ConsumerGroupMember.LeaveEpoch) leave = call;
                else call.Answer(1);
                continue;
            }
            seen++;
            h.Time.Advance(Interval);
        }
        Assert.NotNull(leave);
        Assert.Equal("lost orders:0,orders:1", h.Listener.Snapshot()[^1]);
        Assert.False(h.Member.MayHandOut);
        leave!.Answer(-1);
        await Eventually.Holds(() => !h.Channel.Pending, "no rejoin while the application is away", TimeSpan.FromMilliseconds(100));

        h.Listener.Waiting = true;
        h.Member.NotifyPolling();
        var rejoin = await h.Channel.NextAsync();
        Assert.Equal(0, rejoin.Request.MemberEpoch);
        Assert.Equal(leave.Request.MemberId, rejoin.Request.MemberId);
    }

    [Theory]
    [InlineData(null, ConsumerGroupMember.LeaveEpoch)]
    [InlineData("static-1", ConsumerGroupMember.StaticLeaveEpoch)]
    public async Task LeavingRevokesThenSendsTheLeaveEpoch(string? instanceId, int epoch)
    {
        await using var h = new Harness(instanceId);
        var ack = await h.JoinAsync();
        Assert.Equal(instanceId, ack.Request.InstanceId);
        ack.Answer(1);
        var leaving = h.Member.LeaveAsync(CancellationToken.None);
        var leave = await h.Channel.NextAsync();
        Assert.Equal(epoch, leave.Request.MemberEpoch);
        Assert.Equal("revoked orders:0,orders:1", h.Listener.Snapshot()[^1]);
        leave.Answer(epoch);
        await leaving.WaitAsync(Eventually.Deadline);
    }

    [Fact]
    public async Task PartitionsOfATopicMetadataDoesNotKnowYetAreTakenOnceItDoes()
    {
        await using var h = new Harness();
        lock (h.Channel.Names) h.Channel.Names.Remove(Payments);
        h.Member.Subscribe(["orders", "payments"]);
        (await h.Channel.NextAsync()).Answer(1, (Orders, [0]), (Payments, [0]));
        var ack = await h.Channel.NextAsync();
        Assert.Equal([(Orders, new[] { 0 })], ack.Owned);
        lock (h.Channel.Names) h.Channel.Names[Payments] = "payments";
        ack.Answer(1); // no new assignment: the pending one is retried
        var next = await h.Channel.NextAsync();
        Assert.Equal("assigned payments:0", h.Listener.Snapshot()[^1]);
        Assert.Equal(2, next.Owned.Length);
    }

    [Fact]
    public void MemberIdsAreRandomKafkaUuids()
    {
        var a = ConsumerGroupMember.NewMemberId();
        Assert.Matches("^[A-Za-z0-9_-]{22}$", a);
        Assert.NotEqual(a, ConsumerGroupMember.NewMemberId());
    }
}
