// The classic group protocol, one member (KIP-62 heartbeats on their own task, KIP-394, KIP-345, KIP-429):
//
//   FindCoordinator -> JoinGroup (again with the given member id after MEMBER_ID_REQUIRED) -> the leader decodes the
//   members' subscriptions, runs the first assignor every member lists (the coordinator chose it) -> SyncGroup ->
//   apply the assignment -> heartbeat every HeartbeatInterval until a rebalance, an error or close.
//
// Eager: everything owned is revoked (the application told, offsets committed) before JoinGroup.
// Cooperative (every configured assignor is): the member keeps its partitions through the join; after SyncGroup it
// revokes only what it no longer has and, when it revoked anything, joins once more so that those partitions reach
// their new owner (the leader withheld them: a partition that changes owner is first only revoked).
//
// Lost is told apart from revoked: when the generation is gone (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
// FENCED_INSTANCE_ID, a session that lapsed, a stall past MaxPollInterval) the partitions are dropped without a commit.
// Between a lapse and the next successful join MayHandOut is false, so the consumer hands out nothing.
using Kiel.Cluster;
using Kiel.Consuming;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace Kiel.Groups.Kafka;

/// <summary>A member of a Kafka consumer group speaking the classic protocol.</summary>
internal sealed class ClassicGroupMember : IGroupMember
{
    internal const string ConsumerProtocolType = "consumer";

    // The librdkafka mock serves JoinGroup v6+ and SyncGroup v4+ wrongly and lacks LeaveGroup v3+; the versions below
    // carry everything this member sends (member id required v4, static membership v5/v3).
    internal const short MaxJoinGroupVersion = 5;
    internal const short MaxSyncGroupVersion = 3;
    internal const short MaxHeartbeatVersion = 3;
    internal const short MaxLeaveGroupVersion = 2;
    internal const short SubscriptionVersion = 3;
    internal const short AssignmentVersion = 0;

    /// <summary>
    /// How long the leader of a group with other members waits, from its JoinGroup answer, before it sends its SyncGroup.
    /// A Kafka broker serves a follower's SyncGroup whenever it comes; the librdkafka mock completes the generation as soon
    /// as the leader's SyncGroup has set every assignment, clears the assignments of followers whose SyncGroup has not
    /// arrived yet and answers them INVALID_REQUEST, and their rejoin costs a whole rebalance round (SessionTimeout − 1 s).
    /// A follower in a freshly started process needs tens of milliseconds for its first SyncGroup; a warm leader computes
    /// the assignment in a few. The wait overlaps the leader's metadata refresh and assignment. Only a cluster that
    /// <see cref="NeedsLeaderSyncHeadStart"/> names as the mock gets it: at a Kafka broker it would only delay every
    /// rebalance.
    /// </summary>
    internal static readonly TimeSpan LeaderSyncHeadStart = TimeSpan.FromMilliseconds(200);

    /// <summary>The start of the cluster id the librdkafka mock cluster reports in Metadata ("mockCluster" and a hex number).</summary>
    internal const string MockClusterIdPrefix = "mockCluster";

    /// <summary>
    /// True when the cluster is the librdkafka mock (its Metadata cluster id starts with <see cref="MockClusterIdPrefix"/>),
    /// whose SyncGroup handling needs the leader's <see cref="LeaderSyncHeadStart"/>. A Kafka broker's id is a base64 UUID,
    /// and a broker before Metadata v2 reports none.
    /// </summary>
    internal static bool NeedsLeaderSyncHeadStart(MetadataSnapshot metadata) =>
        metadata.ClusterId is { } id && id.StartsWith(MockClusterIdPrefix, StringComparison.Ordinal);

    private readonly KafkaCluster _cluster;
    private readonly KielConsumerOptions _options;
    private readonly IGroupMemberListener _listener;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _groupId;
    private readonly string? _instanceId;
    private readonly IReadOnlyList<PartitionAssignor> _assignors;
    private readonly RebalanceProtocol _protocol;
    private readonly CancellationTokenSource _stop = new();
    private readonly AsyncSignal _wake = new();
    private readonly object _gate = new();

    private IReadOnlyList<string> _topics = [];
    private Task _loop = Task.CompletedTask;
    private string _memberId = "";
    private int _generation = -1;
    private List<TopicPartition> _owned = [];
    private volatile bool _rejoin = true;
    private volatile bool _joining;
    private volatile bool _stalled;
    private volatile Exception? _failure;
    private long _lastHeartbeatOk;
    private long _lastProgress;
    private long _lastHandOuts = -1;
    private TaskCompletionSource _assigned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;
    // Set while this member leads the group: the topics every member subscribed to and their partition counts when it
    // assigned, so that it rejoins when one changes (Java's leader does; librdkafka's members do).
    private volatile AssignedTopics? _assignedTopics;

    public ClassicGroupMember(KafkaCluster cluster, KielConsumerOptions options, IGroupMemberListener listener, ILogger logger)
    {
        _cluster = cluster;
        _options = options;
        _listener = listener;
        _logger = logger;
        _time = options.TimeProvider ?? TimeProvider.System;
        _groupId = options.GroupId ?? throw new ArgumentException("A group member needs KielConsumerOptions.GroupId.", nameof(options));
        _instanceId = options.GroupInstanceId;
        _assignors = options.PartitionAssignmentStrategy;
        _protocol = ChooseProtocol(_assignors);
        _lastHeartbeatOk = _time.GetTimestamp();
        _lastProgress = _lastHeartbeatOk;
    }

    /// <summary>Cooperative when every configured assignor is (as Java's consumer chooses); eager otherwise.</summary>
    internal static RebalanceProtocol ChooseProtocol(IReadOnlyList<PartitionAssignor> assignors) =>
        assignors.Count > 0 && assignors.All(a => a.Protocol == RebalanceProtocol.Cooperative) ? RebalanceProtocol.Cooperative : RebalanceProtocol.Eager;

    public RebalanceProtocol Protocol => _protocol;

    public ConsumerGroupMetadata Metadata
    {
        get
        {
            lock (_gate) return new ConsumerGroupMetadata(_groupId, _memberId, _generation, _instanceId);
        }
    }

    public IReadOnlyList<TopicPartition> Owned
    {
        get
        {
            lock (_gate) return [.. _owned];
        }
    }

    public bool MayHandOut =>
        _failure is null && !_stalled && (_joining || _time.GetElapsedTime(Interlocked.Read(ref _lastHeartbeatOk)) < _options.SessionTimeout);

    public Exception? Failure => _failure;

    public void Subscribe(IReadOnlyList<string> topics)
    {
        ArgumentNullException.ThrowIfNull(topics);
        lock (_gate) _topics = [.. topics.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        _rejoin = true;
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            var stop = _stop.Token; // read here: a member disposed at once may dispose _stop before the pool runs the loop
            _loop = Task.Run(() => RunAsync(stop));
        }
        else _wake.Set();
    }

    public Task WaitForAssignmentAsync(CancellationToken cancellationToken)
    {
        Task task;
        lock (_gate) task = _assigned.Task;
        return task.WaitAsync(cancellationToken);
    }

    public void NotifyPolling()
    {
        if (_stalled) _wake.Set();
    }

    public void OnCommitSawRebalance(int generation)
    {
        // Only a member that believes it is stable at that generation: during its own join (or once it has moved on)
        // a refused commit says nothing new, and a rejoin then would start one more rebalance for nothing.
        if (_joining || _rejoin || _stalled) return;
        lock (_gate)
            if (_generation != generation || _generation < 0) return;
        _rejoin = true;
        KafkaGroupLog.Rejoin(_logger, _groupId, _memberId, "an offset commit was answered REBALANCE_IN_PROGRESS");
        _wake.Set();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var backoff = RetryStart;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (_cluster.Metadata == MetadataSnapshot.Empty) await _cluster.StartAsync(stop).ConfigureAwait(false);
                if (_stalled)
                {
                    await WaitUntilPollingAsync(stop).ConfigureAwait(false);
                    continue;
                }
                if (_rejoin)
                {
                    await JoinAndSyncAsync(stop).ConfigureAwait(false);
                    backoff = RetryStart;
                    continue;
                }
                await WaitAsync(_options.HeartbeatInterval, stop).ConfigureAwait(false);
                if (_rejoin || SubscribedTopicsChanged()) continue;
                if (await CheckStallAsync(stop).ConfigureAwait(false)) continue;
                await HeartbeatAsync(stop).ConfigureAwait(false);
                backoff = RetryStart;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (GroupFatalException e)
            {
                await FailAsync(e.InnerException ?? e, stop).ConfigureAwait(false);
                return;
            }
            catch (Exception e)
            {
                _joining = false;
                var delay = backoff;
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
                KafkaGroupLog.RetriableError(_logger, _groupId, "group member", e.Message, delay.TotalMilliseconds);
                if (ErrorClassification.GetErrorCode(e) is not { } code || ErrorClassification.MeansCoordinatorMoved(code))
                    _cluster.ForgetCoordinator(CoordinatorType.Group, _groupId, e.Message);
                try
                {
                    await CheckSessionAsync(stop).ConfigureAwait(false);
                    await Task.Delay(delay, _time, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }

    private TimeSpan RetryStart => TimeSpan.FromMilliseconds(Math.Max(10, _options.RetryBackoff.TotalMilliseconds));

    private async Task WaitAsync(TimeSpan delay, CancellationToken stop)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(delay);
        try
        {
            await _wake.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
        }
    }

    private async Task WaitUntilPollingAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var (_, waiting) = _listener.Progress;
            if (waiting) break;
            await WaitAsync(_options.HeartbeatInterval, stop).ConfigureAwait(false);
        }
        stop.ThrowIfCancellationRequested();
        _stalled = false;
        _rejoin = true;
        Interlocked.Exchange(ref _lastProgress, _time.GetTimestamp());
        KafkaGroupLog.Rejoin(_logger, _groupId, _memberId, "the application asks for records again after a stall");
    }

    // ---- join and sync ----

    private async Task JoinAndSyncAsync(CancellationToken stop)
    {
        _joining = true;
        _assignedTopics = null; // set again by AssignAsync if this member leads the next generation
        try
        {
            if (_protocol == RebalanceProtocol.Eager) await RevokeAsync(Owned, stop).ConfigureAwait(false);
            var join = await JoinAsync(stop).ConfigureAwait(false);
            if (join is null) return; // rejoin requested by the error handling
            List<SyncGroupRequest.SyncGroupRequestAssignment> assignments = [];
            if (join.Leader == join.MemberId)
            {
                var headStart = Task.CompletedTask;
                if (join.Members.Count > 1 && NeedsLeaderSyncHeadStart(_cluster.Metadata))
                {
                    KafkaGroupLog.LeaderSyncHeadStart(_logger, _groupId, join.MemberId, LeaderSyncHeadStart.TotalMilliseconds, join.Members.Count - 1);
                    headStart = Task.Delay(LeaderSyncHeadStart, _time, stop);
                }
                assignments = await AssignAsync(join, stop).ConfigureAwait(false);
                await headStart.ConfigureAwait(false);
            }
            var assigned = await SyncAsync(join, assignments, stop).ConfigureAwait(false);
            if (assigned is null) return;
            _rejoin = false;
            Interlocked.Exchange(ref _lastHeartbeatOk, _time.GetTimestamp());
            Interlocked.Exchange(ref _lastProgress, _time.GetTimestamp());
            await ApplyAsync(assigned, stop).ConfigureAwait(false);
        }
        finally
        {
            _joining = false;
        }
    }

    /// <summary>JoinGroup until it succeeds; null when the member must start over (its generation is gone).</summary>
    private async Task<JoinGroupResponse?> JoinAsync(CancellationToken stop)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var connection = await _cluster.GetCoordinatorConnectionAsync(CoordinatorType.Group, _groupId, stop).ConfigureAwait(false);
            var version = connection.Versions.Choose(ApiKey.JoinGroup, 0, MaxJoinGroupVersion);
            IReadOnlyList<string> topics;
            List<TopicPartition> owned;
            int generation;
            string memberId;
            lock (_gate)
            {
                topics = _topics;
                owned = _protocol == RebalanceProtocol.Cooperative ? [.. _owned] : [];
                generation = _generation;
                memberId = _memberId;
            }
            var metadata = ConsumerProtocol.EncodeSubscription(topics, owned, generation, null, default, SubscriptionVersion);
            var request = new JoinGroupRequest
            {
                GroupId = _groupId,
                SessionTimeoutMs = (int)_options.SessionTimeout.TotalMilliseconds,
                RebalanceTimeoutMs = (int)_options.MaxPollInterval.TotalMilliseconds,
                MemberId = memberId,
                GroupInstanceId = _instanceId,
                ProtocolType = ConsumerProtocolType,
                Protocols = [.. _assignors.Select(a => new JoinGroupRequest.JoinGroupRequestProtocol { Name = a.Name, Metadata = metadata })],
            };
            // The coordinator holds a JoinGroup until every member rejoined, up to the rebalance timeout.
            var wait = _options.MaxPollInterval + _options.SessionTimeout + _options.RequestTimeout;
            var response = await connection.SendAsync(request, version, stop, wait).ConfigureAwait(false);
            var code = (ErrorCode)response.ErrorCode;
            switch (code)
            {
                case ErrorCode.None:
                    lock (_gate)
                    {
                        _memberId = response.MemberId;
                        _generation = response.GenerationId;
                    }
                    KafkaGroupLog.Joined(_logger, _groupId, response.MemberId, response.GenerationId, response.ProtocolName, response.Leader == response.MemberId);
                    return response;
                case ErrorCode.MemberIdRequired:
                    // KIP-394: the coordinator gave us our id; join again with it at once.
                    lock (_gate) _memberId = response.MemberId;
                    continue;
                case ErrorCode.UnknownMemberId:
                    await LoseAsync("the coordinator does not know the member id", resetMemberId: true, stop).ConfigureAwait(false);
                    continue;
                case ErrorCode.IllegalGeneration:
                    await LoseAsync("the generation is no longer current", resetMemberId: false, stop).ConfigureAwait(false);
                    continue;
                case ErrorCode.FencedInstanceId:
                    throw Fatal(code, $"another member uses GroupInstanceId '{_instanceId}'; give each member its own");
                default:
                    throw FailureOf(code, "JoinGroup");
            }
        }
        throw new KafkaException(ErrorCode.RebalanceInProgress, $"JoinGroup for group '{_groupId}' did not settle after 10 attempts");
    }

    /// <summary>An exception for a JoinGroup/SyncGroup/Heartbeat error: retriable ones are retried by the loop, others stop the member.</summary>
    private Exception FailureOf(ErrorCode code, string api)
    {
        var error = new KafkaException(code, $"{api} for group '{_groupId}'");
        if (code is ErrorCode.GroupAuthorizationFailed or ErrorCode.InvalidSessionTimeout or ErrorCode.InconsistentGroupProtocol
            or ErrorCode.GroupMaxSizeReached or ErrorCode.InvalidGroupId or ErrorCode.UnsupportedVersion or ErrorCode.TopicAuthorizationFailed
            or ErrorCode.UnsupportedAssignor)
            return new GroupFatalException(error);
        // Anything else (a moved or loading coordinator, a broker quirk): back off and join again.
        _rejoin = true;
        return error;
    }

    private GroupFatalException Fatal(ErrorCode code, string detail) => new(new KafkaException(code, $"group '{_groupId}': {detail}"));

    private async Task<List<SyncGroupRequest.SyncGroupRequestAssignment>> AssignAsync(JoinGroupResponse join, CancellationToken stop)
    {
        var assignor = _assignors.FirstOrDefault(a => a.Name == join.ProtocolName)
            ?? throw Fatal(ErrorCode.InconsistentGroupProtocol, $"the coordinator chose assignor '{join.ProtocolName}', which this member does not list");
        var subscriptions = new List<GroupMemberSubscription>(join.Members.Count);
        foreach (var m in join.Members)
            subscriptions.Add(ConsumerProtocol.DecodeSubscription(m.MemberId, m.GroupInstanceId, m.Metadata.Span));
        var topics = subscriptions.SelectMany(s => s.Topics).Distinct(StringComparer.Ordinal).ToList();
        var snapshot = await _cluster.RefreshMetadataAsync(topics, stop).ConfigureAwait(false);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var topic in topics)
            if (snapshot.TryGetTopic(topic, out var metadata) && metadata.ErrorCode == 0 && metadata.Partitions.Count > 0)
                counts[topic] = metadata.Partitions.Count;
        _assignedTopics = new AssignedTopics(topics, counts);
        var target = assignor.Assign(counts, subscriptions);
        var final = assignor.Protocol == RebalanceProtocol.Cooperative ? WithholdMoving(target, subscriptions) : target;
        KafkaGroupLog.AssignmentComputed(_logger, _groupId, join.MemberId, assignor.Name,
            string.Join("; ", final.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}: {Describe(kv.Value)}")));
        return [.. subscriptions.Select(s => new SyncGroupRequest.SyncGroupRequestAssignment
        {
            MemberId = s.MemberId,
            Assignment = ConsumerProtocol.EncodeAssignment(final.TryGetValue(s.MemberId, out var list) ? list : [], default, AssignmentVersion),
        })];
    }

    /// <summary>
    /// KIP-429: a partition the target gives to a member other than its current owner is withheld from the new owner in
    /// this generation. The old owner does not find it in its assignment, revokes it and joins again; the follow-up
    /// rebalance hands it over. Where two members claim one partition, the claim of the higher generation stands.
    /// </summary>
    internal static IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> WithholdMoving(
        IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> target, IReadOnlyList<GroupMemberSubscription> members)
    {
        var owner = new Dictionary<TopicPartition, (string Member, int Generation)>();
        foreach (var m in members)
            foreach (var tp in m.OwnedPartitions)
                if (!owner.TryGetValue(tp, out var current) || m.Generation > current.Generation)
                    owner[tp] = (m.MemberId, m.Generation);
        var result = new Dictionary<string, IReadOnlyList<TopicPartition>>(StringComparer.Ordinal);
        foreach (var (member, partitions) in target)
            result[member] = [.. partitions.Where(tp => !owner.TryGetValue(tp, out var o) || o.Member == member)];
        return result;
    }

    /// <summary>SyncGroup; the member's assignment, or null when it must join again.</summary>
    private async Task<IReadOnlyList<TopicPartition>?> SyncAsync(JoinGroupResponse join, List<SyncGroupRequest.SyncGroupRequestAssignment> assignments, CancellationToken stop)
    {
        var connection = await _cluster.GetCoordinatorConnectionAsync(CoordinatorType.Group, _groupId, stop).ConfigureAwait(false);
        var version = connection.Versions.Choose(ApiKey.SyncGroup, 0, MaxSyncGroupVersion);
        var request = new SyncGroupRequest
        {
            GroupId = _groupId,
            GenerationId = join.GenerationId,
            MemberId = join.MemberId,
            GroupInstanceId = _instanceId,
            ProtocolType = ConsumerProtocolType,
            ProtocolName = join.ProtocolName,
            Assignments = assignments,
        };
        var wait = _options.SessionTimeout + _options.RequestTimeout;
        SyncGroupResponse response;
        using (var frame = await connection.SendRawAsync(request, version, stop, wait).ConfigureAwait(false))
            response = DecodeSyncGroup(frame);
        var code = (ErrorCode)response.ErrorCode;
        switch (code)
        {
            case ErrorCode.InvalidRequest:
                // A Kafka broker answers a current member's SyncGroup with its assignment. The librdkafka mock answers
                // INVALID_REQUEST when the generation was completed (by the leader's SyncGroup) before this one arrived.
                throw FailureOf(code, "SyncGroup (the coordinator completed the generation without this member; the librdkafka mock does so when the leader's SyncGroup arrives first)");
            case ErrorCode.None:
                return response.Assignment.IsEmpty ? [] : ConsumerProtocol.DecodeAssignment(response.Assignment.Span);
            case ErrorCode.RebalanceInProgress:
                KafkaGroupLog.Rejoin(_logger, _groupId, join.MemberId, "the group rebalanced again during SyncGroup");
                return null;
            case ErrorCode.UnknownMemberId:
                await LoseAsync("the coordinator does not know the member id", resetMemberId: true, stop).ConfigureAwait(false);
                return null;
            case ErrorCode.IllegalGeneration:
                await LoseAsync("the generation is no longer current", resetMemberId: false, stop).ConfigureAwait(false);
                return null;
            case ErrorCode.FencedInstanceId:
                throw Fatal(code, $"another member uses GroupInstanceId '{_instanceId}'; give each member its own");
            default:
                throw FailureOf(code, "SyncGroup");
        }
    }

    /// <summary>
    /// Decodes a SyncGroup answer. An error answer whose assignment is null, which the protocol does not allow but the
    /// librdkafka mock sends (Kafka sends empty bytes), is read as its error code rather than refused as malformed.
    /// </summary>
    internal static SyncGroupResponse DecodeSyncGroup(ResponseFrame frame)
    {
        try
        {
            return frame.DecodeCopy<SyncGroupResponse>();
        }
        catch (KafkaProtocolException) when (NullAssignmentError(frame.Body.Span, frame.Version) is { } error)
        {
            return error;
        }
    }

    private static SyncGroupResponse? NullAssignmentError(ReadOnlySpan<byte> body, short version)
    {
        // Versions 0-3 (the ones this member sends): [throttle int32 (v1+)] error int16, assignment int32 length (-1: null).
        if (version is < 0 or > 3) return null;
        var at = version >= 1 ? 4 : 0;
        if (body.Length != at + 6) return null;
        var error = System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(body[at..]);
        var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(body[(at + 2)..]);
        if (error == 0 || length != -1) return null;
        return new SyncGroupResponse
        {
            ThrottleTimeMs = version >= 1 ? System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(body) : 0,
            ErrorCode = error,
        };
    }

    private async Task ApplyAsync(IReadOnlyList<TopicPartition> assigned, CancellationToken stop)
    {
        var target = assigned.ToHashSet();
        List<TopicPartition> revoked, added;
        lock (_gate)
        {
            revoked = [.. _owned.Where(tp => !target.Contains(tp))];
            added = [.. target.Where(tp => !_owned.Contains(tp)).Order()];
        }
        if (revoked.Count > 0)
        {
            await RevokeAsync(revoked, stop).ConfigureAwait(false);
            // KIP-429: the partitions just given up reach their new owner in a follow-up rebalance.
            _rejoin = true;
            KafkaGroupLog.Rejoin(_logger, _groupId, _memberId, $"it gave up {Describe(revoked)} for their new owner");
        }
        if (added.Count > 0)
        {
            KafkaGroupLog.Assigned(_logger, _groupId, _memberId, Describe(added));
            await Call(_listener.OnAssignedAsync, added, "assigned", stop).ConfigureAwait(false);
            lock (_gate) _owned.AddRange(added);
        }
        TaskCompletionSource signal;
        lock (_gate) signal = _assigned;
        signal.TrySetResult();
    }

    private async Task RevokeAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken stop)
    {
        if (partitions.Count == 0) return;
        KafkaGroupLog.Revoked(_logger, _groupId, _memberId, Describe(partitions));
        await Call(_listener.OnRevokedAsync, partitions, "revoked", stop).ConfigureAwait(false);
        lock (_gate) _owned.RemoveAll(partitions.Contains);
    }

    /// <summary>The generation is gone: what the member owned is lost (no commit), and it joins again.</summary>
    private async Task LoseAsync(string reason, bool resetMemberId, CancellationToken stop)
    {
        List<TopicPartition> lost;
        lock (_gate)
        {
            lost = [.. _owned];
            _owned.Clear();
            _generation = -1;
            if (resetMemberId) _memberId = "";
        }
        _rejoin = true;
        if (lost.Count > 0)
        {
            KafkaGroupLog.Lost(_logger, _groupId, _memberId, Describe(lost), reason);
            await Call(_listener.OnLostAsync, lost, "lost", stop).ConfigureAwait(false);
        }
        else
        {
            KafkaGroupLog.Rejoin(_logger, _groupId, _memberId, reason);
        }
    }

    private async Task Call(Func<IReadOnlyList<TopicPartition>, CancellationToken, ValueTask> handler, IReadOnlyList<TopicPartition> partitions, string kind, CancellationToken stop)
    {
        try
        {
            await handler(partitions, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            KafkaGroupLog.HandlerFailed(_logger, e, _groupId, kind);
        }
    }

    // ---- the leader watches the subscribed topics ----

    /// <summary>The topics the group subscribed to and their partition counts when the leader assigned.</summary>
    private sealed record AssignedTopics(IReadOnlyList<string> Topics, IReadOnlyDictionary<string, int> Counts);

    /// <summary>
    /// True (and a rejoin is due) when this member leads the group and the cluster's metadata, refreshed in the
    /// background at least every MetadataMaxAge, shows a subscribed topic with another partition count than when it
    /// assigned, or a subscribed topic that did not exist then: the new partitions need an owner, so the group is
    /// assigned afresh. A topic the metadata does not show (now) is left alone: a transient error must not rebalance.
    /// </summary>
    private bool SubscribedTopicsChanged()
    {
        if (_assignedTopics is not { } assigned) return false;
        var snapshot = _cluster.Metadata;
        var change = DescribeChange(assigned.Topics, assigned.Counts,
            topic => snapshot.TryGetTopic(topic, out var m) && m.ErrorCode == 0 && m.Partitions.Count > 0 ? m.Partitions.Count : null);
        if (change is null) return false;
        _assignedTopics = null;
        _rejoin = true;
        KafkaGroupLog.TopicChanged(_logger, _groupId, _memberId, change);
        return true;
    }

    /// <summary>What changed between the partition counts a leader assigned with and the current ones, or null when nothing did.</summary>
    internal static string? DescribeChange(IReadOnlyList<string> topics, IReadOnlyDictionary<string, int> assigned, Func<string, int?> current)
    {
        List<string>? changes = null;
        foreach (var topic in topics)
        {
            if (current(topic) is not { } now) continue;
            if (!assigned.TryGetValue(topic, out var then))
                (changes ??= []).Add($"topic '{topic}' appeared with {now} partition(s)");
            else if (now != then)
                (changes ??= []).Add($"topic '{topic}' has {now} partition(s), not {then}");
        }
        return changes is null ? null : string.Join("; ", changes);
    }

    // ---- heartbeat, session, stall ----

    private async Task HeartbeatAsync(CancellationToken stop)
    {
        var connection = await _cluster.GetCoordinatorConnectionAsync(CoordinatorType.Group, _groupId, stop).ConfigureAwait(false);
        var version = connection.Versions.Choose(ApiKey.Heartbeat, 0, MaxHeartbeatVersion);
        ConsumerGroupMetadata me = Metadata;
        var response = await connection.SendAsync(new HeartbeatRequest
        {
            GroupId = _groupId,
            GenerationId = me.GenerationId,
            MemberId = me.MemberId,
            GroupInstanceId = _instanceId,
        }, version, stop).ConfigureAwait(false);
        var code = (ErrorCode)response.ErrorCode;
        switch (code)
        {
            case ErrorCode.None:
                Interlocked.Exchange(ref _lastHeartbeatOk, _time.GetTimestamp());
                return;
            case ErrorCode.RebalanceInProgress:
                // The group is alive and so is our session; the next step rejoins.
                Interlocked.Exchange(ref _lastHeartbeatOk, _time.GetTimestamp());
                _rejoin = true;
                KafkaGroupLog.Rejoin(_logger, _groupId, me.MemberId, "the coordinator started a rebalance");
                return;
            case ErrorCode.UnknownMemberId:
                await LoseAsync("the coordinator does not know the member id (its session expired)", resetMemberId: true, stop).ConfigureAwait(false);
                return;
            case ErrorCode.IllegalGeneration:
                await LoseAsync("the generation is no longer current", resetMemberId: false, stop).ConfigureAwait(false);
                return;
            case ErrorCode.FencedInstanceId:
                throw Fatal(code, $"another member uses GroupInstanceId '{_instanceId}'; give each member its own");
            default:
                throw FailureOf(code, "Heartbeat");
        }
    }

    /// <summary>After a failed heartbeat or join: when no heartbeat succeeded within the session timeout, the partitions are lost.</summary>
    private async Task CheckSessionAsync(CancellationToken stop)
    {
        var elapsed = _time.GetElapsedTime(Interlocked.Read(ref _lastHeartbeatOk));
        if (elapsed < _options.SessionTimeout || Owned.Count == 0) return;
        KafkaGroupLog.SessionLapsed(_logger, _groupId, _memberId, elapsed.TotalMilliseconds, _options.SessionTimeout.TotalMilliseconds);
        await LoseAsync("its session lapsed", resetMemberId: _instanceId is null, stop).ConfigureAwait(false);
    }

    /// <summary>True (and the member has left) when the application has been stuck longer than MaxPollInterval.</summary>
    private async Task<bool> CheckStallAsync(CancellationToken stop)
    {
        var (handOuts, waiting) = _listener.Progress;
        var now = _time.GetTimestamp();
        if (waiting || handOuts != _lastHandOuts)
        {
            _lastHandOuts = handOuts;
            Interlocked.Exchange(ref _lastProgress, now);
            return false;
        }
        var stalled = _time.GetElapsedTime(Interlocked.Read(ref _lastProgress), now);
        if (stalled <= _options.MaxPollInterval) return false;
        var me = Metadata;
        KafkaGroupLog.PollTimeout(_logger, _groupId, me.MemberId, stalled.TotalMilliseconds, _options.MaxPollInterval.TotalMilliseconds);
        _stalled = true;
        await SendLeaveAsync(me, stop).ConfigureAwait(false);
        await LoseAsync("the application stalled past MaxPollInterval", resetMemberId: _instanceId is null, stop).ConfigureAwait(false);
        return true;
    }

    /// <summary>LeaveGroup for a dynamic member; a static member only stops heartbeating (KIP-345: its session keeps its place).</summary>
    private async Task SendLeaveAsync(ConsumerGroupMetadata me, CancellationToken cancellationToken)
    {
        if (_instanceId is not null || me.MemberId.Length == 0) return;
        try
        {
            var connection = await _cluster.GetCoordinatorConnectionAsync(CoordinatorType.Group, _groupId, cancellationToken).ConfigureAwait(false);
            var version = connection.Versions.Choose(ApiKey.LeaveGroup, 0, MaxLeaveGroupVersion);
            var response = await connection.SendAsync(new LeaveGroupRequest { GroupId = _groupId, MemberId = me.MemberId, Members = [] }, version, cancellationToken).ConfigureAwait(false);
            if (response.ErrorCode != 0)
                KafkaGroupLog.RetriableError(_logger, _groupId, "LeaveGroup", ((ErrorCode)response.ErrorCode).Name(), 0);
            else
                KafkaGroupLog.Left(_logger, _groupId, me.MemberId);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Leaving is a courtesy: without it the coordinator expires the member after the session timeout.
            KafkaGroupLog.RetriableError(_logger, _groupId, "LeaveGroup", e.Message, 0);
        }
    }

    private async Task FailAsync(Exception error, CancellationToken stop)
    {
        KafkaGroupLog.Failed(_logger, _groupId, _memberId, error.Message);
        // The partitions are reported lost before the consumer fails: an application that hears of the failure has
        // already heard that it owns nothing.
        try
        {
            await LoseAsync(error.Message, resetMemberId: true, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _failure = error;
        _listener.OnFailed(error);
        TaskCompletionSource signal;
        lock (_gate) signal = _assigned;
        signal.TrySetException(error);
        _ = signal.Task.Exception; // observed: whoever waited for an assignment may have given up already
    }

    // ---- close ----

    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _started) == 0) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
        var me = Metadata;
        if (_failure is null && me.GenerationId >= 0)
            await RevokeAsync(Owned, cancellationToken).ConfigureAwait(false);
        else if (Owned is { Count: > 0 } owned)
            await Call(_listener.OnLostAsync, owned, "lost", cancellationToken).ConfigureAwait(false);
        lock (_gate) _owned.Clear();
        await SendLeaveAsync(me, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // bounded: a loop stuck in a request is abandoned with its connection
        }
        _stop.Dispose();
    }

    internal static string Describe(IEnumerable<TopicPartition> partitions)
    {
        var text = string.Join(",", partitions.Order());
        return text.Length == 0 ? "(none)" : text;
    }

    /// <summary>A failure that stops the member for good (it is surfaced by the consumer).</summary>
    private sealed class GroupFatalException(Exception inner) : Exception(inner.Message, inner);
}
