using System.Collections.Concurrent;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Cluster;

internal partial class KafkaCluster
{
    private readonly ConcurrentDictionary<(CoordinatorType Type, string Key), BrokerEndpoint> _coordinators = new();

    /// <summary>
    /// The coordinator for a group or a transactional id: from the cache, or by FindCoordinator (with retry), asking
    /// each broker in turn like kiel's <c>determine_coordinator</c>. The answer is cached until
    /// <see cref="ForgetCoordinator"/>.
    /// </summary>
    public async Task<BrokerEndpoint> FindCoordinatorAsync(CoordinatorType type, string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_coordinators.TryGetValue((type, key), out var cached)) return cached;
        var found = await FindCoordinatorsCoreAsync(type, [key], Options.Retry, cancellationToken).ConfigureAwait(false);
        return found[key];
    }

    /// <summary>
    /// Finds the coordinators of several keys at once: one batched request on brokers that support FindCoordinator
    /// v4+, one request per key on older ones. Retries until every key has an answer or the budget is spent.
    /// </summary>
    public Task<IReadOnlyDictionary<string, BrokerEndpoint>> FindCoordinatorsAsync(CoordinatorType type, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
        FindCoordinatorsCoreAsync(type, keys, Options.Retry, cancellationToken);

    private async Task<IReadOnlyDictionary<string, BrokerEndpoint>> FindCoordinatorsCoreAsync(CoordinatorType type, IReadOnlyCollection<string> keys, RetryPolicy policy,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var result = new Dictionary<string, BrokerEndpoint>(StringComparer.Ordinal);
        foreach (var k in keys)
            if (_coordinators.TryGetValue((type, k), out var c)) result[k] = c;
        if (result.Count == keys.Count) return result;
        return await ExecuteAsync($"FindCoordinator({type})", async (_, ct) =>
        {
            var missing = keys.Where(k => !result.ContainsKey(k)).Distinct().ToList();
            foreach (var (k, endpoint) in await LookupOnAnyBrokerAsync(type, missing, ct).ConfigureAwait(false))
            {
                result[k] = endpoint;
                _coordinators[(type, k)] = endpoint;
                ClusterLog.CoordinatorFound(_logger, type, k, endpoint.ToString());
            }
            return (IReadOnlyDictionary<string, BrokerEndpoint>)result;
        }, cancellationToken, policy).ConfigureAwait(false);
    }

    /// <summary>The group-purpose connection to the coordinator of <paramref name="key"/>; forgets the coordinator when it cannot be reached.</summary>
    public Task<BrokerConnection> GetCoordinatorConnectionAsync(CoordinatorType type, string key, CancellationToken cancellationToken = default) =>
        GetCoordinatorConnectionCoreAsync(type, key, Options.Retry, cancellationToken);

    /// <summary>
    /// The coordinator's connection with at most one lookup attempt, for callers that run their own retry loop (so
    /// that budgets do not multiply) or must stay within a deadline.
    /// </summary>
    internal Task<BrokerConnection> GetCoordinatorConnectionOnceAsync(CoordinatorType type, string key, CancellationToken cancellationToken = default) =>
        GetCoordinatorConnectionCoreAsync(type, key, Options.Retry with { MaxAttempts = 1 }, cancellationToken);

    /// <summary>Inside an outer retry loop the lookup makes one attempt, so that budgets do not multiply.</summary>
    private async Task<BrokerConnection> GetCoordinatorConnectionCoreAsync(CoordinatorType type, string key, RetryPolicy lookupPolicy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var coordinator = _coordinators.TryGetValue((type, key), out var cached)
            ? cached
            : (await FindCoordinatorsCoreAsync(type, [key], lookupPolicy, cancellationToken).ConfigureAwait(false))[key];
        try
        {
            return await GetConnectionAsync(coordinator, ConnectionPurpose.Group, cancellationToken).ConfigureAwait(false);
        }
        catch (KafkaConnectionException e)
        {
            ForgetCoordinator(type, key, e.Message);
            throw;
        }
    }

    /// <summary>Forgets a cached coordinator (after NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or a lost connection).</summary>
    public void ForgetCoordinator(CoordinatorType type, string key, string reason)
    {
        if (_coordinators.TryRemove((type, key), out _)) ClusterLog.CoordinatorForgotten(_logger, type, key, reason);
    }

    /// <summary>The cached coordinator, if any.</summary>
    public BrokerEndpoint? GetCachedCoordinator(CoordinatorType type, string key) => _coordinators.TryGetValue((type, key), out var c) ? c : null;

    private async Task<List<(string Key, BrokerEndpoint Endpoint)>> LookupOnAnyBrokerAsync(CoordinatorType type, List<string> keys, CancellationToken ct)
    {
        using var activity = Diagnostics.KielDiagnostics.ActivitySource.StartActivity("kiel find coordinator", System.Diagnostics.ActivityKind.Client);
        activity?.SetTag("messaging.system", "kafka");
        activity?.SetTag("kiel.coordinator.type", type.ToString());
        activity?.SetTag("kiel.coordinator.keys", string.Join(",", keys));
        var snapshot = Metadata;
        if (snapshot.Brokers.Count == 0) snapshot = await RefreshMetadataAsync(null, ct).ConfigureAwait(false);
        var attempts = new List<BrokerAttempt>();
        Exception? last = null;
        foreach (var broker in OrderedBrokers(snapshot, ConnectionPurpose.Metadata))
        {
            try
            {
                var connection = await GetConnectionAsync(broker, ConnectionPurpose.Metadata, ct).ConfigureAwait(false);
                return await LookupAsync(connection, type, keys, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (IsRetriable(e) && !ct.IsCancellationRequested)
            {
                ClusterLog.CoordinatorLookupFailed(_logger, broker.ToString(), e.Message);
                attempts.Add(new BrokerAttempt(broker.ToString(), e.Message));
                last = e;
            }
        }
        // Every broker failed in a retriable way: surface a broker error as itself so its code is visible.
        if (attempts.Count > 0 && last is KafkaException && attempts.Count == 1) throw last;
        throw new NoBrokersException($"FindCoordinator({type} {string.Join(", ", keys.Select(k => $"'{k}'"))})", attempts, last);
    }

    private FindCoordinatorResponse DecodeFindCoordinator(ResponseFrame frame, string context)
    {
        try
        {
            return frame.DecodeCopy<FindCoordinatorResponse>();
        }
        catch (KafkaProtocolException) when (frame.Version < 4)
        {
            // Some brokers (the librdkafka mock) send a null Host with an error; the error code is what matters.
            var body = frame.Body.Span;
            var at = frame.Version >= 1 ? 4 : 0; // v1+ starts with ThrottleTimeMs
            if (body.Length >= at + 2)
            {
                var code = System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(body[at..]);
                ThrowIfError(code, context);
            }
            throw;
        }
    }

    private async Task<List<(string, BrokerEndpoint)>> LookupAsync(BrokerConnection connection, CoordinatorType type, List<string> keys, CancellationToken ct)
    {
        // KeyType (transactions) needs v1+; v4+ batches keys.
        var version = connection.Versions.Choose(ApiKey.FindCoordinator, type == CoordinatorType.Transaction ? (short)1 : (short)0, 4);
        var found = new List<(string, BrokerEndpoint)>(keys.Count);
        if (version >= 4)
        {
            var request = new FindCoordinatorRequest { KeyType = (sbyte)type, CoordinatorKeys = keys };
            var response = await connection.SendAsync(request, version, ct).ConfigureAwait(false);
            connection.ReportThrottle(ApiKey.FindCoordinator, response.ThrottleTimeMs);
            foreach (var c in response.Coordinators)
            {
                ThrowIfError(c.ErrorCode, $"FindCoordinator({type} '{c.Key}') via {connection.Endpoint}", c.ErrorMessage);
                found.Add((c.Key, new BrokerEndpoint(c.NodeId, c.Host, c.Port)));
            }
            return found;
        }
        foreach (var key in keys)
        {
            var request = new FindCoordinatorRequest { Key = key, KeyType = (sbyte)type };
            FindCoordinatorResponse response;
            using (var frame = await connection.SendRawAsync(request, version, ct).ConfigureAwait(false))
                response = DecodeFindCoordinator(frame, $"FindCoordinator({type} '{key}') via {connection.Endpoint}");
            connection.ReportThrottle(ApiKey.FindCoordinator, response.ThrottleTimeMs);
            ThrowIfError(response.ErrorCode, $"FindCoordinator({type} '{key}') via {connection.Endpoint}", response.ErrorMessage);
            found.Add((key, new BrokerEndpoint(response.NodeId, response.Host, response.Port)));
        }
        return found;
    }
}
