using System.Globalization;

namespace Kiel;

/// <summary>
/// Parses the one bootstrap format every client takes: a comma-separated list of <c>host:port</c> or <c>host</c>
/// (port 9092), IPv6 literals in brackets, as Kafka's <c>bootstrap.servers</c>.
/// </summary>
internal static class BootstrapServerParser
{
    /// <summary>The port of an entry that names none.</summary>
    public const int DefaultPort = 9092;

    /// <summary>Splits and checks <paramref name="servers"/>.</summary>
    /// <param name="servers">The comma-separated list.</param>
    /// <param name="setting">The name of the setting, for the error message.</param>
    /// <returns>The trimmed entries, in order.</returns>
    /// <exception cref="ArgumentException">The list is empty or an entry is not <c>host[:port]</c>; the message says which and how to fix it.</exception>
    public static IReadOnlyList<string> Parse(string? servers, string setting = "BootstrapServers")
    {
        if (Problem(servers) is { } problem) throw new ArgumentException($"{setting}: {problem}", setting);
        return Split(servers!);
    }

    /// <summary>Why <paramref name="servers"/> is not a bootstrap list, or null when it is one.</summary>
    public static string? Problem(string? servers)
    {
        if (string.IsNullOrWhiteSpace(servers))
            return "is empty; give at least one broker as host:port, for example \"127.0.0.1:9092\" or \"kafka1:9092,kafka2:9092\".";
        foreach (var entry in servers.Split(','))
        {
            var trimmed = entry.Trim();
            if (trimmed.Length == 0)
                return $"'{servers}' has an empty entry; separate the host:port entries with single commas, for example \"kafka1:9092,kafka2:9092\".";
            if (!TrySplitHostPort(trimmed, DefaultPort, out _, out _))
                return $"has '{trimmed}', which is not host or host:port with a port from 1 to 65535 (IPv6 as [::1]:9092); fix that entry of '{servers}'.";
        }
        return null;
    }

    /// <summary>The trimmed entries of a list that <see cref="Problem"/> accepts.</summary>
    public static IReadOnlyList<string> Split(string servers) =>
        servers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Splits <c>host</c>, <c>host:port</c> or <c>[v6]:port</c>.</summary>
    /// <returns>False when the text is not one of these or the port is not 1–65535.</returns>
    public static bool TrySplitHostPort(string text, int defaultPort, out string host, out int port)
    {
        host = "";
        port = defaultPort;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var colon = text.LastIndexOf(':');
        // A bracketed IPv6 literal keeps its colons: [::1]:9092.
        if (text.StartsWith('['))
        {
            if (!text.Contains(']', StringComparison.Ordinal)) return false;
            colon = text.IndexOf("]:", StringComparison.Ordinal) is var c and >= 0 ? c + 1 : -1;
        }
        else if (text.IndexOf(':') != colon) return false;
        if (colon < 0) { host = text; return !text.Contains(' ') && !text.Contains('/'); }
        host = text[..colon];
        return host.Length > 0 && !host.Contains(' ') && !host.Contains('/')
            && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port)
            && port is > 0 and <= 65535;
    }
}
