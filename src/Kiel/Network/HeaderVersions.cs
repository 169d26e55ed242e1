using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>
/// Header versions for a request, from the generated <see cref="ApiKeys"/> table; a key the table does not know
/// (a newer broker's API) is taken as flexible from v0, as every API added since KIP-482 is.
/// </summary>
internal static class HeaderVersions
{
    public static bool IsFlexible(ApiKey apiKey, short version) =>
        ApiKeys.TryGetInfo(apiKey, out var info) ? info.IsFlexible(version) : version >= 0;

    public static short Request(ApiKey apiKey, short version) =>
        ApiKeys.TryGetInfo(apiKey, out _) ? ApiKeys.RequestHeaderVersion(apiKey, version) : (short)2;

    public static short Response(ApiKey apiKey, short version) =>
        ApiKeys.TryGetInfo(apiKey, out _) ? ApiKeys.ResponseHeaderVersion(apiKey, version) : (short)1;
}
