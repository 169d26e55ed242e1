using Kiel.Cluster;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Consuming;

/// <summary>
/// The consumers' backend over <see cref="KafkaCluster"/>: metadata for the consumed topics, Fetch on each broker's
/// fetch connection (a held Fetch must not delay anything else), ListOffsets on the group connection.
/// </summary>
internal sealed class ClusterConsumerBackend : IConsumerBackend
{
    private readonly KielConsumerOptions _options;
    private readonly KafkaCluster _cluster;
    private readonly bool _ownsCluster;
    private readonly SemaphoreSlim _startLock = new(1, 1);
    private volatile bool _started;

    /// <summary>Uses <paramref name="cluster"/> (started or not); disposes it only when <paramref name="ownsCluster"/>.</summary>
    public ClusterConsumerBackend(KafkaCluster cluster, KielConsumerOptions options, bool ownsCluster = false)
    {
        _cluster = cluster;
        _options = options;
        _ownsCluster = ownsCluster;
    }

    /// <summary>Creates a backend with a cluster of its own for the brokers of <paramref name="options"/>; it bootstraps on first use.</summary>
    public static IConsumerBackend Create(KielConsumerOptions options)
    {
        var cluster = new KafkaCluster(new ClusterOptions
        {
            BootstrapServers = [.. options.BootstrapServers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
            ClientId = options.ClientId,
            BrokerVersionFallback = options.BrokerVersionFallback,
            RequestTimeout = options.RequestTimeout,
            MetadataMaxAge = options.MetadataMaxAge,
            LoggerFactory = options.LoggerFactory,
            Security = options.CreateConnectionSecurity(),
            TimeProvider = options.TimeProvider,
        });
        return new ClusterConsumerBackend(cluster, options, ownsCluster: true);
    }

    /// <summary>
    /// Creates a backend over <paramref name="cluster"/>, the client's own cluster, which it shares and does not
    /// dispose: its connections serve this backend and everything else the client does.
    /// </summary>
    public static IConsumerBackend Create(KielConsumerOptions options, KafkaCluster cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return new ClusterConsumerBackend(cluster, options, ownsCluster: false);
    }

    /// <summary>The cluster this backend uses.</summary>
    internal KafkaCluster Cluster => _cluster;

    private async ValueTask EnsureStartedAsync(CancellationToken cancellationToken)
    {
        if (_started) return;
        await _startLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_started) return;
            if (_cluster.Metadata == MetadataSnapshot.Empty) await _cluster.StartAsync(cancellationToken).ConfigureAwait(false);
            _started = true;
        }
        finally
        {
            _startLock.Release();
        }
    }

    public async ValueTask<IReadOnlyList<PartitionLeader>?> GetPartitionsAsync(string topic, bool refresh, CancellationToken cancellationToken)
    {
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        var snapshot = refresh
            ? await _cluster.RefreshMetadataAsync([topic], cancellationToken).ConfigureAwait(false)
            : await _cluster.EnsureTopicsAsync([topic], cancellationToken).ConfigureAwait(false);
        if (!snapshot.TryGetTopic(topic, out var metadata) || metadata.ErrorCode != 0 || metadata.Partitions.Count == 0) return null;
        var leaders = new PartitionLeader[metadata.Partitions.Count];
        for (var i = 0; i < leaders.Length; i++)
        {
            var p = metadata.Partitions[i];
            leaders[i] = new PartitionLeader(p.Partition, Kiel.Cluster.ErrorClassification.LeaderUsable((Kiel.ErrorCode)p.ErrorCode) ? p.LeaderId : -1, p.LeaderEpoch);
        }
        return leaders;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FetchResponseView> FetchAsync(int brokerId, int lane, FetchRequestView view, CancellationToken cancellationToken)
    {
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        var purpose = lane == 0 ? ConnectionPurpose.Fetch : ConnectionPurpose.SecondFetch;
        var connection = await _cluster.GetConnectionAsync(brokerId, purpose, cancellationToken).ConfigureAwait(false);
        var version = connection.Versions.Choose(ApiKey.Fetch, 0, FetchAnswer.MaxVersion);
        var wire = view.Wire ??= new FetchRequestWire();
        var request = wire.Fill(view, version);
        if (version >= 7 && view.Forgotten.Count > 0)
            foreach (var group in view.Forgotten.GroupBy(f => f.Topic))
                request.ForgottenTopicsData.Add(new FetchRequest.ForgottenTopic { Topic = group.Key, Partitions = [.. group.Select(f => f.Partition)] });

        var frame = await connection.SendRawAsync(request, version, cancellationToken, _options.RequestTimeout + _options.FetchMaxWait).ConfigureAwait(false);
        try
        {
            var (errorCode, sessionId) = FetchAnswer.Read(frame.Body, version, wire.KnownTopics, wire.Answer);
            return new FetchResponseView(version, errorCode, sessionId, wire.Answer, frame);
        }
        catch
        {
            frame.Recycle(); // still only ours
            throw;
        }
    }

    public async ValueTask<IReadOnlyList<ListOffsetsAnswer>> ListOffsetsAsync(int brokerId, IReadOnlyList<ListOffsetsQuery> queries, IsolationLevel isolationLevel, CancellationToken cancellationToken)
    {
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        var connection = await _cluster.GetConnectionAsync(brokerId, ConnectionPurpose.Group, cancellationToken).ConfigureAwait(false);
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
        if (_ownsCluster) await _cluster.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>
/// A source's Fetch request objects, refilled for every Fetch instead of built anew: the source has one Fetch
/// outstanding at a time, and the request is encoded before <see cref="Network.BrokerConnection.SendRawAsync"/>
/// completes, so nothing reads these objects once the previous Fetch has returned.
/// </summary>
internal sealed class FetchRequestWire
{
    private readonly FetchRequest _request = new() { Topics = [], ForgottenTopicsData = [] };
    private readonly List<FetchRequest.FetchTopic> _topics = [];
    private readonly List<FetchRequest.FetchPartition> _partitions = [];
    private readonly List<string> _knownTopics = [];
    private readonly HashSet<string> _knownTopicSet = new(StringComparer.Ordinal);
    private const int MaxKnownTopics = 1024;

    /// <summary>The partitions of the last answer, refilled by the next: the fetch engine has handled an answer before
    /// its source sends the next Fetch, and the chunks it cut (and the records it defers for their checksum check) keep
    /// only slices of the receive buffer and their own aborted-transaction lists.</summary>
    public List<FetchPartitionResponse> Answer { get; } = [];

    /// <summary>The topic names this view has fetched (an incremental fetch's answer names topics of earlier requests too),
    /// so that answers name them with these strings rather than new ones.</summary>
    public IReadOnlyList<string> KnownTopics => _knownTopics;

    /// <summary>Refills the request from <paramref name="view"/> (its forgotten topics cleared, for the caller to add).</summary>
    public FetchRequest Fill(FetchRequestView view, short version)
    {
        var request = _request;
        request.MaxWaitMs = view.MaxWaitMs;
        request.MinBytes = view.MinBytes;
        request.MaxBytes = view.MaxBytes;
        request.IsolationLevel = (sbyte)view.IsolationLevel;
        request.SessionId = version >= 7 ? view.SessionId : 0;
        request.SessionEpoch = version >= 7 ? view.SessionEpoch : -1;
        request.Topics.Clear();
        request.ForgottenTopicsData.Clear();
        var usedTopics = 0;
        var usedPartitions = 0;
        FetchRequest.FetchTopic? current = null;
        foreach (var p in view.Partitions)
        {
            if (current is null || current.Topic != p.TopicPartition.Topic)
            {
                current = null;
                foreach (var t in request.Topics)
                    if (t.Topic == p.TopicPartition.Topic) current = t;
                if (current is null)
                {
                    if (usedTopics == _topics.Count) _topics.Add(new FetchRequest.FetchTopic { Partitions = [] });
                    current = _topics[usedTopics++];
                    current.Topic = p.TopicPartition.Topic;
                    if (!_knownTopicSet.Contains(current.Topic))
                    {
                        if (_knownTopics.Count == MaxKnownTopics)
                        {
                            _knownTopics.Clear();
                            _knownTopicSet.Clear();
                        }
                        _knownTopics.Add(current.Topic);
                        _knownTopicSet.Add(current.Topic);
                    }
                    current.Partitions.Clear();
                    request.Topics.Add(current);
                }
            }
            if (usedPartitions == _partitions.Count) _partitions.Add(new FetchRequest.FetchPartition());
            var partition = _partitions[usedPartitions++];
            partition.Partition = p.TopicPartition.Partition;
            partition.FetchOffset = p.FetchOffset;
            partition.CurrentLeaderEpoch = p.CurrentLeaderEpoch;
            partition.PartitionMaxBytes = p.MaxBytes;
            current.Partitions.Add(partition);
        }
        return request;
    }
}
