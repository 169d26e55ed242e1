using Microsoft.Extensions.Logging;

namespace Kiel;

/// <summary>
/// Settings of a <c>GroupedConsumer</c>: kiel's constructor arguments and more. Immutable; call
/// <see cref="Validate"/> (the consumer does) to get a clear error for a bad setting.
/// </summary>
public sealed record GroupedConsumerOptions
{
    /// <summary>Bootstrap brokers as <c>host</c> or <c>host:port</c> (port 9092 by default), tried in order. Required.</summary>
    public IReadOnlyList<string> Brokers { get; init; } = [];

    /// <summary>The group name: members with the same name share the partitions. Required.</summary>
    public string Group { get; init; } = "";

    /// <summary>
    /// The ZooKeeper ensemble as <c>host:port</c> entries (port 2181 by default); the last may carry a chroot
    /// suffix (<c>host:2181/chroot</c>). Default: <c>127.0.0.1:2181</c>.
    /// </summary>
    public IReadOnlyList<string> ZooKeeperHosts { get; init; } = ["127.0.0.1:2181"];

    /// <summary>The allocator every member runs. Default: <see cref="Allocators.Naive"/>, as kiel.</summary>
    public PartitionAllocator? Allocator { get; init; }

    /// <summary>Commit after every consume and on wind-down. Default true, as kiel.</summary>
    public bool Autocommit { get; init; } = true;

    /// <summary>How long a broker may hold a fetch that has not yet reached <see cref="MinBytes"/>. Default 1 s, as kiel.</summary>
    public TimeSpan MaxWaitTime { get; init; } = TimeSpan.FromMilliseconds(1000);

    /// <summary>The least data a fetch waits for. Default 1 byte, as kiel.</summary>
    public int MinBytes { get; init; } = 1;

    /// <summary>The most data one fetch asks a broker for, split among its partitions as kiel does. Default 1 MiB.</summary>
    public int MaxBytes { get; init; } = 1048576;

    /// <summary>
    /// Where a partition starts when the group has no committed offset for it (or the offset is out of range)
    /// and <c>ConsumeAsync</c> was given no start: <see cref="OffsetResetPolicy.Latest"/> by default, as kiel's
    /// SingleConsumer (kiel's GroupedConsumer hung, L1).
    /// </summary>
    public OffsetResetPolicy ResetPolicy { get; init; } = OffsetResetPolicy.Latest;

    /// <summary>The ZooKeeper session timeout: a crashed member's partitions move after about this long. Default 10 s, as kazoo.</summary>
    public TimeSpan ZooKeeperSessionTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long <c>ConnectAsync</c> waits for the ZooKeeper ensemble before it fails. Default 15 s.</summary>
    public TimeSpan ZooKeeperConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The metadata stored with every commit. Null (the default) means kiel's <c>committed by &lt;Name&gt;</c>.</summary>
    public string? CommitMetadata { get; init; }

    /// <summary>
    /// Turn off the exclusive-ownership claims (<c>/kiel/groups/&lt;group&gt;/owners/…</c>) so that the group can be
    /// shared with Python kiel members, which do not claim. Then, as in kiel, two members may briefly read the same
    /// partition during a rebalance. Default false.
    /// </summary>
    public bool KielCompatible { get; init; }

    /// <summary>How often the cluster metadata is refreshed to find partitions that were added to a topic. Default 30 s.</summary>
    public TimeSpan MetadataRefreshInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The first pause before a retriable coordinator request is repeated; it doubles up to 1 s. Default 100 ms.</summary>
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How many times a retriable offset request is tried before it fails. Default 10.</summary>
    public int MaxRetries { get; init; } = 10;

    /// <summary>The bound on <c>WindDownAsync</c> and <c>DisposeAsync</c>. Default 10 s.</summary>
    public TimeSpan WindDownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The client id sent to brokers. Default <c>kiel</c>, as kiel.</summary>
    public string ClientId { get; init; } = "kiel";

    /// <summary>Where logs go. Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// The clock of the metadata refresh loop, commit and offset-fetch backoff, claim retries, the lease check, the
    /// wind-down bound, ZooKeeper's timers and the cluster's. Default <see cref="TimeProvider.System"/>; tests pass a fake one.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The ZooKeeper connect string that <see cref="ZooKeeperHosts"/> stands for.</summary>
    public string ZooKeeperConnectString => string.Join(',', ZooKeeperHosts);

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ArgumentException">A setting is missing or out of range; the message names it and says how to fix it.</exception>
    public void Validate()
    {
        if (TimeProvider is null)
            throw new ArgumentException("TimeProvider is null: leave it unset for TimeProvider.System.", nameof(TimeProvider));
        if (Brokers is null || Brokers.Count == 0)
            throw new ArgumentException("No brokers: give at least one bootstrap broker as host or host:port, for example 127.0.0.1:9092.", nameof(Brokers));
        foreach (var b in Brokers)
            if (!IsHostPort(b, allowChroot: false))
                throw new ArgumentException($"Broker '{b}' is not host or host:port with a port from 1 to 65535.", nameof(Brokers));
        if (string.IsNullOrWhiteSpace(Group))
            throw new ArgumentException("The group name is empty: members with the same group name share the partitions, so give one.", nameof(Group));
        if (Group.Contains('/'))
            throw new ArgumentException($"The group name '{Group}' contains '/', which cannot appear in a ZooKeeper node name.", nameof(Group));
        ParseZooKeeperHosts(ZooKeeperHosts);
        if (MinBytes < 0) throw new ArgumentException($"MinBytes is {MinBytes}; it must be 0 or more.", nameof(MinBytes));
        if (MaxBytes <= 0) throw new ArgumentException($"MaxBytes is {MaxBytes}; it must be more than 0.", nameof(MaxBytes));
        if (MaxWaitTime < TimeSpan.Zero || MaxWaitTime.TotalMilliseconds > int.MaxValue)
            throw new ArgumentException($"MaxWaitTime is {MaxWaitTime}; it must be 0 or more and fit in an int of milliseconds.", nameof(MaxWaitTime));
        if (ZooKeeperSessionTimeout < TimeSpan.FromMilliseconds(100) || ZooKeeperSessionTimeout.TotalMilliseconds > int.MaxValue)
            throw new ArgumentException($"ZooKeeperSessionTimeout is {ZooKeeperSessionTimeout}; it must be at least 100 ms (the server clamps it to 2 to 20 ticks).", nameof(ZooKeeperSessionTimeout));
        if (ZooKeeperConnectTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"ZooKeeperConnectTimeout is {ZooKeeperConnectTimeout}; it must be positive.", nameof(ZooKeeperConnectTimeout));
        if (MetadataRefreshInterval <= TimeSpan.Zero)
            throw new ArgumentException($"MetadataRefreshInterval is {MetadataRefreshInterval}; it must be positive.", nameof(MetadataRefreshInterval));
        if (RetryBackoff < TimeSpan.Zero)
            throw new ArgumentException($"RetryBackoff is {RetryBackoff}; it must be 0 or more.", nameof(RetryBackoff));
        if (MaxRetries < 0) throw new ArgumentException($"MaxRetries is {MaxRetries}; it must be 0 or more.", nameof(MaxRetries));
        if (WindDownTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"WindDownTimeout is {WindDownTimeout}; it must be positive.", nameof(WindDownTimeout));
        if (string.IsNullOrEmpty(ClientId)) throw new ArgumentException("ClientId is empty.", nameof(ClientId));
    }

    /// <summary>Parses the ZooKeeper hosts into endpoints and an optional chroot.</summary>
    /// <exception cref="ArgumentException">The list is empty or an entry does not parse.</exception>
    internal static (IReadOnlyList<(string Host, int Port)> Endpoints, string? Chroot) ParseZooKeeperHosts(IReadOnlyList<string>? hosts)
    {
        if (hosts is null || hosts.Count == 0)
            throw new ArgumentException("No ZooKeeper hosts: give at least one as host:port, for example 127.0.0.1:2181.", nameof(ZooKeeperHosts));
        // Accept both a list and a single connect string "a:1,b:2/chroot", as kazoo does.
        var entries = hosts.SelectMany(h => (h ?? "").Split(',')).ToArray();
        string? chroot = null;
        var endpoints = new List<(string, int)>();
        for (var i = 0; i < entries.Length; i++)
        {
            var entry = entries[i].Trim();
            var slash = entry.IndexOf('/');
            if (slash >= 0)
            {
                if (i != entries.Length - 1)
                    throw new ArgumentException($"ZooKeeper string '{string.Join(',', hosts)}' has a chroot ('{entry[slash..]}') before its last host; only the last entry may carry one.", nameof(ZooKeeperHosts));
                chroot = entry[slash..];
                entry = entry[..slash];
                if (chroot.Length < 2 || chroot.EndsWith('/') || chroot.Contains("//", StringComparison.Ordinal))
                    throw new ArgumentException($"ZooKeeper chroot '{chroot}' is not an absolute path such as /apps/kiel.", nameof(ZooKeeperHosts));
            }
            if (!TrySplitHostPort(entry, 2181, out var host, out var port))
                throw new ArgumentException($"ZooKeeper host '{entries[i]}' in '{string.Join(',', hosts)}' is not host or host:port with a port from 1 to 65535.", nameof(ZooKeeperHosts));
            endpoints.Add((host, port));
        }
        return (endpoints, chroot);
    }

    private static bool IsHostPort(string? text, bool allowChroot) => text is not null && !(!allowChroot && text.Contains('/')) && TrySplitHostPort(text.Trim(), 9092, out _, out _);

    internal static bool TrySplitHostPort(string text, int defaultPort, out string host, out int port)
    {
        host = "";
        port = defaultPort;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var colon = text.LastIndexOf(':');
        // A bracketed IPv6 literal keeps its colons: [::1]:9092.
        if (text.StartsWith('[')) colon = text.IndexOf("]:", StringComparison.Ordinal) is var c and >= 0 ? c + 1 : -1;
        else if (text.IndexOf(':') != colon) return false;
        if (colon < 0) { host = text; return !text.Contains(' '); }
        host = text[..colon];
        return host.Length > 0 && !host.Contains(' ')
            && int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port)
            && port is > 0 and <= 65535;
    }
}
