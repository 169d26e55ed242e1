using System.Runtime.CompilerServices;
using Kiel.ZooKeeper.Recipes;

namespace Kiel.ZooKeeper;

/// <summary>Watches as <see cref="IAsyncEnumerable{T}"/> streams that re-arm themselves (built on <see cref="DataWatch"/> and <see cref="ChildrenWatch"/>).</summary>
public static class ZooKeeperClientWatchExtensions
{
    /// <summary>The node's data now and after every change (null while it does not exist), until the token fires or the client closes.</summary>
    public static async IAsyncEnumerable<NodeData?> WatchDataAsync(this ZooKeeperClient client, string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var watch = await DataWatch.StartAsync(client, path, null, cancellationToken).ConfigureAwait(false);
        await foreach (var value in watch.ChangesAsync(cancellationToken).ConfigureAwait(false))
            yield return value;
    }

    /// <summary>The node's sorted children now and after every change (empty while it does not exist), until the token fires or the client closes.</summary>
    public static async IAsyncEnumerable<IReadOnlyList<string>> WatchChildrenAsync(this ZooKeeperClient client, string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var watch = await ChildrenWatch.StartAsync(client, path, null, cancellationToken).ConfigureAwait(false);
        await foreach (var value in watch.ChangesAsync(cancellationToken).ConfigureAwait(false))
            yield return value;
    }
}
