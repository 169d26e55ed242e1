namespace Kiel.ZooKeeper.Recipes;

/// <summary>
/// Follows one node's children (like kazoo's ChildrenWatch): publishes the sorted child names now and after every
/// change (an empty list while the node does not exist). It re-arms itself and survives reconnects and expiries.
/// </summary>
public sealed class ChildrenWatch : RearmingWatch<IReadOnlyList<string>>
{
    /// <summary>Creates the watch; call <see cref="RearmingWatch{T}.StartAsync"/> (or use <see cref="StartAsync(ZooKeeperClient, string, Func{IReadOnlyList{string}, ValueTask}?, CancellationToken)"/>).</summary>
    /// <param name="client">The client.</param>
    /// <param name="path">The parent node.</param>
    /// <param name="onChange">Called (one call at a time) with each new list.</param>
    public ChildrenWatch(ZooKeeperClient client, string path, Func<IReadOnlyList<string>, ValueTask>? onChange = null)
        : base(client, path, onChange)
    {
    }

    /// <summary>Creates and starts a children watch, returning once the first list is known.</summary>
    public static async Task<ChildrenWatch> StartAsync(ZooKeeperClient client, string path, Func<IReadOnlyList<string>, ValueTask>? onChange = null, CancellationToken cancellationToken = default)
    {
        var watch = new ChildrenWatch(client, path, onChange);
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
    protected override async Task<IReadOnlyList<string>> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                var children = await Client.GetChildrenAsync(Path, Watcher, cancellationToken).ConfigureAwait(false);
                return [.. children.Order(StringComparer.Ordinal)];
            }
            catch (NoNodeException)
            {
                if (await Client.ExistsAsync(Path, Watcher, cancellationToken).ConfigureAwait(false) is null) return [];
            }
        }
    }

    /// <inheritdoc/>
    protected override bool Differs(IReadOnlyList<string> previous, IReadOnlyList<string> next) => !previous.SequenceEqual(next);
}
