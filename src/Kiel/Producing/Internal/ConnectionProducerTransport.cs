using System.Collections.Concurrent;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace Kiel.Producing.Internal;

/// <summary>
/// A standalone transport over <see cref="BrokerConnection"/>s (kept as a fallback and for comparison; the producer uses
/// <see cref="ClusterProducerTransport"/>): one produce connection per broker, metadata from
/// any broker that answers (bootstrap list first, then every known broker).
/// </summary>
internal sealed class ConnectionProducerTransport : IProducerTransport
{
    private readonly KielProducerOptions _options;
    private readonly ConnectionOptions _connectionOptions;
    private readonly IReadOnlyList<BrokerEndpoint> _bootstrap;
    private readonly ConcurrentDictionary<int, BrokerEndpoint> _brokers = new();
    private readonly ConcurrentDictionary<int, Lazy<Task<BrokerConnection>>> _produce = new();
    private readonly SemaphoreSlim _metadataGate = new(1, 1);
    private BrokerConnection? _metadata;
    private volatile bool _disposed;

    public ConnectionProducerTransport(KielProducerOptions options)
    {
        _options = options;
        _bootstrap = options.Brokers.Select(b => BrokerEndpoint.Parse(b)).ToArray();
        _connectionOptions = new ConnectionOptions
        {
            ClientId = options.ClientId,
            RequestTimeout = options.RequestTimeout,
            MaxInFlight = options.MaxInFlight,
            LoggerFactory = options.LoggerFactory,
        };
    }

    public async ValueTask<TopicLayout> GetTopicAsync(string topic, bool refresh, CancellationToken cancellationToken)
    {
        var response = await MetadataAsync(topic, cancellationToken).ConfigureAwait(false);
        foreach (var b in response.Brokers)
            _brokers[b.NodeId] = new BrokerEndpoint(b.NodeId, b.Host, b.Port, b.Rack);
        foreach (var t in response.Topics)
        {
            if (t.Name != topic) continue;
            if (t.ErrorCode != 0) return new TopicLayout(topic, [], t.ErrorCode);
            var count = t.Partitions.Count == 0 ? 0 : t.Partitions.Max(p => p.PartitionIndex) + 1;
            var leaders = new int[count];
            Array.Fill(leaders, -1);
            foreach (var p in t.Partitions)
                leaders[p.PartitionIndex] = p.ErrorCode is 0 or 9 /* REPLICA_NOT_AVAILABLE still has a leader */ ? p.LeaderId : -1;
            return new TopicLayout(topic, leaders);
        }
        return new TopicLayout(topic, [], ProduceErrors.UnknownTopicOrPartition);
    }

    private async Task<MetadataResponse> MetadataAsync(string topic, CancellationToken cancellationToken)
    {
        await _metadataGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            List<string>? problems = null;
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var connection = _metadata is { IsOpen: true } open ? open : await ConnectAnyAsync(cancellationToken).ConfigureAwait(false);
                _metadata = connection;
                try
                {
                    var version = connection.Versions.Choose(ApiKey.Metadata);
                    // Never create topics as a side effect (the mock auto-creates on Metadata v0-3 regardless).
                    var request = new MetadataRequest
                    {
                        Topics = [new MetadataRequest.MetadataRequestTopic { Name = topic }],
                        AllowAutoTopicCreation = false,
                    };
                    return await connection.SendAsync(request, version, cancellationToken).ConfigureAwait(false);
                }
                catch (KielException e) when (e.IsRetriable && !cancellationToken.IsCancellationRequested)
                {
                    (problems ??= []).Add(e.Message);
                    await connection.DisposeAsync().ConfigureAwait(false);
                    _metadata = null;
                }
            }
            throw new KafkaConnectionException(_bootstrap[0], "metadata failed twice: " + string.Join("; ", problems!));
        }
        finally
        {
            _metadataGate.Release();
        }
    }

    private async Task<BrokerConnection> ConnectAnyAsync(CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        // Known brokers first (they are current), then the bootstrap list, so a cluster that moved is still found.
        foreach (var endpoint in _brokers.Values.Concat(_bootstrap))
        {
            try
            {
                return await BrokerConnection.ConnectAsync(endpoint, _connectionOptions, "metadata", cancellationToken).ConfigureAwait(false);
            }
            catch (KielException e) when (!cancellationToken.IsCancellationRequested)
            {
                problems.Add($"{endpoint}: {e.Message}");
            }
        }
        throw new KafkaConnectionException(_bootstrap[0], "no broker answered: " + string.Join("; ", problems));
    }

    private async Task<BrokerConnection> ProduceConnectionAsync(int brokerId, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (true)
        {
            var lazy = _produce.GetOrAdd(brokerId, id => new Lazy<Task<BrokerConnection>>(() => ConnectBrokerAsync(id)));
            BrokerConnection connection;
            try
            {
                connection = await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // Forget the failed attempt so the next call connects again.
                _produce.TryRemove(new KeyValuePair<int, Lazy<Task<BrokerConnection>>>(brokerId, lazy));
                throw;
            }
            if (connection.IsOpen) return connection;
            if (_produce.TryRemove(new KeyValuePair<int, Lazy<Task<BrokerConnection>>>(brokerId, lazy)))
                _ = connection.DisposeAsync().AsTask();
        }
    }

    private Task<BrokerConnection> ConnectBrokerAsync(int brokerId)
    {
        if (!_brokers.TryGetValue(brokerId, out var endpoint))
            return Task.FromException<BrokerConnection>(new ProduceException(
                $"Broker {brokerId} leads a partition but is not in the cluster's broker list (it may be down).", ProduceErrors.LeaderNotAvailable, retriable: true));
        return BrokerConnection.ConnectAsync(endpoint, _connectionOptions, "produce");
    }

    public async ValueTask<byte> GetRecordMagicAsync(int brokerId, CancellationToken cancellationToken)
    {
        var connection = await ProduceConnectionAsync(brokerId, cancellationToken).ConfigureAwait(false);
        return ProduceWire.Magic(connection.Versions.Choose(ApiKey.Produce));
    }

    public async ValueTask<ProduceResult> ProduceAsync(int brokerId, ProduceCall call, CancellationToken cancellationToken)
    {
        var connection = await ProduceConnectionAsync(brokerId, cancellationToken).ConfigureAwait(false);
        return await ProduceWire.SendAsync(connection, call, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<ProducerIdentity?> InitProducerIdAsync(ProducerIdentity? current, CancellationToken cancellationToken)
    {
        var connection = _brokers.Keys.Count > 0
            ? await ProduceConnectionAsync(_brokers.Keys.Min(), cancellationToken).ConfigureAwait(false)
            : await ConnectAnyForInitAsync(cancellationToken).ConfigureAwait(false);
        return await ProduceWire.InitProducerIdAsync(connection, current, cancellationToken).ConfigureAwait(false);
    }

    private async Task<BrokerConnection> ConnectAnyForInitAsync(CancellationToken cancellationToken)
    {
        await _metadataGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return _metadata is { IsOpen: true } open ? open : _metadata = await ConnectAnyAsync(cancellationToken).ConfigureAwait(false);
        }
        finally { _metadataGate.Release(); }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        foreach (var lazy in _produce.Values)
        {
            if (!lazy.IsValueCreated) continue;
            try { await (await lazy.Value.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false); }
            catch (Exception) { /* a connection that never opened has nothing to close */ }
        }
        _produce.Clear();
        if (_metadata is { } m) await m.DisposeAsync().ConfigureAwait(false);
        _metadataGate.Dispose();
    }
}
