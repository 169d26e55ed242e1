using System.Text.Json;
using Kiel.Cluster;
using Kiel.Consuming;
using Kiel.Groups;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel;

/// <summary>
/// Kiel's ZooKeeper-coordinated group consumer: the members of a group register in ZooKeeper and share the partitions
/// of the topics through an allocator that every member runs on the same inputs; offsets are read from and committed
/// to the group coordinator in Kafka. Beyond kiel, a partition is claimed in ZooKeeper before it is read, so that no
/// two members ever read it at once (see <see cref="GroupedConsumerOptions.KielCompatible"/>).
/// </summary>
/// <typeparam name="TValue">The value type.</typeparam>
public partial class GroupedConsumer<TValue> : IAsyncDisposable, IPartitionOwner
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<int>> NoAllocation = new Dictionary<string, IReadOnlyList<int>>();

    private readonly IDeserializer<TValue> _deserializer;
    private readonly ILogger _log;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _lifetime = new();
    private KafkaCluster? _cluster;
    private GroupMembership? _membership;
    private KafkaGroupCoordination? _kafka;
    private IGroupStore? _store;
    private Task? _metadataLoop;
    private volatile bool _paused;
    private int _state; // 0 new, 1 connecting, 2 connected, 3 winding down, 4 closed

    /// <summary>Creates a consumer with kiel's constructor arguments. Nothing connects until <see cref="ConnectAsync"/>.</summary>
    /// <param name="brokers">Bootstrap brokers as <c>host</c> or <c>host:port</c>.</param>
    /// <param name="group">The group name.</param>
    /// <param name="zkHosts">The ZooKeeper ensemble as <c>host:port</c> entries; null means <c>127.0.0.1:2181</c>.</param>
    /// <param name="deserializer">Turns value bytes into <typeparamref name="TValue"/>; null means JSON, as kiel.</param>
    /// <param name="partitionAllocator">The allocator; null means <see cref="Allocators.Naive"/>, as kiel.</param>
    /// <param name="autocommit">Commit on every consume and on wind-down.</param>
    /// <param name="maxWaitTime">How long (ms) a broker may hold a fetch.</param>
    /// <param name="minBytes">The least data a fetch waits for.</param>
    /// <param name="maxBytes">The most data one fetch asks a broker for, split evenly over the partitions it fetches from that broker, as kiel.</param>
    /// <exception cref="ArgumentException">A setting is invalid (no brokers, empty group, bad ZooKeeper string, negative sizes).</exception>
    public GroupedConsumer(IEnumerable<string> brokers, string group, IEnumerable<string>? zkHosts, IDeserializer<TValue>? deserializer = null,
        PartitionAllocator? partitionAllocator = null, bool autocommit = true, int maxWaitTime = 1000, int minBytes = 1, int maxBytes = 1048576)
        : this(new GroupedConsumerOptions
        {
            BootstrapServers = brokers is null ? throw new ArgumentException("No brokers: give at least one bootstrap broker as host:port.", nameof(brokers)) : string.Join(',', brokers),
            Group = group ?? "",
            ZooKeeperHosts = zkHosts?.ToArray() ?? ["127.0.0.1:2181"],
            Allocator = partitionAllocator,
            Autocommit = autocommit,
            FetchMaxWait = maxWaitTime >= 0 ? TimeSpan.FromMilliseconds(maxWaitTime) : throw new ArgumentException($"maxWaitTime is {maxWaitTime}; it must be 0 or more.", nameof(maxWaitTime)),
            FetchMinBytes = minBytes,
            MaxPartitionFetchBytes = maxBytes,
        }, deserializer)
    {
    }

    /// <summary>Creates a consumer from options. Nothing connects until <see cref="ConnectAsync"/>.</summary>
    /// <param name="options">The settings; validated here.</param>
    /// <param name="deserializer">Turns value bytes into <typeparamref name="TValue"/>; null means JSON.</param>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    public GroupedConsumer(GroupedConsumerOptions options, IDeserializer<TValue>? deserializer = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _deserializer = deserializer ?? DefaultDeserializer();
        _log = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kiel.GroupedConsumer");
        Name = MemberName.Create();
        _commitMetadata = options.CommitMetadata;
    }

    private static IDeserializer<TValue> DefaultDeserializer()
        => typeof(TValue) == typeof(JsonElement) ? (IDeserializer<TValue>)(object)Deserializers.JsonElement : (IDeserializer<TValue>)Deserializers.Json<TValue>()!;

    /// <summary>The settings.</summary>
    public GroupedConsumerOptions Options { get; }

    /// <summary>This member's name in the group: host name, process id and instance identity.</summary>
    public string Name { get; }

    /// <summary>The group name.</summary>
    public string Group => Options.Group;

    /// <summary>This member's partitions per topic: the ones it has claimed and reads. Empty before the first rebalance.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>> Allocation => _kafka?.Allocation ?? _membership?.Allocation ?? NoAllocation;

    /// <summary>
    /// Raised after every change of <see cref="Allocation"/>; the rebalance waits for the handlers. Revoked partitions
    /// have stopped and their progress is committed, but they are not yet released to other members.
    /// </summary>
    public event Func<AllocationChangedEventArgs, Task>? AllocationChanged;

    /// <summary>The member's one cluster: coordination, metadata and fetching for every topic (for tests).</summary>
    internal KafkaCluster? Cluster => _cluster;

    /// <summary>The coordinator broker found last, or null.</summary>
    public int? CoordinatorId => _cluster?.GetCachedCoordinator(CoordinatorType.Group, Options.Group)?.NodeId;

    /// <summary>
    /// Starts the cluster, registers in the ZooKeeper party, seeds the shared partition set with the partitions of the
    /// known topics, waits for the first allocation, and determines the coordinator. With
    /// <see cref="GroupCoordination.Kafka"/>: joins the Kafka group subscribed to every topic the cluster knows (internal
    /// ones aside) and waits for the first assignment instead.
    /// </summary>
    /// <exception cref="InvalidOperationException">Already connected or closed.</exception>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
            throw new InvalidOperationException("ConnectAsync was already called; a GroupedConsumer connects once.");
        try
        {
            _cluster = new KafkaCluster(new ClusterOptions
            {
                BootstrapServers = Options.BootstrapServerList,
                ClientId = Options.ClientId,
                BrokerVersionFallback = Options.BrokerVersionFallback,
                RequestTimeout = Options.RequestTimeout,
                LoggerFactory = Options.LoggerFactory,
                Security = Options.CreateConnectionSecurity(),
                TimeProvider = Options.TimeProvider,
                Retry = new RetryPolicy { MaxAttempts = Math.Max(1, Options.MaxRetries), Backoff = Options.RetryBackoff },
            });
            await _cluster.StartAsync(cancellationToken).ConfigureAwait(false);

            if (Options.Coordination == GroupCoordination.Kafka)
            {
                await ConnectKafkaAsync(_cluster, cancellationToken).ConfigureAwait(false);
                await DetermineCoordinatorAsync(cancellationToken).ConfigureAwait(false);
                _metadataLoop = Task.Run(() => MetadataLoopAsync(_lifetime.Token), CancellationToken.None);
                Volatile.Write(ref _state, 2);
                return;
            }

            _store = CreateStore();
            await OpenZooKeeperOffsetsAsync(cancellationToken).ConfigureAwait(false);
            _membership = new GroupMembership(_store, Options.Group, Name, Options.Allocator, claims: !Options.KielCompatible, this, Options.LoggerFactory, time: Options.TimeProvider);
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                connect.CancelAfter(Options.ZooKeeperConnectTimeout + Options.ZooKeeperSessionTimeout);
                await _membership.StartAsync(AllKnownPartitions(_cluster.Metadata), connect.Token).ConfigureAwait(false);
            }
            await DetermineCoordinatorAsync(cancellationToken).ConfigureAwait(false);
            _metadataLoop = Task.Run(() => MetadataLoopAsync(_lifetime.Token), CancellationToken.None);
            Volatile.Write(ref _state, 2);
        }
        catch
        {
            await CloseResourcesAsync().ConfigureAwait(false);
            Volatile.Write(ref _state, 4);
            throw;
        }
    }

    /// <summary>The ZooKeeper side; tests replace it to inject sessions.</summary>
    internal Func<IGroupStore>? StoreFactory { get; set; }

    private IGroupStore CreateStore() => StoreFactory?.Invoke()
        ?? new ZooKeeperGroupStore(Options.ZooKeeperConnectString, Options.Group, Options.ZooKeeperSessionTimeout, Options.ZooKeeperConnectTimeout, Options.LoggerFactory, Options.TimeProvider, Options.ApplyZooKeeperSecurity);

    /// <summary>The membership, for tests.</summary>
    internal GroupMembership? Membership => _membership;

    // Kiel seeds the set with every partition of every topic the metadata knows, internal ones included, so that a
    // Python member computes the same allocation from the same set.
    private static List<string> AllKnownPartitions(MetadataSnapshot metadata)
    {
        var result = new List<string>();
        foreach (var topic in metadata.Topics.Values)
        {
            if (topic.ErrorCode != 0) continue;
            foreach (var p in topic.Partitions) result.Add(new TopicPartition(topic.Name, p.Partition).ToString());
        }
        return result;
    }

    private void ThrowIfNotConnected()
    {
        var state = Volatile.Read(ref _state);
        if (state is 0 or 1) throw new InvalidOperationException("Call ConnectAsync first.");
    }

    private bool IsClosing => Volatile.Read(ref _state) >= 3;
}

/// <summary>A <see cref="GroupedConsumer{TValue}"/> with kiel's default deserializer: each value parsed as a JSON document.</summary>
public sealed class GroupedConsumer : GroupedConsumer<JsonElement>
{
    /// <inheritdoc cref="GroupedConsumer{TValue}(IEnumerable{string}, string, IEnumerable{string}?, IDeserializer{TValue}?, PartitionAllocator?, bool, int, int, int)"/>
    public GroupedConsumer(IEnumerable<string> brokers, string group, IEnumerable<string>? zkHosts, IDeserializer<JsonElement>? deserializer = null,
        PartitionAllocator? partitionAllocator = null, bool autocommit = true, int maxWaitTime = 1000, int minBytes = 1, int maxBytes = 1048576)
        : base(brokers, group, zkHosts, deserializer, partitionAllocator, autocommit, maxWaitTime, minBytes, maxBytes)
    {
    }

    /// <inheritdoc cref="GroupedConsumer{TValue}(GroupedConsumerOptions, IDeserializer{TValue}?)"/>
    public GroupedConsumer(GroupedConsumerOptions options, IDeserializer<JsonElement>? deserializer = null) : base(options, deserializer)
    {
    }
}
