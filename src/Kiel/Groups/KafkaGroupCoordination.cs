using Kiel.Cluster;
using Kiel.Consuming;
using Kiel.Groups.Kafka;
using Microsoft.Extensions.Logging;

namespace Kiel.Groups;

/// <summary>
/// The Kafka side of a <c>GroupedConsumer</c> with <see cref="GroupCoordination.Kafka"/>: the same classic group
/// member a <see cref="KielConsumer{TKey, TValue}"/> uses (<see cref="ClassicGroupMember"/>), with the options'
/// allocator as its only assignor, driving the consumer through <see cref="IPartitionOwner"/> as the ZooKeeper
/// membership does: revoked partitions stop and are committed (with autocommit) before the rebalance goes on, lost ones
/// are dropped without a commit, assigned ones read their committed offsets afresh, and every change raises
/// <c>AllocationChanged</c>.
/// </summary>
internal sealed class KafkaGroupCoordination : IGroupMemberListener, IAsyncDisposable
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<int>> Empty = new Dictionary<string, IReadOnlyList<int>>();

    private readonly IPartitionOwner _owner;
    private readonly GroupedConsumerOptions _options;
    private readonly CancellationTokenSource _failed = new();
    private readonly object _gate = new();
    private readonly HashSet<TopicPartition> _owned = [];
    private IReadOnlyDictionary<string, IReadOnlyList<int>> _allocation = Empty;
    private IReadOnlyList<string> _topics = [];
    private long _calls;
    private volatile bool _inCall;

    public KafkaGroupCoordination(IPartitionOwner owner, KafkaCluster cluster, GroupedConsumerOptions options, ILogger logger)
    {
        _owner = owner;
        _options = options;
        var memberOptions = new KielConsumerOptions
        {
            BootstrapServers = options.BootstrapServers,
            ClientId = options.ClientId,
            GroupId = options.Group,
            SessionTimeout = options.SessionTimeout,
            HeartbeatInterval = options.HeartbeatInterval,
            MaxPollInterval = options.MaxPollInterval,
            RequestTimeout = options.RequestTimeout,
            RetryBackoff = options.RetryBackoff,
            TimeProvider = options.TimeProvider,
            LoggerFactory = options.LoggerFactory,
            PartitionAssignmentStrategy = [AssignorFor(options.Allocator)],
        };
        Member = new ClassicGroupMember(cluster, memberOptions, this, logger);
    }

    /// <summary>The name under which a custom allocator runs as the group's assignor; every member must use the same allocator.</summary>
    internal const string CustomAssignorName = "kiel-custom";

    /// <summary>The options' allocator as an assignor: Naive (the default) as <c>kiel-naive</c>, Balanced as
    /// <c>kiel-balanced</c> (cooperative, sticky), any other as <c>kiel-custom</c>.</summary>
    internal static PartitionAssignor AssignorFor(PartitionAllocator? allocator)
    {
        if (allocator is null || allocator.Method == ((PartitionAllocator)Allocators.Naive).Method) return PartitionAssignor.Naive;
        if (allocator.Method == ((PartitionAllocator)Allocators.Balanced).Method) return PartitionAssignor.Balanced;
        return PartitionAssignor.FromAllocator(CustomAssignorName, allocator);
    }

    public ClassicGroupMember Member { get; }

    /// <summary>This member's partitions per topic, as <c>GroupedConsumer.Allocation</c> shows them.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>> Allocation => Volatile.Read(ref _allocation);

    /// <summary>True while records may be handed out: the member holds a current assignment and its session is alive.</summary>
    public bool MayHandOut => Member.MayHandOut;

    /// <summary>Cancelled when the member stopped for good.</summary>
    public CancellationToken FailureToken => _failed.Token;

    /// <summary>Subscribes to <paramref name="topics"/> when they differ from the current subscription, or always with
    /// <paramref name="force"/> (a topic gained partitions: the leader must assign them).</summary>
    public void Subscribe(IReadOnlyList<string> topics, bool force = false)
    {
        List<string> sorted = [.. topics.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        lock (_gate)
        {
            if (!force && sorted.SequenceEqual(_topics, StringComparer.Ordinal)) return;
            _topics = sorted;
        }
        Member.Subscribe(sorted);
    }

    /// <summary>The subscribed topics.</summary>
    public IReadOnlyList<string> Topics
    {
        get
        {
            lock (_gate) return _topics;
        }
    }

    /// <summary>A consume call starts: it counts as progress for MaxPollInterval, and a member that left after a stall rejoins.</summary>
    public void CallStarted()
    {
        if (Member.Failure is { } failure) throw new KielException($"The consumer left group '{_options.Group}' for good: {failure.Message}", failure);
        Interlocked.Increment(ref _calls);
        _inCall = true;
        Member.NotifyPolling();
    }

    /// <summary>A consume call returned.</summary>
    public void CallEnded()
    {
        Interlocked.Increment(ref _calls);
        _inCall = false;
    }

    public (long HandOuts, bool Waiting) Progress => (Interlocked.Read(ref _calls), _inCall);

    public async ValueTask OnAssignedAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken)
    {
        await _owner.AssignAsync(partitions, cancellationToken).ConfigureAwait(false);
        await ChangedAsync([], partitions, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask OnRevokedAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken)
    {
        try
        {
            await _owner.RevokeAsync(partitions, commit: _options.Autocommit, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // The partitions are given up all the same (a cancellation from a timeout inside the commit too); what was
            // not committed is read again by their next owner.
            KafkaGroupLog.CommitFailed(Logger, e, _options.Group);
        }
        await ChangedAsync(partitions, [], cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask OnLostAsync(IReadOnlyList<TopicPartition> partitions, CancellationToken cancellationToken)
    {
        await _owner.RevokeAsync(partitions, commit: false, cancellationToken).ConfigureAwait(false);
        await ChangedAsync(partitions, [], cancellationToken).ConfigureAwait(false);
    }

    public void OnFailed(Exception error) => _failed.Cancel();

    private ILogger Logger => _options.LoggerFactory?.CreateLogger("Kiel.GroupedConsumer") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    private async Task ChangedAsync(IReadOnlyCollection<TopicPartition> revoked, IReadOnlyCollection<TopicPartition> assigned, CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<string, IReadOnlyList<int>> allocation;
        lock (_gate)
        {
            _owned.ExceptWith(revoked);
            _owned.UnionWith(assigned);
            allocation = ByTopic(_owned);
            Volatile.Write(ref _allocation, allocation);
        }
        await _owner.OnAllocationChangedAsync(new AllocationChangedEventArgs(ByTopic(revoked), ByTopic(assigned), allocation, cancellationToken)).ConfigureAwait(false);
    }

    private static Dictionary<string, IReadOnlyList<int>> ByTopic(IEnumerable<TopicPartition> partitions) =>
        partitions.GroupBy(tp => tp.Topic, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<int>)[.. g.Select(tp => tp.Partition).Order()], StringComparer.Ordinal);

    /// <summary>Gives up the partitions (the revoke commits with autocommit) and leaves the group, within <paramref name="cancellationToken"/>.</summary>
    public Task LeaveAsync(CancellationToken cancellationToken) => Member.LeaveAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await Member.DisposeAsync().ConfigureAwait(false);
        _failed.Dispose();
    }
}
