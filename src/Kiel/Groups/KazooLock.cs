using Kiel.ZooKeeper;

namespace Kiel.Groups;

/// <summary>
/// An exclusive lock that kazoo's <c>Lock</c> recipe (used by kiel's SharedSet) honours: each contender creates an
/// ephemeral sequential child named <c>&lt;32 hex&gt;__lock__&lt;10 digits&gt;</c>, the lowest sequence holds the lock, and
/// every other contender waits for the deletion of the one just before it.
/// </summary>
internal static class KazooLock
{
    private const string NodeName = "__lock__";

    /// <summary>Acquires the lock at <paramref name="path"/> and returns the handle that releases it.</summary>
    public static async Task<IAsyncDisposable> AcquireAsync(ZooKeeperClient zk, string path, CancellationToken cancellationToken)
    {
        await zk.EnsurePathAsync(path, cancellationToken: cancellationToken).ConfigureAwait(false);
        var prefix = Guid.NewGuid().ToString("N") + NodeName;
        string node;
        try
        {
            node = await zk.CreateAsync(path + "/" + prefix, default, CreateMode.EphemeralSequential, cancellationToken: CancellationToken.None).ConfigureAwait(false);
        }
        catch (ConnectionLossException)
        {
            // The create may have been applied: kazoo finds its node again by the unique prefix.
            var existing = (await zk.GetChildrenAsync(path, null, cancellationToken).ConfigureAwait(false)).FirstOrDefault(c => c.StartsWith(prefix, StringComparison.Ordinal));
            if (existing is null) throw;
            node = path + "/" + existing;
        }
        var name = node[(path.Length + 1)..];
        try
        {
            while (true)
            {
                var children = await zk.GetChildrenAsync(path, null, cancellationToken).ConfigureAwait(false);
                var contenders = children.Select(c => (Name: c, Seq: Sequence(c))).Where(c => c.Seq is not null).OrderBy(c => c.Seq!.Value).ToList();
                var index = contenders.FindIndex(c => c.Name == name);
                if (index < 0) throw new KielException($"The lock node {node} vanished while waiting for the lock (session lost?).");
                if (index == 0) return new Handle(zk, node);
                var predecessor = path + "/" + contenders[index - 1].Name;
                var gone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var stat = await zk.ExistsAsync(predecessor, _ => gone.TrySetResult(), cancellationToken).ConfigureAwait(false);
                if (stat is null) continue;
                // The watch also fires on session events; re-checking the children is always safe.
                await gone.Task.WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        catch
        {
            try { await zk.DeleteAsync(node, -1, CancellationToken.None).ConfigureAwait(false); }
            catch (ZooKeeperException) { }
            throw;
        }
    }

    // kazoo's pattern: "__lock__" followed by exactly ten (possibly signed) digits at the end.
    private static long? Sequence(string child)
    {
        if (child.Length < NodeName.Length + 10) return null;
        var digits = child.AsSpan(child.Length - 10);
        var signed = child.Length >= NodeName.Length + 11 && child[child.Length - 11] == '-';
        var marker = child.Length - 10 - (signed ? 1 : 0) - NodeName.Length;
        if (marker < 0 || !child.AsSpan(marker, NodeName.Length).SequenceEqual(NodeName)) return null;
        foreach (var c in digits) if (c is < '0' or > '9') return null;
        var value = long.Parse(digits, provider: System.Globalization.CultureInfo.InvariantCulture);
        return signed ? -value : value;
    }

    private sealed class Handle(ZooKeeperClient zk, string node) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try { await zk.DeleteAsync(node, -1, CancellationToken.None).ConfigureAwait(false); }
            catch (NoNodeException) { }
        }
    }
}
