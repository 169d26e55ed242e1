namespace Kiel.Protocol;

/// <summary>Version ranges of every API, and which header version goes with which API version.</summary>
internal static partial class ApiKeys
{
    // A holder class, because static initializers of partial files run in an unspecified order.
    private static class Index
    {
        public static readonly ApiInfo?[] ByKey = Build();

        private static ApiInfo?[] Build()
        {
            var index = new ApiInfo?[All.Max(a => (int)a.Key) + 1];
            foreach (var a in All) index[(int)a.Key] = a;
            return index;
        }
    }

    /// <summary>Looks up an API; false for a key the schemas do not define.</summary>
    public static bool TryGetInfo(ApiKey key, [NotNullWhen(true)] out ApiInfo? info)
    {
        var byKey = Index.ByKey;
        info = (ushort)key < (uint)byKey.Length ? byKey[(int)key] : null;
        return info is not null;
    }

    /// <summary>Looks up an API.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The key is not one the schemas define.</exception>
    public static ApiInfo Info(ApiKey key) =>
        TryGetInfo(key, out var info) ? info : throw new ArgumentOutOfRangeException(nameof(key), key, "Unknown API key.");

    /// <summary>
    /// The request header version for <paramref name="key"/> at <paramref name="version"/>: 2 for flexible versions,
    /// else 1 (0 only for ControlledShutdown v0).
    /// </summary>
    public static short RequestHeaderVersion(ApiKey key, short version)
    {
        if (key == ApiKey.ControlledShutdown && version == 0) return 0;
        return Info(key).IsFlexible(version) ? (short)2 : (short)1;
    }

    /// <summary>
    /// The response header version for <paramref name="key"/> at <paramref name="version"/>: 1 for flexible versions,
    /// else 0. ApiVersions responses always use 0, so a client can read them before it knows what the broker supports.
    /// </summary>
    public static short ResponseHeaderVersion(ApiKey key, short version)
    {
        if (key == ApiKey.ApiVersions) return 0;
        return Info(key).IsFlexible(version) ? (short)1 : (short)0;
    }
}
