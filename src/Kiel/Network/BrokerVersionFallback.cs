using System.Collections.Frozen;
using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>
/// What each old Kafka release supports, for brokers that predate ApiVersions (0.8.x and 0.9.x close the
/// connection or stay silent when asked) or when ApiVersions requests are switched off. The caller names
/// the release in <see cref="ConnectionOptions.BrokerVersionFallback"/>.
/// </summary>
internal static class BrokerVersionFallback
{
    private static ApiKey K(short key) => (ApiKey)key;

    private static Dictionary<ApiKey, ApiVersionRange> With(Dictionary<ApiKey, ApiVersionRange> baseTable, params (short Key, short Min, short Max)[] changes)
    {
        var copy = new Dictionary<ApiKey, ApiVersionRange>(baseTable);
        foreach (var (key, min, max) in changes) copy[K(key)] = new ApiVersionRange(min, max);
        return copy;
    }

    private static readonly FrozenDictionary<string, FrozenDictionary<ApiKey, ApiVersionRange>> Releases = Build();

    private static FrozenDictionary<string, FrozenDictionary<ApiKey, ApiVersionRange>> Build()
    {
        // Produce 0, Fetch 1, ListOffsets 2, Metadata 3, OffsetCommit 8, OffsetFetch 9, FindCoordinator 10,
        // JoinGroup 11, Heartbeat 12, LeaveGroup 13, SyncGroup 14, DescribeGroups 15, ListGroups 16,
        // SaslHandshake 17, ApiVersions 18, CreateTopics 19, DeleteTopics 20.
        var v080 = With([], (0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0));
        var v081 = With(v080, (8, 0, 0), (9, 0, 0));
        var v082 = With(v081, (8, 0, 1), (9, 0, 1), (10, 0, 0));
        var v090 = With(v082, (0, 0, 1), (1, 0, 1), (8, 0, 2), (11, 0, 0), (12, 0, 0), (13, 0, 0), (14, 0, 0), (15, 0, 0), (16, 0, 0));
        var v0100 = With(v090, (0, 0, 2), (1, 0, 2), (3, 0, 1), (17, 0, 0), (18, 0, 0));
        var v0101 = With(v0100, (1, 0, 3), (2, 0, 1), (3, 0, 2), (11, 0, 1), (19, 0, 0), (20, 0, 0));
        var v0102 = With(v0101, (9, 0, 2), (19, 0, 1));
        var v0110 = With(v0102, (0, 0, 3), (1, 0, 5), (2, 0, 2), (3, 0, 4), (8, 0, 3), (9, 0, 3), (10, 0, 1),
            (11, 0, 2), (12, 0, 1), (13, 0, 1), (14, 0, 1), (15, 0, 1), (16, 0, 1), (18, 0, 1), (19, 0, 2), (20, 0, 1),
            (21, 0, 0), (22, 0, 0), (23, 0, 0), (24, 0, 0), (25, 0, 0), (26, 0, 0), (28, 0, 0), (32, 0, 0));
        return new Dictionary<string, FrozenDictionary<ApiKey, ApiVersionRange>>
        {
            ["0.8.0"] = v080.ToFrozenDictionary(),
            ["0.8.1"] = v081.ToFrozenDictionary(),
            ["0.8.2"] = v082.ToFrozenDictionary(),
            ["0.9.0"] = v090.ToFrozenDictionary(),
            ["0.10.0"] = v0100.ToFrozenDictionary(),
            ["0.10.1"] = v0101.ToFrozenDictionary(),
            ["0.10.2"] = v0102.ToFrozenDictionary(),
            ["0.11.0"] = v0110.ToFrozenDictionary(),
        }.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The release names in the table, oldest first.</summary>
    public static IReadOnlyList<string> KnownReleases { get; } = ["0.8.0", "0.8.1", "0.8.2", "0.9.0", "0.10.0", "0.10.1", "0.10.2", "0.11.0"];

    /// <summary>
    /// Finds a release. Accepts <c>0.9</c>, <c>0.9.0</c> and <c>0.9.0.1</c> (the fourth part is a patch level).
    /// </summary>
    public static bool TryGet(string? release, [NotNullWhen(true)] out IReadOnlyDictionary<ApiKey, ApiVersionRange>? versions)
    {
        versions = null;
        if (string.IsNullOrWhiteSpace(release)) return false;
        var parts = release.Trim().Split('.');
        if (parts.Length < 2 || parts.Any(p => p.Length == 0 || !p.All(char.IsAsciiDigit))) return false;
        var key = parts[0] + "." + parts[1] + "." + (parts.Length > 2 ? parts[2] : "0");
        if (!Releases.TryGetValue(key, out var table)) return false;
        versions = table;
        return true;
    }

    /// <summary>Finds a release or throws an exception that lists the known ones.</summary>
    public static IReadOnlyDictionary<ApiKey, ApiVersionRange> Get(string release) =>
        TryGet(release, out var v) ? v : throw new ArgumentException(
            $"BrokerVersionFallback '{release}' is not a known Kafka release; use one of {string.Join(", ", KnownReleases)} (brokers from 0.10.0 on answer ApiVersions and need no fallback).",
            nameof(release));
}
