using System.Text.Json;

namespace Kiel.ZooKeeper.Recipes;

/// <summary>
/// kiel's SharedSet: a set of strings stored as one JSON array in one znode, changed under the kazoo-compatible
/// lock at <c>&lt;path&gt;/lock</c>, written only when the set really changes, and watched for changes.
/// </summary>
public sealed class SharedSet : IAsyncDisposable
{
    private readonly ZooKeeperClient _client;
    private readonly Func<IReadOnlySet<string>?, ValueTask>? _onChange;
    private readonly string? _identifier;
    private DataWatch? _watch;

    /// <summary>Creates the set; call <see cref="StartAsync"/> to watch it.</summary>
    /// <param name="client">The client.</param>
    /// <param name="path">The set's node.</param>
    /// <param name="onChange">Called with the set now and after every change (null while the node does not exist).</param>
    /// <param name="identifier">The lock contender identifier.</param>
    public SharedSet(ZooKeeperClient client, string path, Func<IReadOnlySet<string>?, ValueTask>? onChange = null, string? identifier = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ZooKeeperPath.Validate(path);
        _client = client;
        Path = path;
        _onChange = onChange;
        _identifier = identifier;
    }

    /// <summary>The set's node.</summary>
    public string Path { get; }

    /// <summary>The last value seen by the watch (null while the node does not exist or before start).</summary>
    public IReadOnlySet<string>? Current => _watch?.Current is { } d ? Decode(d.Data) : null;

    /// <summary>Ensures the node exists and starts watching; returns after the first value was delivered.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _client.EnsurePathAsync(Path, null, cancellationToken).ConfigureAwait(false);
        _watch = await DataWatch.StartAsync(_client, Path, d => _onChange is null ? ValueTask.CompletedTask : _onChange(d is null ? null : Decode(d.Data)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The set now and after every change, as a stream (null while the node does not exist).</summary>
    public async IAsyncEnumerable<IReadOnlySet<string>?> ChangesAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var watch = _watch ?? throw new InvalidOperationException("Call StartAsync first.");
        await foreach (var d in watch.ChangesAsync(cancellationToken).ConfigureAwait(false))
            yield return d is null ? null : Decode(d.Data);
    }

    /// <summary>Reads the set from ZooKeeper (empty when the node is missing or empty).</summary>
    public async Task<IReadOnlySet<string>> GetAsync(CancellationToken cancellationToken = default)
    {
        try { return Decode((await _client.GetDataAsync(Path, null, cancellationToken).ConfigureAwait(false)).Data); }
        catch (NoNodeException) { return new HashSet<string>(StringComparer.Ordinal); }
    }

    /// <summary>Adds items under the lock; writes only when the set changes. Returns true when it wrote.</summary>
    public Task<bool> AddItemsAsync(IEnumerable<string> items, CancellationToken cancellationToken = default)
        => ChangeAsync(items, add: true, cancellationToken);

    /// <summary>Removes items under the lock; writes only when the set changes. Returns true when it wrote.</summary>
    public Task<bool> RemoveItemsAsync(IEnumerable<string> items, CancellationToken cancellationToken = default)
        => ChangeAsync(items, add: false, cancellationToken);

    private async Task<bool> ChangeAsync(IEnumerable<string> items, bool add, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(items);
        var list = items.ToList();
        // One contender per change: a lock handle is one contender, and changes from this process must queue too.
        var contender = new ZooKeeperLock(_client, ZooKeeperPath.Combine(Path, "lock"), _identifier);
        if (!await contender.AcquireAsync(null, cancellationToken).ConfigureAwait(false))
            throw new OperationCanceledException(cancellationToken);
        try
        {
            await _client.EnsurePathAsync(Path, null, cancellationToken).ConfigureAwait(false);
            var current = await _client.GetDataAsync(Path, null, cancellationToken).ConfigureAwait(false);
            var set = new HashSet<string>(Decode(current.Data), StringComparer.Ordinal);
            var changed = false;
            foreach (var item in list) changed |= add ? set.Add(item) : set.Remove(item);
            if (!changed) return false;
            await _client.SetDataAsync(Path, Encode(set), current.Stat.Version, cancellationToken).ConfigureAwait(false);
            return true;
        }
        finally
        {
            await contender.ReleaseAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>kiel's encoding: a JSON array of strings (written sorted, so equal sets give equal bytes).</summary>
    public static byte[] Encode(IEnumerable<string> items) =>
        JsonSerializer.SerializeToUtf8Bytes(items.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray(), SharedSetJsonContext.Default.StringArray);

    /// <summary>Decodes the JSON array; empty data is the empty set.</summary>
    /// <exception cref="FormatException">The data is not a JSON array of strings.</exception>
    public static IReadOnlySet<string> Decode(ReadOnlySpan<byte> data)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        if (data.Trim(" \t\r\n"u8).IsEmpty) return set;
        string[]? items;
        try { items = JsonSerializer.Deserialize(data, SharedSetJsonContext.Default.StringArray); }
        catch (JsonException e) { throw new FormatException("The shared set's data is not a JSON array of strings.", e); }
        foreach (var item in items ?? [])
            set.Add(item ?? throw new FormatException("The shared set's JSON array holds a null."));
        return set;
    }

    /// <summary>Stops watching (the node stays).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_watch is not null) await _watch.DisposeAsync().ConfigureAwait(false);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class SharedSetJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
