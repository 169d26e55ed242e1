using System.Globalization;
using System.Text;
using Kiel.ZooKeeper;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.Groups;

/// <summary>
/// The offsets kiel committed with OffsetCommit v0, which a ZooKeeper-mode broker keeps in its own ZooKeeper at
/// <c>/consumers/&lt;group&gt;/offsets/&lt;topic&gt;/&lt;partition&gt;</c> as decimal text (spec §9.1). Read to carry a
/// Python group's progress over; written so that Python members of a mixed group see Kiel's.
/// </summary>
internal sealed class ZooKeeperOffsets : IAsyncDisposable
{
    private readonly ZooKeeperClient _zk;
    private readonly bool _owned;

    private ZooKeeperOffsets(ZooKeeperClient zk, bool owned)
    {
        _zk = zk;
        _owned = owned;
    }

    /// <summary>Uses a client that someone else owns (the allocator's) and does not dispose it.</summary>
    public static ZooKeeperOffsets Shared(ZooKeeperClient zk) => new(zk, owned: false);

    /// <summary>Connects a client of its own to <paramref name="connectString"/> (with its chroot, if any).</summary>
    public static async Task<ZooKeeperOffsets> ConnectAsync(string connectString, TimeSpan sessionTimeout, TimeSpan connectTimeout,
        Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory, TimeProvider time, CancellationToken cancellationToken,
        Func<ZooKeeperClientOptions, ZooKeeperClientOptions>? secure = null)
    {
        var options = new ZooKeeperClientOptions
        {
            ConnectString = connectString,
            SessionTimeout = sessionTimeout,
            ConnectionWaitTimeout = connectTimeout,
            LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance,
            TimeProvider = time,
        };
        var zk = new ZooKeeperClient(secure is null ? options : secure(options));
        try
        {
            await zk.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await zk.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new ZooKeeperOffsets(zk, owned: true);
    }

    /// <summary>The znode of one partition's offset, as Kafka's ZooKeeper-based offset storage lays it out.</summary>
    public static string PathOf(string group, TopicPartition tp) => $"/consumers/{group}/offsets/{tp.Topic}/{tp.Partition.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The stored offset, or null when the znode does not exist.</summary>
    /// <exception cref="FormatException">The znode holds something other than a decimal offset.</exception>
    public async Task<long?> ReadAsync(string group, TopicPartition tp, CancellationToken cancellationToken)
    {
        var path = PathOf(group, tp);
        NodeData data;
        try
        {
            data = await _zk.GetDataAsync(path, null, cancellationToken).ConfigureAwait(false);
        }
        catch (NoNodeException)
        {
            return null;
        }
        return Parse(path, data.Data);
    }

    /// <summary>Parses a znode's text as Kafka writes it (decimal, possibly with surrounding whitespace).</summary>
    /// <exception cref="FormatException">Not a non-negative decimal offset.</exception>
    public static long Parse(string path, ReadOnlySpan<byte> data)
    {
        var text = Encoding.UTF8.GetString(data).Trim();
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var offset)) return offset;
        throw new FormatException($"{path} holds '{(text.Length > 40 ? text[..40] + "..." : text)}', not a decimal offset.");
    }

    /// <summary>Writes the offset as decimal text, creating the znode and its parents when missing.</summary>
    public async Task WriteAsync(string group, TopicPartition tp, long offset, CancellationToken cancellationToken)
    {
        var path = PathOf(group, tp);
        var data = Encoding.ASCII.GetBytes(offset.ToString(CultureInfo.InvariantCulture));
        try
        {
            await _zk.SetDataAsync(path, data, -1, cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (NoNodeException)
        {
        }
        await _zk.EnsurePathAsync(path[..path.LastIndexOf('/')], null, cancellationToken).ConfigureAwait(false);
        try
        {
            await _zk.CreateAsync(path, data, CreateMode.Persistent, null, null, cancellationToken).ConfigureAwait(false);
        }
        catch (NodeExistsException)
        {
            await _zk.SetDataAsync(path, data, -1, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every topic and partition with a stored offset for the group: topic → partition → offset.</summary>
    public async Task<SortedDictionary<string, SortedDictionary<int, long>>> ReadAllAsync(string group, CancellationToken cancellationToken)
    {
        var result = new SortedDictionary<string, SortedDictionary<int, long>>(StringComparer.Ordinal);
        IReadOnlyList<string> topics;
        try
        {
            topics = await _zk.GetChildrenAsync($"/consumers/{group}/offsets", null, cancellationToken).ConfigureAwait(false);
        }
        catch (NoNodeException)
        {
            return result;
        }
        foreach (var topic in topics)
        {
            IReadOnlyList<string> partitions;
            try
            {
                partitions = await _zk.GetChildrenAsync($"/consumers/{group}/offsets/{topic}", null, cancellationToken).ConfigureAwait(false);
            }
            catch (NoNodeException)
            {
                continue;
            }
            foreach (var p in partitions)
            {
                if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var partition)) continue;
                if (await ReadAsync(group, new TopicPartition(topic, partition), cancellationToken).ConfigureAwait(false) is { } offset)
                {
                    if (!result.TryGetValue(topic, out var map)) result[topic] = map = [];
                    map[partition] = offset;
                }
            }
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (_owned) await _zk.DisposeAsync().ConfigureAwait(false);
    }
}
