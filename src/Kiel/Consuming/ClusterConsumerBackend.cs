using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Consuming;

/// <summary>
/// The consumers' backend over broker connections: metadata for the consumed topics, Fetch on a connection of its own
/// per broker (a held Fetch would delay anything queued behind it), ListOffsets and metadata on another.
/// Brokers missing from a later metadata answer are remembered, since a partition may still name a broker that is down.
/// </summary>
internal sealed class ClusterConsumerBackend : IConsumerBackend
{
    // Fetch v13+ names topics by id; v12 has everything else Kiel uses (sessions, epochs, flexible encoding).
    private const short MaxFetchVersion = 12;

    private readonly KielConsumerOptions _options;
    private readonly ConnectionOptions _connectionOptions;
    private readonly List<BrokerEndpoint> _bootstrap;
    private readonly object _gate = new();
    private readonly Dictionary<int, BrokerEndpoint> _brokers = [];
    private readonly Dictionary<string, IReadOnlyList<PartitionLeader>> _topics = [];
    private readonly Dictionary<(int Node, string Purpose), Task<BrokerConnection>> _connections = [];
    private readonly SemaphoreSlim _metadataLock = new(1, 1);
    private int _disposed;

    private ClusterConsumerBackend(KielConsumerOptions options)
    {
        _options = options;
        _connectionOptions = new ConnectionOptions
        {
            ClientId = options.ClientId,
            RequestTimeout = options.RequestTimeout,
            LoggerFactory = options.LoggerFactory,
            MaxInFlight = 1,
        };
        _bootstrap = [.. options.BootstrapServers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(a => BrokerEndpoint.Parse(a))];
    }

    /// <summary>Creates a backend for the brokers of <paramref name="options"/>; connections open on first use.</summary>
    public static IConsumerBackend Create(KielConsumerOptions options) => new ClusterConsumerBackend(options);

    public async ValueTask<IReadOnlyList<PartitionLeader>?> GetPartitionsAsync(string topic, bool refresh, CancellationToken cancellationToken)
    {
        if (!refresh)
            lock (_gate)
                if (_topics.TryGetValue(topic, out var cached)) return cached;
        await _metadataLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RefreshAsync(topic, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _metadataLock.Release();
        }
    }

    private async Task<IReadOnlyList<PartitionLeader>?> RefreshAsync(string topic, CancellationToken cancellationToken)
    {
        Exception? last = null;
        foreach (var (node, endpoint) in MetadataCandidates())
        {
            try
            {
                var connection = await ConnectionAsync(node, endpoint, "metadata", cancellationToken).ConfigureAwait(false);
                var version = connection.Versions.Choose(ApiKey.Metadata);
                var request = new MetadataRequest
                {
                    Topics = [new MetadataRequest.MetadataRequestTopic { Name = topic }],
                    AllowAutoTopicCreation = false,
                };
                var response = await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
                return Apply(topic, response);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex)
            {
                last = ex;
            }
        }
        throw new KielException($"No broker answered a metadata request for topic '{topic}'.", last);
    }

    private List<(int Node, BrokerEndpoint Endpoint)> MetadataCandidates()
    {
        lock (_gate)
        {
            var list = new List<(int, BrokerEndpoint)>();
            foreach (var (id, endpoint) in _brokers) list.Add((id, endpoint));
            // Prefer brokers with an open connection, then the rest, then the bootstrap list.
            list.Sort((a, b) => IsOpen(b.Item1).CompareTo(IsOpen(a.Item1)));
            for (var i = 0; i < _bootstrap.Count; i++) list.Add((-1 - i, _bootstrap[i]));
            return list;
        }
    }

    private bool IsOpen(int node) =>
        _connections.TryGetValue((node, "metadata"), out var task) && task.IsCompletedSuccessfully && task.Result.IsOpen;

    private IReadOnlyList<PartitionLeader>? Apply(string topic, MetadataResponse response)
    {
        lock (_gate)
        {
            foreach (var broker in response.Brokers)
                _brokers[broker.NodeId] = new BrokerEndpoint(broker.NodeId, broker.Host, broker.Port, broker.Rack);
            foreach (var t in response.Topics)
            {
                if (t.Name != topic) continue;
                if (t.ErrorCode != 0 || t.Partitions.Count == 0)
                {
                    _topics.Remove(topic);
                    return null;
                }
                var leaders = t.Partitions
                    .Select(p => new PartitionLeader(p.PartitionIndex, p.ErrorCode is 0 or 9 ? p.LeaderId : -1, p.LeaderEpoch))
                    .OrderBy(p => p.Partition)
                    .ToList();
                _topics[topic] = leaders;
                return leaders;
            }
            return null;
        }
    }

    private async Task<BrokerConnection> ConnectionAsync(int node, BrokerEndpoint? endpoint, string purpose, CancellationToken cancellationToken)
    {
        Task<BrokerConnection> task;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            if (endpoint is null && !_brokers.TryGetValue(node, out endpoint))
                throw new KielException($"Broker {node} is not in the metadata.");
            if (!_connections.TryGetValue((node, purpose), out task!) || task.IsFaulted || task.IsCanceled
                || (task.IsCompletedSuccessfully && (!task.Result.IsOpen || task.Result.Endpoint.Host != endpoint.Host || task.Result.Endpoint.Port != endpoint.Port)))
            {
                if (task is { IsCompletedSuccessfully: true }) _ = task.Result.DisposeAsync().AsTask();
                task = BrokerConnection.ConnectAsync(endpoint, _connectionOptions, purpose, CancellationToken.None);
                _connections[(node, purpose)] = task;
            }
        }
        return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<FetchResponseView> FetchAsync(int brokerId, FetchRequestView view, CancellationToken cancellationToken)
    {
        var connection = await ConnectionAsync(brokerId, null, "fetch", cancellationToken).ConfigureAwait(false);
        var version = connection.Versions.Choose(ApiKey.Fetch, 0, MaxFetchVersion);
        var request = new FetchRequest
        {
            MaxWaitMs = view.MaxWaitMs,
            MinBytes = view.MinBytes,
            MaxBytes = view.MaxBytes,
            IsolationLevel = (sbyte)view.IsolationLevel,
            SessionId = version >= 7 ? view.SessionId : 0,
            SessionEpoch = version >= 7 ? view.SessionEpoch : -1,
            Topics = [],
            ForgottenTopicsData = [],
        };
        FetchRequest.FetchTopic? current = null;
        foreach (var p in view.Partitions)
        {
            if (current is null || current.Topic != p.TopicPartition.Topic)
            {
                current = request.Topics.FirstOrDefault(t => t.Topic == p.TopicPartition.Topic);
                if (current is null)
                {
                    current = new FetchRequest.FetchTopic { Topic = p.TopicPartition.Topic, Partitions = [] };
                    request.Topics.Add(current);
                }
            }
            current.Partitions.Add(new FetchRequest.FetchPartition
            {
                Partition = p.TopicPartition.Partition,
                FetchOffset = p.FetchOffset,
                CurrentLeaderEpoch = p.CurrentLeaderEpoch,
                PartitionMaxBytes = p.MaxBytes,
            });
        }
        if (version >= 7)
            foreach (var group in view.Forgotten.GroupBy(f => f.Topic))
                request.ForgottenTopicsData.Add(new FetchRequest.ForgottenTopic { Topic = group.Key, Partitions = [.. group.Select(f => f.Partition)] });

        var frame = await connection.SendRawAsync(request, version, cancellationToken, _options.RequestTimeout + _options.FetchMaxWait).ConfigureAwait(false);
        try
        {
            var response = frame.Decode<FetchResponse>();
            var partitions = new List<FetchPartitionResponse>();
            foreach (var topic in response.Responses)
            foreach (var p in topic.Partitions)
            {
                List<AbortedTransaction>? aborted = null;
                if (p.AbortedTransactions is { Count: > 0 } list)
                    aborted = [.. list.Select(a => new AbortedTransaction(a.ProducerId, a.FirstOffset))];
                partitions.Add(new FetchPartitionResponse
                {
                    TopicPartition = new TopicPartition(topic.Topic, p.PartitionIndex),
                    ErrorCode = p.ErrorCode,
                    HighWatermark = p.HighWatermark,
                    LastStableOffset = p.LastStableOffset,
                    LogStartOffset = p.LogStartOffset,
                    AbortedTransactions = aborted,
                    Records = p.Records ?? default,
                    CurrentLeaderId = p.CurrentLeader?.LeaderId ?? -1,
                    CurrentLeaderEpoch = p.CurrentLeader?.LeaderEpoch ?? -1,
                });
            }
            return new FetchResponseView(version, response.ErrorCode, response.SessionId, partitions, frame);
        }
        catch
        {
            frame.Dispose();
            throw;
        }
    }

    public async ValueTask<IReadOnlyList<ListOffsetsAnswer>> ListOffsetsAsync(int brokerId, IReadOnlyList<ListOffsetsQuery> queries, IsolationLevel isolationLevel, CancellationToken cancellationToken)
    {
        var connection = await ConnectionAsync(brokerId, null, "metadata", cancellationToken).ConfigureAwait(false);
        var version = connection.Versions.Choose(ApiKey.ListOffsets);
        var request = new ListOffsetsRequest
        {
            ReplicaId = -1,
            IsolationLevel = (sbyte)isolationLevel,
            TimeoutMs = (int)_options.RequestTimeout.TotalMilliseconds,
            Topics = [.. queries.GroupBy(q => q.TopicPartition.Topic).Select(g => new ListOffsetsRequest.ListOffsetsTopic
            {
                Name = g.Key,
                Partitions = [.. g.Select(q => new ListOffsetsRequest.ListOffsetsPartition
                {
                    PartitionIndex = q.TopicPartition.Partition,
                    Timestamp = q.Timestamp,
                    CurrentLeaderEpoch = q.CurrentLeaderEpoch,
                    MaxNumOffsets = 1,
                })],
            })],
        };
        var response = await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
        var answers = new List<ListOffsetsAnswer>();
        foreach (var topic in response.Topics)
        foreach (var p in topic.Partitions)
        {
            var offset = version == 0 ? (p.OldStyleOffsets is { Count: > 0 } old ? old[0] : -1) : p.Offset;
            answers.Add(new ListOffsetsAnswer(new TopicPartition(topic.Name, p.PartitionIndex), p.ErrorCode, offset, p.Timestamp, p.LeaderEpoch));
        }
        return answers;
    }

    public async ValueTask DisposeAsync()
    {
        List<Task<BrokerConnection>> connections;
        lock (_gate)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            connections = [.. _connections.Values];
            _connections.Clear();
        }
        foreach (var task in connections)
        {
            try
            {
                var connection = await task.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                await connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Bounded shutdown: a connection that fails to open or close is left to the finaliser of its socket.
            }
        }
        _metadataLock.Dispose();
    }
}
