using Kiel.Protocol;

namespace Kiel;

/// <summary>An inclusive range of versions of one API.</summary>
/// <param name="Min">The lowest version.</param>
/// <param name="Max">The highest version.</param>
internal readonly record struct ApiVersionRange(short Min, short Max)
{
    /// <summary>True when the range holds no version.</summary>
    public bool IsEmpty => Max < Min || Max < 0;

    /// <summary>True when <paramref name="version"/> lies in the range.</summary>
    public bool Contains(short version) => version >= Min && version <= Max;

    /// <summary>The overlap of two ranges (possibly empty).</summary>
    public ApiVersionRange Intersect(ApiVersionRange other) => new(Math.Max(Min, other.Min), Math.Min(Max, other.Max));

    /// <summary><c>min-max</c>.</summary>
    public override string ToString() => Min == Max ? $"v{Min}" : $"v{Min}-v{Max}";
}
