using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.Groups;

/// <summary>
/// One member's side of kiel's ZooKeeper coordination: it joins the party, keeps the shared partition set, runs the
/// allocator on every change of either, and turns the result into claimed partitions for its <see cref="IPartitionOwner"/>.
/// All state changes happen on one loop, so watch callbacks never race with each other (kiel's L9).
/// </summary>
internal sealed partial class GroupMembership : IAsyncDisposable
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<int>> Empty = new Dictionary<string, IReadOnlyList<int>>();

    private readonly IGroupStore _store;
    private readonly string _group;
    private readonly string _member;
    private readonly PartitionAllocator _allocator;
    private readonly bool _sticky;
    private readonly bool _claims;
    private readonly IPartitionOwner _owner;
    private readonly ILogger _log;
    private readonly TimeSpan _claimPoll;
    private readonly Channel<Signal> _signals = Channel.CreateUnbounded<Signal>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();

    // Loop-owned state.
    private readonly HashSet<TopicPartition> _owned = [];
    private HashSet<TopicPartition> _desired = [];
    private bool _rejoin;
    private bool _expired;

    private readonly TaskCompletionSource _firstAllocation = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private volatile IReadOnlyDictionary<string, IReadOnlyList<int>> _allocation = Empty;
    private volatile bool _paused;
    private int _stopped;
    private readonly TimeProvider _time;

    public GroupMembership(IGroupStore store, string group, string member, PartitionAllocator? allocator, bool claims, IPartitionOwner owner, ILoggerFactory? loggerFactory, TimeSpan? claimPoll = null, TimeProvider? time = null)
    {
        _store = store;
        _time = time ?? TimeProvider.System;
        _group = group;
        _member = member;
        _allocator = allocator ?? Allocators.Naive;
        _sticky = IsBalanced(_allocator);
        _claims = claims;
        _owner = owner;
        _claimPoll = claimPoll ?? TimeSpan.FromSeconds(1);
        _log = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kiel.GroupedConsumer");
        _store.Changed += OnChanged;
        _store.SessionChanged += OnSessionChanged;
    }

    /// <summary>The partitions this member owns and reads, per topic.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>> Allocation => _allocation;

    /// <summary>True while the ZooKeeper connection is suspended or the session was lost and not yet replaced.</summary>
    public bool IsPaused => _paused;

    /// <summary>The member name.</summary>
    public string Member => _member;

    /// <summary>The store (one ZooKeeper session).</summary>
    public IGroupStore Store => _store;

    // A static method group always makes an equal delegate, so a user who passes Allocators.Balanced gets the sticky form.
    private static bool IsBalanced(PartitionAllocator allocator)
        => allocator.Target is null && allocator.Method == ((PartitionAllocator)Allocators.Balanced).Method;

    /// <summary>Connects, joins, seeds the partition set, and waits until the first allocation that includes this member.</summary>
    public async Task StartAsync(IReadOnlyCollection<string> seed, CancellationToken cancellationToken)
    {
        // Each step is idempotent, and a connection lost mid-step is found again by the client within the session:
        // ride through a few such losses rather than fail the whole start on one.
        await RetryOnConnectionLossAsync(() => _store.ConnectAsync(cancellationToken), cancellationToken).ConfigureAwait(false);
        await RetryOnConnectionLossAsync(() => JoinUnderLeaseAsync(cancellationToken), cancellationToken).ConfigureAwait(false);
        GroupLog.Joined(_log, _member, _group);
        if (seed.Count > 0) await RetryOnConnectionLossAsync(() => _store.AddPartitionsAsync(seed, cancellationToken), cancellationToken).ConfigureAwait(false);
        // The token is read here: a start given up at once may dispose _stop before the pool runs these.
        var stop = _stop.Token;
        _loop = Task.Run(() => RunAsync(stop), CancellationToken.None);
        _ = Task.Run(() => WatchProgressAsync(stop), CancellationToken.None);
        _signals.Writer.TryWrite(Signal.Change);
        await _firstAllocation.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        // In a fresh group the claims take milliseconds; give them a moment so that the first consume has partitions.
        // A claim held by a crashed member can take a session timeout, and is not waited for here.
        for (var i = 0; i < 40 && PendingClaims > 0; i++) await Task.Delay(TimeSpan.FromMilliseconds(25), _time, cancellationToken).ConfigureAwait(false);
    }

    private long _verifiedAt;

    /// <summary>Runs an idempotent start-up step again after a ZooKeeper connection loss, up to 5 attempts with a short backoff.</summary>
    private async Task RetryOnConnectionLossAsync(Func<Task> step, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await step().ConfigureAwait(false);
                return;
            }
            catch (Kiel.ZooKeeper.ConnectionLossException) when (attempt < 5 && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A lease check before records are handed out: true when this member's node still belongs to the live session,
    /// asked of ZooKeeper at most every <paramref name="maxAge"/>. A process that was frozen past its session timeout
    /// (GC pause, SIGSTOP, a suspended VM) learns here that its partitions may be someone else's before it hands out
    /// anything it fetched earlier.
    /// </summary>
    public async Task<bool> VerifySessionAsync(TimeSpan maxAge, CancellationToken cancellationToken)
    {
        if (_paused || _expired) return false;
        var last = Interlocked.Read(ref _verifiedAt);
        if (last != 0 && _time.GetElapsedTime(last) < maxAge) return true;
        try
        {
            using var limit = new CancellationTokenSource(maxAge > TimeSpan.FromSeconds(1) ? maxAge : TimeSpan.FromSeconds(1), _time);
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
            var started = _time.GetTimestamp();
            if (!await _store.IsMemberAsync(_member, bound.Token).ConfigureAwait(false)) return false;
            Interlocked.Exchange(ref _verifiedAt, started);
            return !_paused;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Adds partitions to the shared set (for example ones a topic gained).</summary>
    public Task AddPartitionsAsync(IReadOnlyCollection<string> partitions, CancellationToken cancellationToken)
        => partitions.Count == 0 ? Task.CompletedTask : _store.AddPartitionsAsync(partitions, cancellationToken);

    /// <summary>Removes deleted partitions from the shared set; every member's watch then rebalances without them.</summary>
    public Task RemovePartitionsAsync(IReadOnlyCollection<string> partitions, CancellationToken cancellationToken)
        => partitions.Count == 0 ? Task.CompletedTask : _store.RemovePartitionsAsync(partitions, cancellationToken);

    /// <summary>Asks the loop to recompute the allocation (after a change it may have missed).</summary>
    public void Poke() => _signals.Writer.TryWrite(Signal.Change);

    private void OnChanged() => _signals.Writer.TryWrite(Signal.Change);

    private void OnSessionChanged(GroupSessionState state)
    {
        // Pause at once, not when the loop gets to it: records must stop before anything else happens.
        if (state is GroupSessionState.Suspended or GroupSessionState.Expired)
        {
            // A check cached from before says nothing of the session now.
            Interlocked.Exchange(ref _verifiedAt, 0);
            _paused = true;
            _owner.SetPaused(true);
        }
        _signals.Writer.TryWrite(new Signal(SignalKind.Session, default, state));
    }

    /// <summary>
    /// Leaves the group in order: the owner is asked to stop and commit (when <paramref name="commit"/>), then the
    /// member node goes, then the claims. The session itself is closed by disposing the store.
    /// </summary>
    public async Task LeaveAsync(bool commit, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        _stop.Cancel();
        _signals.Writer.TryComplete();
        if (_loop is not null)
        {
            try { await _loop.WaitAsync(cancellationToken).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { }
        }
        CancelClaims(_claimIdOf.Keys.ToArray());
        var owned = _owned.ToArray();
        if (owned.Length > 0)
        {
            try { await _owner.RevokeAsync(owned, commit, cancellationToken).ConfigureAwait(false); }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested) { GroupLog.RevokeCommitFailed(_log, e, _member); }
        }
        try
        {
            // Nothing of ours is read any more: say so before the claims go, so that no partition ever shows two owners.
            _allocation = Empty;
            await _store.LeaveAsync(_member, cancellationToken).ConfigureAwait(false);
            // And claims given up earlier whose release met a connection loss.
            foreach (var tp in owned.Union(_unreleased).ToArray()) await _store.ReleaseAsync(tp.ToString(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _owned.Clear();
            _allocation = Empty;
            GroupLog.Left(_log, _member, _group);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            _stop.Cancel();
            _signals.Writer.TryComplete();
            if (_loop is not null) await _loop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        _store.Changed -= OnChanged;
        _store.SessionChanged -= OnSessionChanged;
        _stop.Dispose();
    }

    private enum SignalKind { Change, Claimed, Session, Retry }

    private readonly record struct Signal(SignalKind Kind, TopicPartition Partition, GroupSessionState State, int Id = 0)
    {
        public static Signal Change => new(SignalKind.Change, default, default);
    }
}
