namespace Kiel.Protocol;

/// <summary>Names a decoder can hand out instead of decoding a new string (the topics of the request being answered).</summary>
internal interface IKnownNames
{
    int Count { get; }

    string this[int index] { get; }
}

/// <summary>Known names in a list.</summary>
internal readonly struct KnownNameList(IReadOnlyList<string> names) : IKnownNames
{
    public int Count => names.Count;

    public string this[int index] => names[index];
}

/// <summary>Matches UTF-8 names on the wire against known strings.</summary>
internal static class KnownNames
{
    /// <summary>
    /// The known name whose UTF-8 bytes <paramref name="utf8"/> are, or a new string. Answers list names in the
    /// request's order, so the search starts at <paramref name="cursor"/>, which moves past the match.
    /// </summary>
    public static string Find<TNames>(ReadOnlySpan<byte> utf8, TNames known, ref int cursor) where TNames : IKnownNames
    {
        Span<byte> scratch = stackalloc byte[256];
        var count = known.Count;
        for (var k = 0; k < count; k++)
        {
            var i = (cursor + k) % count;
            var name = known[i];
            if (name.Length > utf8.Length || name.Length * 3 < utf8.Length) continue;
            var matches = utf8.Length <= scratch.Length
                ? System.Text.Encoding.UTF8.TryGetBytes(name, scratch, out var written) && scratch[..written].SequenceEqual(utf8)
                : System.Text.Encoding.UTF8.GetString(utf8) == name;
            if (!matches) continue;
            cursor = i + 1;
            return name;
        }
        return System.Text.Encoding.UTF8.GetString(utf8);
    }
}
