namespace Kiel.ZooKeeper.Recipes;

/// <summary>
/// Follows one node's data (like kazoo's DataWatch): publishes the data and stat now and after every change, or
/// null while the node does not exist. It re-arms itself after each event and survives reconnects and expiries.
/// </summary>
public sealed class DataWatch : RearmingWatch<NodeData?>
{
    /// <summary>Creates the watch; call <see cref="RearmingWatch{T}.StartAsync"/> (or use <see cref="StartAsync(ZooKeeperClient, string, Func{NodeData?, ValueTask}?, CancellationToken)"/>).</summary>
    /// <param name="client">The client.</param>
    /// <param name="path">The node.</param>
    /// <param name="onChange">Called (one call at a time) with each new value.</param>
    public DataWatch(ZooKeeperClient client, string path, Func<NodeData?, ValueTask>? onChange = null)
        : base(client, path, onChange)
    {
    }

    /// <summary>Creates and starts a data watch, returning once the first value is known.</summary>
    public static async Task<DataWatch> StartAsync(ZooKeeperClient client, string path, Func<NodeData?, ValueTask>? onChange = null, CancellationToken cancellationToken = default)
    {
        var watch = new DataWatch(client, path, onChange);
        try
        {
            await watch.StartAsync(cancellationToken).ConfigureAwait(false);
            return watch;
        }
        catch
        {
            await watch.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc/>
    protected override async Task<NodeData?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try { return await Client.GetDataAsync(Path, Watcher, cancellationToken).ConfigureAwait(false); }
            catch (NoNodeException)
            {
                // Watch for its creation; if it appeared in between, read it again.
                if (await Client.ExistsAsync(Path, Watcher, cancellationToken).ConfigureAwait(false) is null) return null;
            }
        }
    }

    /// <inheritdoc/>
    protected override bool Differs(NodeData? previous, NodeData? next) =>
        previous is null != next is null
        || (previous is not null && next is not null && (previous.Stat.Mzxid != next.Stat.Mzxid || previous.Stat.Czxid != next.Stat.Czxid));
}
