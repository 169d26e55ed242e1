namespace Kiel;

/// <summary>A broker's address, with its node id when known (-1 for a bootstrap address).</summary>
/// <param name="NodeId">The broker id from metadata, or -1 before metadata is known.</param>
/// <param name="Host">Host name or IP address.</param>
/// <param name="Port">TCP port.</param>
/// <param name="Rack">The broker's rack, when metadata reports one.</param>
internal sealed record BrokerEndpoint(int NodeId, string Host, int Port, string? Rack = null)
{
    /// <summary>Kafka's default port, used when an address has none.</summary>
    public const int DefaultPort = 9092;

    /// <summary>Parses <c>host</c>, <c>host:port</c>, <c>[ipv6]</c> or <c>[ipv6]:port</c>.</summary>
    /// <exception cref="ArgumentException">The text is not a valid address.</exception>
    public static BrokerEndpoint Parse(string address, int nodeId = -1)
    {
        if (!TryParse(address, out var host, out var port, out var problem))
            throw new ArgumentException($"'{address}' is not a broker address: {problem}. Use host or host:port, for example 'localhost:9092'.", nameof(address));
        return new BrokerEndpoint(nodeId, host, port);
    }

    internal static bool TryParse(string? address, out string host, out int port, out string problem)
    {
        host = "";
        port = DefaultPort;
        problem = "";
        var text = address?.Trim();
        if (string.IsNullOrEmpty(text)) { problem = "it is empty"; return false; }
        string portText = "";
        if (text[0] == '[')
        {
            var close = text.IndexOf(']');
            if (close < 0) { problem = "an IPv6 address opened with '[' is not closed with ']'"; return false; }
            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':') { problem = "unexpected text after ']'"; return false; }
                portText = rest[1..];
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon >= 0 && text.IndexOf(':') != colon) { host = text; } // bare IPv6 without brackets: no port
            else if (colon >= 0) { host = text[..colon]; portText = text[(colon + 1)..]; }
            else host = text;
        }
        if (host.Length == 0) { problem = "the host is empty"; return false; }
        if (portText.Length > 0 && (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            problem = $"the port '{portText}' is not a number from 1 to 65535";
            return false;
        }
        if (portText.Length == 0 && address!.TrimEnd().EndsWith(':')) { problem = "the port after ':' is empty"; return false; }
        return true;
    }

    /// <summary><c>host:port</c>, with the node id when known.</summary>
    public override string ToString() => NodeId >= 0 ? $"{Host}:{Port} (broker {NodeId})" : $"{Host}:{Port}";
}
