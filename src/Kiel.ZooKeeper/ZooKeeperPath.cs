namespace Kiel.ZooKeeper;

/// <summary>ZooKeeper path rules, checked before anything is sent.</summary>
public static class ZooKeeperPath
{
    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="path"/> is not a valid absolute ZooKeeper path.</summary>
    /// <param name="path">The path.</param>
    /// <param name="sequential">True for a sequential create, where a trailing slash is allowed (the server appends the number).</param>
    public static void Validate(string path, bool sequential = false)
    {
        var problem = Check(path, sequential);
        if (problem is not null) throw new ArgumentException($"Invalid ZooKeeper path '{Printable(path)}': {problem}.", nameof(path));
    }

    /// <summary>Returns what is wrong with <paramref name="path"/>, or null when it is valid.</summary>
    public static string? Check(string? path, bool sequential = false)
    {
        if (path is null) return "it is null";
        if (path.Length == 0) return "it is empty";
        if (path[0] != '/') return "it must start with '/'";
        if (path.Length == 1) return null;
        var body = sequential && path[^1] == '/' ? path[..^1] + "1" : path;
        if (body[^1] == '/') return "it must not end with '/'";
        var start = 1;
        while (start <= body.Length)
        {
            var end = body.IndexOf('/', start);
            if (end < 0) end = body.Length;
            var segment = body.AsSpan(start, end - start);
            if (segment.Length == 0) return $"empty segment at index {start}";
            if (segment is "." or "..") return "'.' and '..' segments are not allowed";
            foreach (var c in segment)
            {
                if (c == '\0') return "it contains a NUL character";
                if (c is > '\u0000' and <= '\u001f' or >= '\u007f' and <= '\u009f' or >= '\ud800' and <= '\uf8ff' or >= '\ufff0')
                    return $"it contains the invalid character U+{(int)c:X4}";
            }
            start = end + 1;
        }
        return null;
    }

    /// <summary>Joins a parent path and a child name.</summary>
    public static string Combine(string parent, string child) =>
        parent.EndsWith('/') ? parent + child : parent + "/" + child;

    /// <summary>The parent of <paramref name="path"/> (<c>/</c> for a top-level node).</summary>
    public static string Parent(string path)
    {
        var i = path.LastIndexOf('/');
        return i <= 0 ? "/" : path[..i];
    }

    /// <summary>The last segment of <paramref name="path"/>.</summary>
    public static string Name(string path) => path[(path.LastIndexOf('/') + 1)..];

    private static string Printable(string? path) => path is null ? "null" : path.Replace("\0", "\\0", StringComparison.Ordinal);
}
