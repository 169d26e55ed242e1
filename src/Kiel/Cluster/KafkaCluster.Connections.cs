using Kiel.Network;
using Kiel.Protocol;

namespace Kiel.Cluster;

internal partial class KafkaCluster
{
    private int _rotation;

    /// <summary>Open connections per (broker id, purpose): at most one each, whatever the number of topics (for tests).</summary>
    internal IReadOnlyDictionary<(int NodeId, ConnectionPurpose Purpose), int> OpenConnections()
    {
        var result = new Dictionary<(int NodeId, ConnectionPurpose Purpose), int>();
        foreach (var (key, slot) in _connections)
        {
            lock (slot.Sync)
                if (slot.Current is { IsOpen: true }) result[key] = 1;
        }
        return result;
    }

    private static string PurposeName(ConnectionPurpose purpose) => purpose switch
    {
        ConnectionPurpose.Produce => "produce",
        ConnectionPurpose.Fetch => "fetch",
        ConnectionPurpose.SecondFetch => "fetch-2",
        ConnectionPurpose.Metadata => "metadata",
        _ => "group",
    };

    /// <summary>
    /// The connection of <paramref name="purpose"/> to <paramref name="broker"/>, opened (or reopened, after a reconnect
    /// backoff) when needed. Concurrent callers share one connect.
    /// </summary>
    /// <exception cref="KafkaConnectionException">The broker cannot be reached (retriable).</exception>
    public async ValueTask<BrokerConnection> GetConnectionAsync(BrokerEndpoint broker, ConnectionPurpose purpose, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(broker);
        if (broker.NodeId < 0)
            throw new ArgumentException($"The cluster pools connections by broker id, and {broker} has none; use BrokerConnection.ConnectAsync for a bare address.", nameof(broker));
        ThrowIfDisposed();
        var slot = _connections.GetOrAdd((broker.NodeId, purpose), static _ => new ConnectionSlot());
        Task<BrokerConnection> connecting;
        BrokerConnection? moved = null;
        lock (slot.Sync)
        {
            if (slot.Current is { } current)
            {
                if (current.IsOpen && current.Endpoint.Host == broker.Host && current.Endpoint.Port == broker.Port) return current;
                if (current.IsOpen) moved = current; // the broker's address changed
                slot.Current = null;
            }
            if (slot.Connecting is null || slot.Connecting.IsCompleted)
            {
                slot.Connecting = ConnectSlotAsync(slot, broker, purpose);
                // Every waiter may give up before a connect fails: observed here, its failure is never unobserved.
                slot.Connecting.ObserveFailure();
            }
            connecting = slot.Connecting;
        }
        if (moved is not null) _ = moved.DisposeAsync().AsTask();
        return await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The open connection of <paramref name="purpose"/> to the broker with id <paramref name="brokerId"/>, at the
    /// address metadata gives, without waiting; false when there is none yet (or it closed, or the broker moved).
    /// </summary>
    internal bool TryGetOpenConnection(int brokerId, ConnectionPurpose purpose, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BrokerConnection? connection)
    {
        connection = null;
        if (!Metadata.Brokers.TryGetValue(brokerId, out var broker) || !_connections.TryGetValue((brokerId, purpose), out var slot)) return false;
        lock (slot.Sync)
        {
            if (slot.Current is not { IsOpen: true } current || current.Endpoint.Host != broker.Host || current.Endpoint.Port != broker.Port) return false;
            connection = current;
            return true;
        }
    }

    /// <summary>The connection of <paramref name="purpose"/> to the broker with id <paramref name="brokerId"/>.</summary>
    /// <exception cref="BrokerNotAvailableException">Metadata does not list the broker, even after a refresh.</exception>
    public async ValueTask<BrokerConnection> GetConnectionAsync(int brokerId, ConnectionPurpose purpose, CancellationToken cancellationToken = default)
    {
        if (!Metadata.Brokers.TryGetValue(brokerId, out var broker))
        {
            var refreshed = await RefreshMetadataAsync(null, cancellationToken).ConfigureAwait(false);
            if (!refreshed.Brokers.TryGetValue(brokerId, out broker))
                throw new BrokerNotAvailableException(brokerId, "Connecting to a broker by id");
        }
        return await GetConnectionAsync(broker, purpose, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The connection of <paramref name="purpose"/> to the current leader of a partition. Metadata is refreshed when
    /// the topic is unknown; a leaderless partition, or a leader missing from the broker list, marks metadata stale
    /// and throws a retriable exception.
    /// </summary>
    public async ValueTask<BrokerConnection> GetLeaderConnectionAsync(string topic, int partition, ConnectionPurpose purpose, CancellationToken cancellationToken = default)
    {
        var leader = await GetLeaderAsync(topic, partition, cancellationToken).ConfigureAwait(false);
        return await GetConnectionAsync(leader, purpose, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The leader of a partition, refreshing metadata once when the topic is unknown.</summary>
    /// <exception cref="KafkaException">The topic or partition does not exist, or the partition has no leader (retriable).</exception>
    /// <exception cref="BrokerNotAvailableException">The leader is not in the broker list (retriable).</exception>
    public async ValueTask<BrokerEndpoint> GetLeaderAsync(string topic, int partition, CancellationToken cancellationToken = default)
    {
        var snapshot = Metadata;
        if (!snapshot.TryGetPartition(topic, partition, out var p))
        {
            snapshot = await EnsureTopicsAsync([topic], cancellationToken).ConfigureAwait(false);
            if (!snapshot.TryGetPartition(topic, partition, out p))
            {
                var code = snapshot.Topics.TryGetValue(topic, out var t) && t.ErrorCode != 0 ? (ErrorCode)t.ErrorCode : ErrorCode.UnknownTopicOrPartition;
                throw new KafkaException(code, $"(partition {topic}[{partition}] is not in the cluster's metadata)");
            }
        }
        if (p.LeaderId < 0)
        {
            MarkStale($"{topic}[{partition}] has no leader");
            throw new KafkaException(ErrorCode.LeaderNotAvailable, $"(partition {topic}[{partition}] has no leader right now)");
        }
        if (!snapshot.Brokers.TryGetValue(p.LeaderId, out var leader))
        {
            ClusterLog.LeaderNotInBrokerList(_logger, topic, partition, p.LeaderId);
            MarkStale($"leader {p.LeaderId} of {topic}[{partition}] is not in the broker list");
            throw new BrokerNotAvailableException(p.LeaderId, $"The leader of {topic}[{partition}]");
        }
        return leader;
    }

    /// <summary>
    /// A connection of <paramref name="purpose"/> to any live broker, preferring one already open; brokers are tried
    /// in turn, and the bootstrap list after them.
    /// </summary>
    /// <exception cref="NoBrokersException">No broker could be reached; lists what each answered.</exception>
    public async ValueTask<BrokerConnection> GetAnyConnectionAsync(ConnectionPurpose purpose, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var brokers = OrderedBrokers(Metadata, purpose);
        foreach (var b in brokers)
            if (_connections.TryGetValue((b.NodeId, purpose), out var slot) && slot.Current is { IsOpen: true } open) return open;
        var attempts = new List<BrokerAttempt>();
        foreach (var b in brokers)
        {
            try
            {
                return await GetConnectionAsync(b, purpose, cancellationToken).ConfigureAwait(false);
            }
            catch (KielException e) when (e.IsRetriable && !cancellationToken.IsCancellationRequested)
            {
                attempts.Add(new BrokerAttempt(b.ToString(), e.Message));
            }
        }
        MarkStale("no known broker could be reached");
        throw new NoBrokersException($"Connecting to any broker ({PurposeName(purpose)})", attempts);
    }

    /// <summary>
    /// The brokers of a snapshot: those with an open connection of <paramref name="purpose"/> first (no new socket
    /// needed), the rest from a rotating position so that load spreads.
    /// </summary>
    private List<BrokerEndpoint> OrderedBrokers(MetadataSnapshot snapshot, ConnectionPurpose purpose)
    {
        var all = snapshot.Brokers.Values.OrderBy(b => b.NodeId).ToList();
        if (all.Count <= 1) return all;
        var start = (int)((uint)Interlocked.Increment(ref _rotation) % (uint)all.Count);
        List<BrokerEndpoint> rotated = [.. all.Skip(start), .. all.Take(start)];
        return [.. rotated.OrderBy(b => _connections.TryGetValue((b.NodeId, purpose), out var slot) && slot.Current is { IsOpen: true } ? 0 : 1)];
    }

    private async Task<BrokerConnection> ConnectSlotAsync(ConnectionSlot slot, BrokerEndpoint broker, ConnectionPurpose purpose)
    {
        await Task.Yield(); // leave the slot lock before doing anything slow
        long wait;
        lock (slot.Sync) wait = slot.NextAttempt - _time.GetTimestamp();
        if (wait > 0)
            await Task.Delay(TimeSpan.FromSeconds((double)wait / _time.TimestampFrequency), _time, _lifetimeToken).ConfigureAwait(false);
        try
        {
            var connection = await BrokerConnection.ConnectAsync(broker, _connectionOptions, PurposeName(purpose), _lifetimeToken).ConfigureAwait(false);
            lock (slot.Sync)
            {
                slot.Current = connection;
                slot.Failures = 0;
                slot.NextAttempt = 0;
            }
            _ = connection.Completion.ContinueWith(static (_, s) =>
            {
                var (cluster, c) = ((KafkaCluster, BrokerConnection))s!;
                if (!c.ClosedCleanly && Volatile.Read(ref cluster._disposed) == 0)
                    cluster.MarkStale($"the connection to {c.Endpoint} broke");
            }, (this, connection), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return connection;
        }
        catch (Exception e)
        {
            lock (slot.Sync)
            {
                slot.Failures++;
                slot.NextAttempt = _time.GetTimestamp() + (long)(Options.ReconnectBackoff.Delay(slot.Failures).TotalSeconds * _time.TimestampFrequency);
            }
            if (broker.NodeId >= 0 && Volatile.Read(ref _disposed) == 0) MarkStale($"cannot connect to {broker}: {e.Message}");
            throw;
        }
    }
}
