using System.Collections.Frozen;
using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>
/// The versions one broker supports, as learned from ApiVersions (or from a configured fallback), and the
/// choice of a version per request: the highest version both sides support, capped by
/// <see cref="KielApiVersions"/>.
/// </summary>
internal sealed class ApiVersionTable
{
    private readonly FrozenDictionary<ApiKey, ApiVersionRange> _broker;

    /// <summary>Creates a table from what a broker advertised.</summary>
    public ApiVersionTable(IEnumerable<KeyValuePair<ApiKey, ApiVersionRange>> brokerRanges, BrokerEndpoint? broker = null, string? source = null)
    {
        _broker = brokerRanges.ToFrozenDictionary();
        Broker = broker;
        Source = source ?? "ApiVersions";
    }

    /// <summary>The broker these versions belong to.</summary>
    public BrokerEndpoint? Broker { get; }

    /// <summary>Where the ranges came from: <c>ApiVersions vN</c> or <c>fallback 0.9.0</c>.</summary>
    public string Source { get; }

    /// <summary>Every API the broker offers, with its range.</summary>
    public IReadOnlyDictionary<ApiKey, ApiVersionRange> BrokerRanges => _broker;

    /// <summary>The broker's range for <paramref name="apiKey"/>, or null when it does not offer the API.</summary>
    public ApiVersionRange? GetBrokerRange(ApiKey apiKey) => _broker.TryGetValue(apiKey, out var r) ? r : null;

    /// <summary>True when some version of <paramref name="apiKey"/> within Kiel's range is usable.</summary>
    public bool Supports(ApiKey apiKey) => TryChoose(apiKey, out _);

    /// <summary>True when some version of <paramref name="apiKey"/> in [<paramref name="minVersion"/>, <paramref name="maxVersion"/>] is usable.</summary>
    public bool Supports(ApiKey apiKey, short minVersion, short maxVersion) => TryChoose(apiKey, minVersion, maxVersion, out _);

    /// <summary>Chooses the highest version within Kiel's range that the broker supports.</summary>
    public bool TryChoose(ApiKey apiKey, out short version)
    {
        version = -1;
        return KielApiVersions.Get(apiKey) is { } ours && TryChoose(apiKey, ours.Min, ours.Max, out version);
    }

    /// <summary>
    /// Chooses the highest version in [<paramref name="ourMin"/>, <paramref name="ourMax"/>] (capped by
    /// <see cref="KielApiVersions"/>) that the broker supports.
    /// </summary>
    public bool TryChoose(ApiKey apiKey, short ourMin, short ourMax, out short version)
    {
        version = -1;
        var range = new ApiVersionRange(ourMin, ourMax);
        if (KielApiVersions.Get(apiKey) is { } cap) range = range.Intersect(cap);
        if (!_broker.TryGetValue(apiKey, out var theirs)) return false;
        var common = range.Intersect(theirs);
        if (common.IsEmpty) return false;
        version = common.Max;
        return true;
    }

    /// <summary>Chooses a version within Kiel's range, or throws <see cref="UnsupportedVersionException"/>.</summary>
    public short Choose(ApiKey apiKey)
    {
        var ours = KielApiVersions.Get(apiKey) ?? throw new ArgumentException($"Kiel has no supported version range for {apiKey} (key {(short)apiKey}); pass one explicitly.", nameof(apiKey));
        return Choose(apiKey, ours.Min, ours.Max);
    }

    /// <summary>
    /// Chooses the highest common version in [<paramref name="ourMin"/>, <paramref name="ourMax"/>], or throws an
    /// <see cref="UnsupportedVersionException"/> naming the API and both ranges.
    /// </summary>
    public short Choose(ApiKey apiKey, short ourMin, short ourMax)
    {
        if (TryChoose(apiKey, ourMin, ourMax, out var v)) return v;
        var range = new ApiVersionRange(ourMin, ourMax);
        if (KielApiVersions.Get(apiKey) is { } cap && !range.Intersect(cap).IsEmpty) range = range.Intersect(cap);
        throw new UnsupportedVersionException(apiKey, Broker, GetBrokerRange(apiKey), range);
    }

    /// <summary>A short description for logs: <c>Metadata v0-v12, Fetch v0-v16, ...</c>.</summary>
    public override string ToString() =>
        string.Join(", ", _broker.OrderBy(p => (short)p.Key).Select(p => $"{(Enum.IsDefined(p.Key) ? p.Key.ToString() : "key" + (short)p.Key)} {p.Value}"));
}
