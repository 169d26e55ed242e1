using System.Collections.Concurrent;
using Kiel.Network;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.Cluster;

/// <summary>
/// The client's view of a Kafka cluster: bootstrap, an immutable metadata snapshot refreshed when stale and every
/// <see cref="ClusterOptions.MetadataMaxAge"/>, three connections per broker (produce, fetch, group/admin),
/// coordinator lookup, and a request-with-retry helper that every client uses.
/// </summary>
internal partial class KafkaCluster : IAsyncDisposable
{
    private readonly ConnectionOptions _connectionOptions;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _lifetime = new();
    // Read once: work started just as the cluster is disposed must see a cancelled token, not a disposed source.
    private readonly CancellationToken _lifetimeToken;
    private readonly ConcurrentDictionary<(int NodeId, ConnectionPurpose Purpose), ConnectionSlot> _connections = new();
    private readonly BrokerEndpoint[] _bootstrap;
    private Task _maintenance = Task.CompletedTask;
    private int _started;
    private int _disposed;

    /// <summary>Creates a cluster client; call <see cref="StartAsync"/> to bootstrap.</summary>
    public KafkaCluster(ClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Validate();
        _connectionOptions = options.ToConnectionOptions() with { DetectedReleases = new() };
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kiel.Cluster.KafkaCluster");
        _time = options.TimeProvider;
        _bootstrap = [.. options.BootstrapServers.Select(a => BrokerEndpoint.Parse(a))];
        _lifetimeToken = _lifetime.Token;
    }

    /// <summary>The options this cluster was created with.</summary>
    public ClusterOptions Options { get; }

    /// <summary>The latest metadata snapshot (<see cref="MetadataSnapshot.Empty"/> before <see cref="StartAsync"/>).</summary>
    public MetadataSnapshot Metadata => Volatile.Read(ref _metadata);

    /// <summary>
    /// Bootstraps: tries each bootstrap address in order until one answers Metadata, then keeps metadata fresh in
    /// the background.
    /// </summary>
    /// <exception cref="NoBrokersException">No bootstrap address answered; the message says what each one did.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0) return;
        try
        {
            await RefreshMetadataAsync(null, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Volatile.Write(ref _started, 0); // a failed bootstrap may be tried again
            throw;
        }
        _maintenance = Task.Run(() => MaintainAsync(_lifetimeToken));
    }

    /// <summary>Closes every connection. Bounded: connections are closed without waiting for brokers.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _lifetime.Cancel();
        try
        {
            await _maintenance.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }
        var closing = new List<Task>();
        foreach (var slot in _connections.Values) closing.Add(slot.CloseAsync());
        try
        {
            await Task.WhenAll(closing).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        _lifetime.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
