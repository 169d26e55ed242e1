using System.Globalization;

namespace Kiel.ZooKeeper;

/// <summary>A parsed connect string <c>host1:2181,host2:2181/chroot</c>.</summary>
/// <param name="Hosts">The servers, in the order given.</param>
/// <param name="Chroot">The chroot path, or null.</param>
public sealed record ConnectString(IReadOnlyList<(string Host, int Port)> Hosts, string? Chroot)
{
    /// <summary>The port used when a host names none.</summary>
    public const int DefaultPort = 2181;

    /// <summary>Parses a connect string; throws <see cref="ArgumentException"/> saying what is wrong.</summary>
    public static ConnectString Parse(string connectString)
    {
        if (string.IsNullOrWhiteSpace(connectString))
            throw new ArgumentException("The connect string is empty; give host:port[,host:port…][/chroot].", nameof(connectString));
        string? chroot = null;
        var hostsPart = connectString.Trim();
        var slash = hostsPart.IndexOf('/');
        if (slash >= 0)
        {
            chroot = hostsPart[slash..];
            hostsPart = hostsPart[..slash];
            if (chroot == "/") chroot = null;
            else
            {
                var problem = ZooKeeperPath.Check(chroot);
                if (problem is not null) throw new ArgumentException($"Invalid chroot '{chroot}' in the connect string: {problem}.", nameof(connectString));
            }
        }
        var hosts = new List<(string, int)>();
        foreach (var raw in hostsPart.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string host;
            var port = DefaultPort;
            if (raw.StartsWith('['))
            {
                // [ipv6]:port
                var close = raw.IndexOf(']');
                if (close < 0) throw new ArgumentException($"Unclosed '[' in host '{raw}'.", nameof(connectString));
                host = raw[1..close];
                var rest = raw[(close + 1)..];
                if (rest.Length > 0)
                {
                    if (rest[0] != ':' || !TryPort(rest[1..], out port)) throw new ArgumentException($"Bad port in '{raw}'.", nameof(connectString));
                }
            }
            else
            {
                var colon = raw.LastIndexOf(':');
                host = colon < 0 ? raw : raw[..colon];
                if (colon >= 0 && !TryPort(raw[(colon + 1)..], out port))
                    throw new ArgumentException($"Bad port in '{raw}': give a number from 1 to 65535.", nameof(connectString));
            }
            if (host.Length == 0) throw new ArgumentException($"Empty host name in '{raw}'.", nameof(connectString));
            hosts.Add((host, port));
        }
        if (hosts.Count == 0) throw new ArgumentException($"The connect string '{connectString}' names no host.", nameof(connectString));
        return new ConnectString(hosts, chroot);
    }

    private static bool TryPort(string s, out int port) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535;
}
