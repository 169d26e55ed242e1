using Kiel.Consuming;
using Kiel.IntegrationTests.Groups;
using Kiel.Testing;

namespace Kiel.IntegrationTests.KafkaGroups;

/// <summary>One 3-broker embedded cluster for the Kafka group tests, with the initial rebalance delay at 0 (the mock's
/// default of 3000 ms would slow every first join).</summary>
public sealed class KafkaGroupFixture : IAsyncLifetime
{
    private EmbeddedKafkaCluster? cluster;

    public EmbeddedKafkaCluster Cluster => cluster ?? throw new InvalidOperationException("The cluster fixture has not started.");

    public string BootstrapServers => Cluster.BootstrapServers;

    public async Task InitializeAsync()
    {
        cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        cluster.SetInitialRebalanceDelay(0);
    }

    public async Task DisposeAsync()
    {
        if (cluster is not null) await cluster.DisposeAsync();
    }
}

/// <summary>An in-process Kiel member of a Kafka group that logs what it hands out and what it owns.</summary>
internal sealed class KielGroupMember : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private readonly HashSet<TopicPartition> _owned = [];
    private Task _reader = Task.CompletedTask;

    public KielGroupMember(string name, KielConsumerOptions options, DeliveryLog log)
    {
        Name = name;
        Log = log;
        Consumer = new KielConsumer<string?, string?>(options, Deserializers.Utf8, Deserializers.Utf8);
        Consumer.PartitionsAssignedHandler = (parts, _) =>
        {
            lock (_gate) _owned.UnionWith(parts);
            Events.Enqueue(("assigned", [.. parts]));
            return ValueTask.CompletedTask;
        };
        Consumer.PartitionsRevokedHandler = (parts, _) =>
        {
            lock (_gate) _owned.ExceptWith(parts);
            Events.Enqueue(("revoked", [.. parts]));
            return ValueTask.CompletedTask;
        };
        Consumer.PartitionsLostHandler = (parts, _) =>
        {
            lock (_gate) _owned.ExceptWith(parts);
            Events.Enqueue(("lost", [.. parts]));
            return ValueTask.CompletedTask;
        };
    }

    public static KielConsumerOptions Options(string bootstrap, string group, Func<KielConsumerOptions, KielConsumerOptions>? configure = null) =>
        (configure ?? (o => o))(new KielConsumerOptions
        {
            BootstrapServers = bootstrap,
            GroupId = group,
            SessionTimeout = TimeSpan.FromSeconds(6),
            HeartbeatInterval = TimeSpan.FromMilliseconds(300),
            AutoOffsetReset = OffsetResetPolicy.Earliest,
            FetchMaxWait = TimeSpan.FromMilliseconds(100),
            RetryBackoff = TimeSpan.FromMilliseconds(20),
            RequestTimeout = TimeSpan.FromSeconds(10),
            AutoCommitInterval = TimeSpan.FromMilliseconds(500),
        });

    public string Name { get; }

    public DeliveryLog Log { get; }

    public KielConsumer<string?, string?> Consumer { get; }

    public System.Collections.Concurrent.ConcurrentQueue<(string Kind, List<TopicPartition> Partitions)> Events { get; } = new();

    /// <summary>Optional work per record (for stall tests).</summary>
    public Func<Kiel.Consuming.ConsumeResult<string?, string?>, Task>? OnRecord { get; set; }

    public Exception? ReadError { get; private set; }

    public HashSet<int> Owned
    {
        get
        {
            lock (_gate) return [.. _owned.Select(tp => tp.Partition)];
        }
    }

    public void Start(string topic)
    {
        Consumer.Subscribe([topic]);
        _reader = Task.Run(async () =>
        {
            try
            {
                await foreach (var r in Consumer.ConsumeAsync(_stop.Token))
                {
                    Log.Add(Name, r.Partition, r.Offset, System.Diagnostics.Stopwatch.GetTimestamp());
                    if (OnRecord is { } work) await work(r);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                ReadError = e;
            }
        });
    }

    /// <summary>Stops reading, then closes (revoke, final commit, LeaveGroup).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reader.WaitAsync(TimeSpan.FromSeconds(10));
        await Consumer.DisposeAsync();
        _stop.Dispose();
    }
}
