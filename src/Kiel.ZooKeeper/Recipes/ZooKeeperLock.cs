using System.Text;
using System.Text.RegularExpressions;

namespace Kiel.ZooKeeper.Recipes;

/// <summary>
/// kazoo's Lock recipe, node for node, so a kazoo process and a Kiel process exclude each other. Each contender
/// creates an ephemeral sequential child <c>&lt;path&gt;/&lt;32 hex&gt;__lock__&lt;10-digit sequence&gt;</c> (data: the
/// identifier) and holds the lock when no contender has a smaller sequence; otherwise it watches the one just before it.
/// </summary>
/// <remarks>
/// Named <c>ZooKeeperLock</c> rather than kazoo's <c>Lock</c> so it does not clash with <see cref="System.Threading.Lock"/>.
/// The uuid prefix lets a contender find its own node after a connection loss hid the create's reply (kazoo and Curator do the same).
/// An expired session loses the lock: <see cref="IsAcquired"/> stays true until released, so watch the session state as kazoo advises.
/// </remarks>
public sealed partial class ZooKeeperLock
{
    internal const string NodeName = "__lock__";
    private readonly ZooKeeperClient _client;
    private readonly byte[] _data;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _node;

    /// <summary>Creates a lock handle at <paramref name="path"/>.</summary>
    /// <param name="client">The client.</param>
    /// <param name="path">The lock node (kiel's SharedSet uses <c>&lt;set path&gt;/lock</c>).</param>
    /// <param name="identifier">Stored as the contender node's data (kazoo's identifier).</param>
    public ZooKeeperLock(ZooKeeperClient client, string path, string? identifier = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ZooKeeperPath.Validate(path);
        _client = client;
        Path = path;
        _data = Encoding.UTF8.GetBytes(identifier ?? "");
        Prefix = Guid.NewGuid().ToString("N") + NodeName;
    }

    /// <summary>The lock node.</summary>
    public string Path { get; }

    /// <summary>This contender's node-name prefix, <c>&lt;uuid hex&gt;__lock__</c>.</summary>
    public string Prefix { get; }

    /// <summary>True between a successful acquire and the release.</summary>
    public bool IsAcquired { get; private set; }

    [GeneratedRegex("(?:__lock__)(-?[0-9]{10})$", RegexOptions.CultureInvariant)]
    private static partial Regex ContenderPattern();

    /// <summary>Waits for the lock.</summary>
    /// <param name="timeout">Give up after this long (null waits until the token fires).</param>
    /// <param name="cancellationToken">Cancels the wait; the contender node is removed.</param>
    /// <returns>True when acquired; false on timeout.</returns>
    public Task<bool> AcquireAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => AcquireCoreAsync(blocking: true, timeout, cancellationToken);

    /// <summary>Takes the lock only when it is free right now.</summary>
    public Task<bool> TryAcquireAsync(CancellationToken cancellationToken = default)
        => AcquireCoreAsync(blocking: false, null, cancellationToken);

    private async Task<bool> AcquireCoreAsync(bool blocking, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsAcquired) return true;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (timeout is { } t) cts.CancelAfter(t);
            var gotten = false;
            try
            {
                gotten = await InnerAcquireAsync(blocking, cts.Token).ConfigureAwait(false);
                IsAcquired = gotten;
                return gotten;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return false;
            }
            finally
            {
                if (!gotten) await CleanupAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<bool> InnerAcquireAsync(bool blocking, CancellationToken token)
    {
        var createTried = false;
        var attempt = 0;
        while (true)
        {
            token.ThrowIfCancellationRequested();
            try
            {
                await _client.EnsurePathAsync(Path, null, token).ConfigureAwait(false);
                string? node = null;
                if (createTried) node = await FindNodeAsync(token).ConfigureAwait(false);
                if (node is null)
                {
                    createTried = true;
                    var created = await _client.CreateAsync(Path + "/" + Prefix, _data, CreateMode.EphemeralSequential, null, null, token).ConfigureAwait(false);
                    node = created[(Path.Length + 1)..];
                }
                _node = node;
                while (true)
                {
                    var predecessor = await GetPredecessorAsync(node, token).ConfigureAwait(false);
                    if (predecessor is null) return true;
                    if (!blocking) return false;
                    var wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    void OnState(object? s, SessionStateChange c) { if (c.State != SessionState.Connecting) wake.TrySetResult(); }
                    _client.StateChanged += OnState;
                    try
                    {
                        if (await _client.ExistsAsync(Path + "/" + predecessor, _ => wake.TrySetResult(), token).ConfigureAwait(false) is null) continue;
                        await wake.Task.WaitAsync(token).ConfigureAwait(false);
                    }
                    finally
                    {
                        _client.StateChanged -= OnState;
                    }
                }
            }
            catch (Exception e) when (e is ConnectionLossException or SessionExpiredException or OurNodeVanishedException)
            {
                // Our node may have gone with an expired session: search for it, and create it again when it is missing.
                if (++attempt > 1000) throw;
                await Task.Delay(Math.Min(20 * attempt, 500), token).ConfigureAwait(false);
            }
        }
    }

    private sealed class OurNodeVanishedException : Exception;

    private async Task<string?> FindNodeAsync(CancellationToken token)
    {
        foreach (var child in await _client.GetChildrenAsync(Path, null, token).ConfigureAwait(false))
            if (child.StartsWith(Prefix, StringComparison.Ordinal)) return child;
        return null;
    }

    /// <summary>The contender just before <paramref name="node"/> in kazoo's order (sequence text), or null when none is.</summary>
    private async Task<string?> GetPredecessorAsync(string node, CancellationToken token)
    {
        var children = await _client.GetChildrenAsync(Path, null, token).ConfigureAwait(false);
        var ordered = Order(children, out var found, node);
        if (!found) throw new OurNodeVanishedException();
        string? predecessor = null;
        foreach (var (name, _) in ordered)
        {
            if (name == node) break;
            predecessor = name;
        }
        return predecessor;
    }

    /// <summary>kazoo's contender order: names matching <c>__lock__</c> plus a 10-digit sequence, sorted by that sequence as text.</summary>
    internal static List<(string Name, string Sequence)> Order(IEnumerable<string> children, out bool containsNode, string? node = null)
    {
        containsNode = false;
        var list = new List<(string, string)>();
        foreach (var child in children)
        {
            if (child == node) containsNode = true;
            var m = ContenderPattern().Match(child);
            if (m.Success) list.Add((child, m.Groups[1].Value));
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Item2, b.Item2));
        return list;
    }

    /// <summary>The identifiers (node data) of the contenders, holder first.</summary>
    public async Task<IReadOnlyList<string>> GetContendersAsync(CancellationToken cancellationToken = default)
    {
        IReadOnlyList<string> children;
        try { children = await _client.GetChildrenAsync(Path, null, cancellationToken).ConfigureAwait(false); }
        catch (NoNodeException) { return []; }
        var result = new List<string>();
        foreach (var (name, _) in Order(children, out _))
        {
            try { result.Add(Encoding.UTF8.GetString((await _client.GetDataAsync(Path + "/" + name, null, cancellationToken).ConfigureAwait(false)).Data)); }
            catch (NoNodeException) { }
        }
        return result;
    }

    /// <summary>Releases the lock (deletes this contender's node). Releasing a lock not held does nothing.</summary>
    public async Task ReleaseAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_node is not null)
            {
                try { await _client.DeleteAsync(Path + "/" + _node, -1, cancellationToken).ConfigureAwait(false); }
                catch (NoNodeException) { }
                _node = null;
            }
            IsAcquired = false;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task CleanupAsync()
    {
        // Best effort, bounded: a node left behind vanishes with the session anyway.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            _node ??= await FindNodeAsync(cts.Token).ConfigureAwait(false);
            if (_node is not null) await _client.DeleteAsync(Path + "/" + _node, -1, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ZooKeeperException or OperationCanceledException) { }
        _node = null;
    }
}
