using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Tests.Network;

namespace Kiel.Tests.Groups.Kafka;

/// <summary>
/// A scripted broker that is its own group coordinator, for unit tests of a group's client side: it advertises the
/// given ApiVersions ranges, answers Metadata (itself as broker 1, the given cluster id and topics, every partition led by it) and
/// FindCoordinator (itself), and hands every other request to the test's script, which returns the answer to send
/// (null: none; the script may also answer with raw bytes itself).
/// </summary>
internal sealed class ScriptedCoordinator : IAsyncDisposable
{
    private readonly string? _clusterId;
    private readonly (short Key, short Min, short Max)[] _ranges;
    private readonly (string Name, int Partitions)[] _topics;
    private readonly Func<ScriptedConnection, ScriptedRequest, Task<IKafkaMessage?>> _script;
    private readonly ScriptedBroker _broker;
    private int _findCoordinators;

    public ScriptedCoordinator((short Key, short Min, short Max)[] ranges, (string Name, int Partitions)[] topics,
        Func<ScriptedConnection, ScriptedRequest, Task<IKafkaMessage?>> script, string? clusterId = null)
    {
        _clusterId = clusterId;
        _ranges = ranges;
        _topics = topics;
        _script = script;
        _broker = new ScriptedBroker(ServeAsync);
    }

    /// <summary>The broker's port on 127.0.0.1.</summary>
    public int Port => _broker.Port;

    /// <summary>The bootstrap string of the broker.</summary>
    public string BootstrapServers => $"127.0.0.1:{Port}";

    /// <summary>FindCoordinator requests answered so far.</summary>
    public int FindCoordinators => Volatile.Read(ref _findCoordinators);

    public ValueTask DisposeAsync() => _broker.DisposeAsync();

    private async Task ServeAsync(ScriptedConnection c)
    {
        if (await c.HandshakeAsync(_ranges) is null) return;
        while (await c.ReadRequestAsync() is { } r)
        {
            IKafkaMessage? response = r.ApiKey switch
            {
                (short)ApiKey.Metadata => Metadata(),
                (short)ApiKey.FindCoordinator => FindCoordinator(),
                _ => await _script(c, r),
            };
            if (response is not null) await c.RespondAsync(r.CorrelationId, MessageBytes.Encode(response, r.Version));
        }
    }

    private MetadataResponse Metadata() => new()
    {
        ClusterId = _clusterId,
        ControllerId = 1,
        Brokers = [new MetadataResponse.MetadataResponseBroker { NodeId = 1, Host = "127.0.0.1", Port = Port }],
        Topics = [.. _topics.Select(t => new MetadataResponse.MetadataResponseTopic
        {
            Name = t.Name,
            Partitions = [.. Enumerable.Range(0, t.Partitions).Select(p => new MetadataResponse.MetadataResponsePartition { PartitionIndex = p, LeaderId = 1, ReplicaNodes = [1], IsrNodes = [1] })],
        })],
    };

    private FindCoordinatorResponse FindCoordinator()
    {
        Interlocked.Increment(ref _findCoordinators);
        return new FindCoordinatorResponse { NodeId = 1, Host = "127.0.0.1", Port = Port };
    }
}
