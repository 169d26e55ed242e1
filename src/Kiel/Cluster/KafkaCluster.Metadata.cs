using System.Collections.Frozen;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Cluster;

internal partial class KafkaCluster
{
    private MetadataSnapshot _metadata = MetadataSnapshot.Empty;
    private readonly Lock _refreshLock = new();
    private Task<MetadataSnapshot>? _refresh;
    private HashSet<string>? _refreshNames;
    private readonly SemaphoreSlim _staleSignal = new(0, 1);
    private int _stale;
    private int _refreshFailures;
    private long _lastRefreshAttempt;
    private long _lastRefreshSuccess;
    private int _maxAgeWaits;

    /// <summary>
    /// How many times the background loop has armed its wait for the metadata's max age (tests: a fake clock may only
    /// be advanced once the wait is armed, or the timer is armed late by the size of the jump).
    /// </summary>
    internal int MaxAgeWaits => Volatile.Read(ref _maxAgeWaits);

    /// <summary>
    /// Refreshes metadata now. <paramref name="topics"/> null asks for every topic and replaces the topic list; named
    /// topics are asked for alone and merged into the snapshot (other topics are kept). Concurrent refreshes are
    /// coalesced: a caller whose topics an in-flight refresh covers waits for that one.
    /// </summary>
    /// <exception cref="NoBrokersException">No known or bootstrap broker answered; lists what each did.</exception>
    public async Task<MetadataSnapshot> RefreshMetadataAsync(IEnumerable<string>? topics = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        HashSet<string>? names = topics is null ? null : new HashSet<string>(topics, StringComparer.Ordinal);
        for (var round = 0; ; round++)
        {
            Task<MetadataSnapshot> task;
            bool covers;
            lock (_refreshLock)
            {
                if (_refresh is { IsCompleted: false } running)
                {
                    task = running;
                    covers = _refreshNames is null || (names is not null && names.IsSubsetOf(_refreshNames));
                }
                else
                {
                    _refreshNames = names;
                    _refresh = task = Task.Run(() => RefreshCoreAsync(names, _lifetimeToken));
                    // Every waiter may give up (its token) before a refresh fails: its failure is observed here so
                    // that it never surfaces as an unobserved task exception (found by the hostile broker).
                    task.ObserveFailure();
                    covers = true;
                }
            }
            if (covers) return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // That refresh was for other topics; ours starts next round.
            }
        }
    }

    /// <summary>
    /// A snapshot that knows every topic in <paramref name="topics"/>, refreshing when one is missing (and asking for
    /// it by name when <see cref="ClusterOptions.AllowAutoTopicCreation"/> is set). Topics that do not exist are
    /// absent from <see cref="MetadataSnapshot.TryGetTopic"/> afterwards; no error is thrown for them here.
    /// </summary>
    public async Task<MetadataSnapshot> EnsureTopicsAsync(IReadOnlyCollection<string> topics, CancellationToken cancellationToken = default)
    {
        var snapshot = Metadata;
        if (snapshot != MetadataSnapshot.Empty && topics.All(t => snapshot.TryGetTopic(t, out _))) return snapshot;
        snapshot = await RefreshMetadataAsync(Options.AllowAutoTopicCreation ? topics : null, cancellationToken).ConfigureAwait(false);
        return snapshot;
    }

    /// <summary>
    /// Marks metadata stale (an error said leaders or topics moved, or a connection broke); a background refresh
    /// follows, no sooner than the retry backoff allows.
    /// </summary>
    public void MarkStale(string reason)
    {
        if (Volatile.Read(ref _disposed) != 0) return;
        if (Interlocked.Exchange(ref _stale, 1) == 0) ClusterLog.MetadataStale(_logger, reason);
        try
        {
            if (_staleSignal.CurrentCount == 0) _staleSignal.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    /// <summary>The latest refresh started, finished or not (tests wait on it without observing its outcome).</summary>
    internal Task<MetadataSnapshot>? LatestRefresh
    {
        get
        {
            lock (_refreshLock) return _refresh;
        }
    }

    /// <summary>True when an error has said that metadata is out of date and no refresh has succeeded since.</summary>
    public bool IsMetadataStale => Volatile.Read(ref _stale) != 0;

    private async Task MaintainAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            try
            {
                var age = _time.GetElapsedTime(Volatile.Read(ref _lastRefreshSuccess));
                var untilMaxAge = Options.MetadataMaxAge - age;
                if (Volatile.Read(ref _stale) == 0 && untilMaxAge > TimeSpan.Zero)
                {
                    // Until metadata goes stale or reaches its max age on the cluster's clock (a fake one in tests).
                    using var maxAge = new CancellationTokenSource(untilMaxAge, _time);
                    using var wake = CancellationTokenSource.CreateLinkedTokenSource(token, maxAge.Token);
                    Interlocked.Increment(ref _maxAgeWaits);
                    try { await _staleSignal.WaitAsync(wake.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) when (!token.IsCancellationRequested) { }
                }
                // Never refresh in a tight loop: wait the backoff since the last attempt (longer after failures).
                var failures = Volatile.Read(ref _refreshFailures);
                var gap = failures > 0 ? Options.Retry.Delay(failures) : Options.Retry.Backoff;
                var since = _time.GetElapsedTime(Volatile.Read(ref _lastRefreshAttempt));
                if (since < gap) await Task.Delay(gap - since, _time, token).ConfigureAwait(false);
                await RefreshMetadataAsync(null, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                ClusterLog.MetadataRefreshFailed(_logger, "(background refresh)", e.Message);
            }
        }
    }

    private async Task<MetadataSnapshot> RefreshCoreAsync(HashSet<string>? names, CancellationToken token)
    {
        using var activity = Diagnostics.KielDiagnostics.ActivitySource.StartActivity("kiel metadata refresh", System.Diagnostics.ActivityKind.Client);
        activity?.SetTag("messaging.system", "kafka");
        activity?.SetTag("kiel.metadata.topics", names is null ? "*" : string.Join(",", names));
        try
        {
            var snapshot = await RefreshAttemptsAsync(names, token).ConfigureAwait(false);
            activity?.SetTag("kiel.metadata.brokers", snapshot.Brokers.Count);
            return snapshot;
        }
        catch (Exception e)
        {
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.Message);
            throw;
        }
    }

    private async Task<MetadataSnapshot> RefreshAttemptsAsync(HashSet<string>? names, CancellationToken token)
    {
        Volatile.Write(ref _lastRefreshAttempt, _time.GetTimestamp());
        var attempts = new List<BrokerAttempt>();
        Exception? last = null;
        var known = OrderedBrokers(Volatile.Read(ref _metadata), ConnectionPurpose.Metadata);
        foreach (var broker in known)
        {
            try
            {
                var connection = await GetConnectionAsync(broker, ConnectionPurpose.Metadata, token).ConfigureAwait(false);
                return await RequestMetadataAsync(connection, names, token).ConfigureAwait(false);
            }
            catch (Exception e) when (!token.IsCancellationRequested && e is KielException or IOException && e is not AuthenticationException)
            {
                attempts.Add(new BrokerAttempt(broker.ToString(), e.Message));
                ClusterLog.MetadataRefreshFailed(_logger, broker.ToString(), e.Message);
                last = e;
            }
        }
        if (known.Count > 0) ClusterLog.Rebootstrapping(_logger);
        foreach (var address in _bootstrap)
        {
            try
            {
                // A bootstrap address has no broker id yet, so it gets a connection of its own for this one request.
                await using var connection = await BrokerConnection.ConnectAsync(address, _connectionOptions, "bootstrap", token).ConfigureAwait(false);
                return await RequestMetadataAsync(connection, names, token).ConfigureAwait(false);
            }
            catch (Exception e) when (!token.IsCancellationRequested && e is KielException or IOException && e is not AuthenticationException)
            {
                attempts.Add(new BrokerAttempt(address.ToString(), e.Message));
                ClusterLog.BootstrapFailed(_logger, address.ToString(), e.Message);
                last = e;
            }
        }
        Interlocked.Increment(ref _refreshFailures);
        throw new NoBrokersException(known.Count == 0 && _metadata == MetadataSnapshot.Empty ? "Bootstrap" : "Metadata refresh", attempts, last);
    }

    private async Task<MetadataSnapshot> RequestMetadataAsync(BrokerConnection connection, HashSet<string>? names, CancellationToken token)
    {
        var version = connection.Versions.Choose(ApiKey.Metadata, 0, 12);
        var request = new MetadataRequest
        {
            // v0 has no null: an empty list means all topics there. From v1 null means all and empty means none.
            Topics = names is null
                ? (version == 0 ? [] : null)
                : [.. names.Select(n => new MetadataRequest.MetadataRequestTopic { Name = n })],
        };
        // v4 added the flag; below it brokers always may auto-create named topics (and the field must keep its default).
        if (version >= 4) request.AllowAutoTopicCreation = Options.AllowAutoTopicCreation;
        var response = await connection.SendAsync(request, version, token).ConfigureAwait(false);
        connection.ReportThrottle(ApiKey.Metadata, response.ThrottleTimeMs);
        var snapshot = Apply(response, version, names);
        ClusterLog.MetadataRefreshed(_logger, version, connection.Endpoint.ToString(), snapshot);
        return snapshot;
    }

    private MetadataSnapshot Apply(MetadataResponse response, short version, HashSet<string>? names)
    {
        var brokers = new Dictionary<int, BrokerEndpoint>();
        foreach (var b in response.Brokers) brokers[b.NodeId] = new BrokerEndpoint(b.NodeId, b.Host, b.Port, b.Rack);
        var fresh = new Dictionary<string, TopicMetadata>(StringComparer.Ordinal);
        foreach (var t in response.Topics)
        {
            if (t.Name is null) continue; // topic-id-only answers are not requested by this layer
            var partitions = t.Partitions
                .Select(p => new PartitionMetadata(p.PartitionIndex, p.LeaderId, p.LeaderEpoch, [.. p.ReplicaNodes], [.. p.IsrNodes], [.. p.OfflineReplicas ?? []], p.ErrorCode))
                .OrderBy(p => p.Partition)
                .ToArray();
            fresh[t.Name] = new TopicMetadata(t.Name, t.TopicId, t.ErrorCode, t.IsInternal, partitions);
        }
        lock (_refreshLock)
        {
            var previous = _metadata;
            IReadOnlyDictionary<string, TopicMetadata> topics;
            if (names is null)
            {
                topics = fresh.ToFrozenDictionary(StringComparer.Ordinal);
            }
            else
            {
                // Merge: a refresh for some topics must not make the others vanish (kiel's L6).
                var merged = new Dictionary<string, TopicMetadata>(previous.Topics, StringComparer.Ordinal);
                foreach (var (name, topic) in fresh) merged[name] = topic;
                topics = merged.ToFrozenDictionary(StringComparer.Ordinal);
            }
            var snapshot = new MetadataSnapshot(response.ClusterId, response.ControllerId, brokers.ToFrozenDictionary(), topics, _time.GetUtcNow(), version);
            Volatile.Write(ref _metadata, snapshot);
            Volatile.Write(ref _refreshFailures, 0);
            Volatile.Write(ref _lastRefreshSuccess, _time.GetTimestamp());
            if (names is null) Volatile.Write(ref _stale, 0);
            return snapshot;
        }
    }
}
