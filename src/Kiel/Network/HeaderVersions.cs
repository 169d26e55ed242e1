using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>
/// Which request and response header versions go with an API version: the flexible versions of an API use
/// request header v2 and response header v1, except that ApiVersions responses always use header v0 (KIP-511).
/// </summary>
// Kept local rather than using the generated ApiKeys table: that table's static initialiser depends on field order
// across partial files (it threw at the protocol branch's first commit), and the connection must never fail on it.
internal static class HeaderVersions
{
    // First flexible version per API key (-1: never flexible), from the message schemas in kafka-protocol/message.
    private static readonly short[] FirstFlexible =
    [
        9, 12, 6, 9, 4, 2, 6, 3, 8, 6, // 0-9
        3, 6, 4, 4, 4, 5, 3, -1, 3, 5, // 10-19
        4, 2, 2, 4, 3, 3, 3, 1, 3, 2, // 20-29
        2, 2, 4, 2, 2, 2, 2, 2, 2, 2, // 30-39
        2, 2, 2, 2, 1, 0, 0, -1, 1, 1, // 40-49
        0, 0, 0, 1, 1, 0, 0, 0, 0, 0, // 50-59
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 60-69
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 70-79
        0, 0, 0, 0, 0, 0, 0, 0, // 80-87
    ];

    /// <summary>True when <paramref name="version"/> of <paramref name="apiKey"/> uses compact encodings and tagged fields.</summary>
    public static bool IsFlexible(ApiKey apiKey, short version)
    {
        var key = (short)apiKey;
        // Unknown future APIs are all flexible (every API added since KIP-482 is flexible from v0).
        var first = (uint)key < (uint)FirstFlexible.Length ? FirstFlexible[key] : (short)0;
        return first >= 0 && version >= first;
    }

    /// <summary>Request header version: 2 for flexible versions, else 1.</summary>
    public static short Request(ApiKey apiKey, short version) => IsFlexible(apiKey, version) ? (short)2 : (short)1;

    /// <summary>Response header version: 1 for flexible versions, else 0; always 0 for ApiVersions.</summary>
    public static short Response(ApiKey apiKey, short version) =>
        apiKey != ApiKey.ApiVersions && IsFlexible(apiKey, version) ? (short)1 : (short)0;
}
