// KIP-848's consumer group protocol, one member. The broker computes the assignment; the member only heartbeats:
//
//   ConsumerGroupHeartbeat(epoch 0, a member id it chose, subscription, rebalance timeout, owned = [])  -> epoch, interval
//   every HeartbeatIntervalMs: ConsumerGroupHeartbeat(epoch, owned)  -> maybe a new assignment (the full set it may own now)
//
// Reconciliation of a new assignment: first the partitions no longer in it are revoked (the listener tells the
// application and commits), then the new ones are assigned, and the next heartbeat goes out at once with what the
// member owns now; that acknowledgement is what lets the coordinator hand the revoked partitions to their new owner.
// Fenced (FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID) or a session that lapsed: the partitions are lost (no commit) and the
// member joins again with epoch 0 and the same member id. Leaving: epoch -1, or -2 for a static member (KIP-345: it
// keeps its place for the session timeout). A processing stall past MaxPollInterval: the partitions are lost, the
// member leaves with epoch -1, and joins again once the application asks for records.
using System.Security.Cryptography;
using Kiel.Consuming;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace Kiel.Groups.Kafka;

/// <summary>What a <see cref="ConsumerGroupMember"/> is configured with (from the consumer's options).</summary>
/// <param name="GroupId">The group.</param>
/// <param name="GroupInstanceId">The static member id, or null.</param>
/// <param name="ServerAssignor">The broker-side assignor to ask for (<c>GroupRemoteAssignor</c>), or null for the broker's default.</param>
/// <param name="SessionTimeout">How long without a successful heartbeat before the member counts its partitions lost.
/// The broker's session timeout (<c>group.consumer.session.timeout.ms</c>) is what fences it; this should not exceed it.</param>
/// <param name="MaxPollInterval">The longest the application may go without asking for records; also the rebalance timeout sent.</param>
/// <param name="RetryBackoff">The first delay before a failed heartbeat is repeated (doubling up to 1 s).</param>
/// <param name="TimeProvider">The clock.</param>
internal sealed record ConsumerGroupMemberSettings(
    string GroupId,
    string? GroupInstanceId,
    string? ServerAssignor,
    TimeSpan SessionTimeout,
    TimeSpan MaxPollInterval,
    TimeSpan RetryBackoff,
    TimeProvider TimeProvider)
{
    /// <summary>The settings a consumer's options give: <c>GroupRemoteAssignor</c> is the server assignor; <c>MaxPollInterval</c>
    /// the rebalance timeout; <c>SessionTimeout</c> bounds how long the member trusts its partitions without a heartbeat
    /// (the broker's <c>group.consumer.session.timeout.ms</c> decides when it is fenced; its default is 45 s too).</summary>
    public static ConsumerGroupMemberSettings From(KielConsumerOptions options) => new(
        options.GroupId ?? throw new ArgumentException("A group member needs KielConsumerOptions.GroupId.", nameof(options)),
        options.GroupInstanceId,
        options.GroupRemoteAssignor,
        options.SessionTimeout,
        options.MaxPollInterval,
        options.RetryBackoff,
        options.TimeProvider ?? TimeProvider.System);
}

/// <summary>A member of a Kafka consumer group speaking KIP-848's consumer protocol (ConsumerGroupHeartbeat v1).</summary>
internal sealed class ConsumerGroupMember : IGroupMember
{
    /// <summary>The member epoch that joins (or rejoins) a group.</summary>
    internal const int JoinEpoch = 0;
    /// <summary>The member epoch that leaves a group.</summary>
    internal const int LeaveEpoch = -1;
    /// <summary>The member epoch with which a static member leaves for now, keeping its place (KIP-345).</summary>
    internal const int StaticLeaveEpoch = -2;

    private static readonly TimeSpan DefaultHeartbeatInterval = TimeSpan.FromSeconds(3);

    private readonly IConsumerGroupHeartbeatChannel _channel;
    private readonly ConsumerGroupMemberSettings _settings;
    private readonly IGroupMemberListener _listener;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly AsyncSignal _wake = new();
    private readonly object _gate = new();
    private readonly string _memberId;

    private IReadOnlyList<string> _topics = [];
    private Task _loop = Task.CompletedTask;
    private int _epoch = JoinEpoch;
    private TimeSpan _interval = DefaultHeartbeatInterval;
    // What the member owns, by topic id (what heartbeats carry) and name (what the consumer fetches).
    private readonly Dictionary<(Guid TopicId, int Partition), TopicPartition> _owned = [];
    private readonly Dictionary<Guid, string> _topicNames = [];
    private List<(Guid TopicId, List<int> Partitions)>? _target;
    private bool _ackNow;
    private volatile bool _stalled;
    private volatile Exception? _failure;
    private long _lastHeartbeatOk;
    private long _lastProgress;
    private long _lastHandOuts = -1;
    private TaskCompletionSource _assigned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;
    private int _left;

    public ConsumerGroupMember(IConsumerGroupHeartbeatChannel channel, ConsumerGroupMemberSettings settings, IGroupMemberListener listener, ILogger logger)
    {
        _channel = channel;
        _settings = settings;
        _listener = listener;
        _logger = logger;
        _time = settings.TimeProvider;
        // KIP-848 v1: the member chooses its id, a random UUID in Kafka's text form, and keeps it for its lifetime.
        _memberId = NewMemberId();
        _lastHeartbeatOk = _time.GetTimestamp();
        _lastProgress = _lastHeartbeatOk;
    }

    /// <summary>A random UUID as Kafka writes one: URL-safe base64 of its 16 bytes, without padding.</summary>
    internal static string NewMemberId()
        => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The member epoch now (0 while joining).</summary>
    internal int Epoch
    {
        get
        {
            lock (_gate) return _epoch;
        }
    }

    /// <summary>The task of the member's loop (tests await it after <see cref="DisposeAsync"/>).</summary>
    internal Task Loop => _loop;

    public ConsumerGroupMetadata Metadata
    {
        get
        {
            lock (_gate) return new ConsumerGroupMetadata(_settings.GroupId, _memberId, _epoch > 0 ? _epoch : -1, _settings.GroupInstanceId);
        }
    }

    public IReadOnlyList<TopicPartition> Owned
    {
        get
        {
            lock (_gate) return [.. _owned.Values.Order()];
        }
    }

    public bool MayHandOut
    {
        get
        {
            if (_failure is not null || _stalled) return false;
            lock (_gate) if (_epoch <= 0) return false;
            return _time.GetElapsedTime(Interlocked.Read(ref _lastHeartbeatOk)) < _settings.SessionTimeout;
        }
    }

    public Exception? Failure => _failure;

    public void Subscribe(IReadOnlyList<string> topics)
    {
        ArgumentNullException.ThrowIfNull(topics);
        lock (_gate) _topics = [.. topics.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
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

    // ---- the loop ----

    private TimeSpan RetryStart => TimeSpan.FromMilliseconds(Math.Max(10, _settings.RetryBackoff.TotalMilliseconds));

    private async Task RunAsync(CancellationToken stop)
    {
        var backoff = RetryStart;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (_stalled)
                {
                    await WaitUntilPollingAsync(stop).ConfigureAwait(false);
                    continue;
                }
                if (await CheckStallAsync(stop).ConfigureAwait(false)) continue;
                var response = await _channel.HeartbeatAsync(BuildRequest(), stop).ConfigureAwait(false);
                var code = (ErrorCode)response.ErrorCode;
                if (code == ErrorCode.None)
                {
                    backoff = RetryStart;
                    await OnHeartbeatAsync(response, stop).ConfigureAwait(false);
                }
                else if (code is ErrorCode.FencedMemberEpoch or ErrorCode.UnknownMemberId)
                {
                    await LoseAsync($"{code.Name()}: the coordinator no longer counts this member in the group", stop).ConfigureAwait(false);
                    continue; // rejoin with epoch 0 at once
                }
                else
                {
                    throw FailureOf(code, response.ErrorMessage);
                }
                await WaitNextAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (GroupFatalError e)
            {
                await FailAsync(e.InnerException!, stop).ConfigureAwait(false);
                return;
            }
            catch (KafkaException e) when (IsFatal(e.ErrorCode))
            {
                // For example a coordinator without ConsumerGroupHeartbeat v1: retrying cannot help.
                await FailAsync(e, stop).ConfigureAwait(false);
                return;
            }
            catch (Exception e)
            {
                var delay = backoff;
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
                ConsumerGroupLog.Retry(_logger, _settings.GroupId, e.Message, delay.TotalMilliseconds);
                if (e is not KafkaException ke || ke.ErrorCode is ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable)
                    _channel.CoordinatorMoved(e.Message);
                try
                {
                    if (_time.GetElapsedTime(Interlocked.Read(ref _lastHeartbeatOk)) >= _settings.SessionTimeout && Epoch > 0)
                        await LoseAsync("no heartbeat succeeded within the session timeout", stop).ConfigureAwait(false);
                    await Task.Delay(delay, _time, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }

    private ConsumerGroupHeartbeatRequest BuildRequest()
    {
        lock (_gate)
        {
            // Every heartbeat carries the full state (a broker may take null for "unchanged", but full is always valid,
            // and it is what a member must send after any error anyway).
            return new ConsumerGroupHeartbeatRequest
            {
                GroupId = _settings.GroupId,
                MemberId = _memberId,
                MemberEpoch = _epoch,
                InstanceId = _settings.GroupInstanceId,
                RackId = null,
                RebalanceTimeoutMs = (int)_settings.MaxPollInterval.TotalMilliseconds,
                SubscribedTopicNames = [.. _topics],
                // An empty regex says "no regex" (KIP-848), as librdkafka sends it; the librdkafka mock requires names and
                // regex to be both null or both present, and asserts (aborting the broker process) otherwise.
                SubscribedTopicRegex = "",
                ServerAssignor = _settings.ServerAssignor,
                TopicPartitions = OwnedById(),
            };
        }
    }

    private List<ConsumerGroupHeartbeatRequest.TopicPartitionsData> OwnedById()
        => [.. _owned.Keys.GroupBy(k => k.TopicId).OrderBy(g => g.Key)
            .Select(g => new ConsumerGroupHeartbeatRequest.TopicPartitionsData { TopicId = g.Key, Partitions = [.. g.Select(k => k.Partition).Order()] })];

    private async Task OnHeartbeatAsync(ConsumerGroupHeartbeatResponse response, CancellationToken stop)
    {
        bool joined;
        lock (_gate)
        {
            joined = _epoch == JoinEpoch && response.MemberEpoch > 0;
            _epoch = response.MemberEpoch;
            if (response.HeartbeatIntervalMs > 0) _interval = TimeSpan.FromMilliseconds(response.HeartbeatIntervalMs);
            if (response.Assignment is { } assignment)
                _target = [.. assignment.TopicPartitions.Select(t => (t.TopicId, t.Partitions))];
        }
        Interlocked.Exchange(ref _lastHeartbeatOk, _time.GetTimestamp());
        if (joined) ConsumerGroupLog.Joined(_logger, _settings.GroupId, _memberId, response.MemberEpoch);
        await ReconcileAsync(stop).ConfigureAwait(false);
    }

    /// <summary>Moves what the member owns to the latest target: revoke first, then assign; the next heartbeat acknowledges.</summary>
    private async Task ReconcileAsync(CancellationToken stop)
    {
        List<(Guid TopicId, List<int> Partitions)>? target;
        IReadOnlyList<string> topics;
        lock (_gate)
        {
            target = _target;
            topics = _topics;
        }
        if (target is null) return;

        var unknown = target.Select(t => t.TopicId).Where(id => !_topicNames.ContainsKey(id)).Distinct().ToList();
        if (unknown.Count > 0)
            foreach (var (id, name) in await _channel.ResolveTopicNamesAsync(unknown, topics, stop).ConfigureAwait(false))
                _topicNames[id] = name;

        var wanted = new Dictionary<(Guid, int), TopicPartition>();
        var unresolved = new List<Guid>();
        foreach (var (id, partitions) in target)
        {
            if (!_topicNames.TryGetValue(id, out var name))
            {
                unresolved.Add(id);
                continue;
            }
            foreach (var p in partitions) wanted[(id, p)] = new TopicPartition(name, p);
        }
        if (unresolved.Count > 0) ConsumerGroupLog.UnknownTopicIds(_logger, _settings.GroupId, string.Join(",", unresolved));

        List<KeyValuePair<(Guid, int), TopicPartition>> revoked, assigned;
        lock (_gate)
        {
            revoked = [.. _owned.Where(kv => !wanted.ContainsKey(kv.Key))];
            assigned = [.. wanted.Where(kv => !_owned.ContainsKey(kv.Key))];
        }

        if (revoked.Count > 0)
        {
            // The application hears of it and commits before the coordinator learns that the partitions are free.
            await _listener.OnRevokedAsync([.. revoked.Select(kv => kv.Value).Order()], stop).ConfigureAwait(false);
            lock (_gate) foreach (var kv in revoked) _owned.Remove(kv.Key);
        }
        if (assigned.Count > 0)
        {
            await _listener.OnAssignedAsync([.. assigned.Select(kv => kv.Value).Order()], stop).ConfigureAwait(false);
            lock (_gate) foreach (var kv in assigned) _owned[kv.Key] = kv.Value;
        }

        TaskCompletionSource done;
        int epoch;
        lock (_gate)
        {
            if (unresolved.Count == 0 && ReferenceEquals(_target, target)) _target = null;
            if (revoked.Count > 0 || assigned.Count > 0) _ackNow = true;
            done = _assigned;
            epoch = _epoch;
        }
        if (revoked.Count > 0 || assigned.Count > 0)
            ConsumerGroupLog.Reconciled(_logger, _settings.GroupId, _memberId, epoch, Render(revoked), Render(assigned));
        done.TrySetResult();
    }

    private static string Render(List<KeyValuePair<(Guid, int), TopicPartition>> list)
        => list.Count == 0 ? "nothing" : string.Join(",", list.Select(kv => kv.Value).Order());

    private async Task WaitNextAsync(CancellationToken stop)
    {
        TimeSpan delay;
        lock (_gate)
        {
            if (_ackNow)
            {
                _ackNow = false;
                return;
            }
            delay = _interval;
        }
        using var timeout = new CancellationTokenSource(delay, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
        try
        {
            await _wake.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Drops everything owned without a commit and goes back to epoch 0 (same member id).</summary>
    private async Task LoseAsync(string reason, CancellationToken stop)
    {
        List<TopicPartition> lost;
        lock (_gate)
        {
            lost = [.. _owned.Values.Order()];
            _owned.Clear();
            _target = null;
            _epoch = JoinEpoch;
        }
        ConsumerGroupLog.Lost(_logger, _settings.GroupId, _memberId, lost.Count == 0 ? "nothing" : string.Join(",", lost), reason);
        if (lost.Count > 0) await _listener.OnLostAsync(lost, stop).ConfigureAwait(false);
    }

    // ---- processing stall (MaxPollInterval) ----

    private async Task<bool> CheckStallAsync(CancellationToken stop)
    {
        var (handOuts, waiting) = _listener.Progress;
        var now = _time.GetTimestamp();
        if (waiting || handOuts != Interlocked.Exchange(ref _lastHandOuts, handOuts) || Owned.Count == 0)
        {
            Interlocked.Exchange(ref _lastProgress, now);
            return false;
        }
        var elapsed = _time.GetElapsedTime(Interlocked.Read(ref _lastProgress), now);
        if (elapsed <= _settings.MaxPollInterval) return false;

        ConsumerGroupLog.Stalled(_logger, _settings.GroupId, _memberId, elapsed.TotalMilliseconds, _settings.MaxPollInterval.TotalMilliseconds);
        _stalled = true;
        await LoseAsync("the application stalled past MaxPollInterval", stop).ConfigureAwait(false);
        await SendLeaveAsync(LeaveEpoch, stop).ConfigureAwait(false);
        return true;
    }

    private async Task WaitUntilPollingAsync(CancellationToken stop)
    {
        var (handOuts, _) = _listener.Progress;
        while (true)
        {
            var (now, waiting) = _listener.Progress;
            if (waiting || now != handOuts) break;
            using var timeout = new CancellationTokenSource(_interval, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
            try
            {
                await _wake.WaitAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
            }
        }
        _stalled = false;
        Interlocked.Exchange(ref _lastProgress, _time.GetTimestamp());
    }

    // ---- leaving and failing ----

    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _left, 1) == 1) return;
        await StopLoopAsync().ConfigureAwait(false);
        List<TopicPartition> owned;
        lock (_gate) owned = [.. _owned.Values.Order()];
        if (owned.Count > 0 && _failure is null)
        {
            await _listener.OnRevokedAsync(owned, cancellationToken).ConfigureAwait(false);
            lock (_gate) _owned.Clear();
        }
        if (Epoch > 0)
            await SendLeaveAsync(_settings.GroupInstanceId is null ? LeaveEpoch : StaticLeaveEpoch, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A best-effort leave heartbeat: the coordinator fences the member after its session anyway.</summary>
    private async Task SendLeaveAsync(int epoch, CancellationToken cancellationToken)
    {
        var request = BuildRequest();
        request.MemberEpoch = epoch;
        lock (_gate) _epoch = JoinEpoch;
        try
        {
            var response = await _channel.HeartbeatAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.ErrorCode == 0) ConsumerGroupLog.Left(_logger, _settings.GroupId, _memberId, epoch);
            else ConsumerGroupLog.Retry(_logger, _settings.GroupId, $"{((ErrorCode)response.ErrorCode).Name()} on leaving (not repeated)", 0);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            ConsumerGroupLog.Retry(_logger, _settings.GroupId, $"{e.Message} on leaving (not repeated)", 0);
        }
    }

    private Exception FailureOf(ErrorCode code, string? message)
    {
        var error = new KafkaException(code, $"ConsumerGroupHeartbeat for group '{_settings.GroupId}'{(message is null ? "" : ": " + message)}");
        // A moved or loading coordinator, or anything else not fatal: back off and heartbeat again.
        return IsFatal(code) ? new GroupFatalError(error) : error;
    }

    /// <summary>Errors after which heartbeating again cannot help: the member stops and reports it.</summary>
    private static bool IsFatal(ErrorCode code) => code is ErrorCode.GroupAuthorizationFailed or ErrorCode.TopicAuthorizationFailed
        or ErrorCode.UnsupportedAssignor or ErrorCode.InvalidRequest or ErrorCode.GroupMaxSizeReached or ErrorCode.UnsupportedVersion
        or ErrorCode.UnreleasedInstanceId or ErrorCode.InvalidGroupId;

    private async Task FailAsync(Exception error, CancellationToken stop)
    {
        ConsumerGroupLog.Failed(_logger, _settings.GroupId, _memberId, error.Message);
        // The partitions are reported lost before the consumer fails (as ClassicGroupMember).
        try
        {
            await LoseAsync("the member stops: " + error.Message, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        _failure = error;
        _listener.OnFailed(error);
        TaskCompletionSource waiters;
        lock (_gate) waiters = _assigned;
        waiters.TrySetException(error);
        _ = waiters.Task.Exception; // observed: whoever waited for an assignment may have given up already
    }

    private async Task StopLoopAsync()
    {
        _stop.Cancel();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopLoopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>An error after which the member stops (carried to the loop's handler).</summary>
    private sealed class GroupFatalError(Exception inner) : Exception(inner.Message, inner);
}
