using System.Text;
using System.Text.Json;

namespace Kiel.Security;

/// <summary>The SASL PLAIN (RFC 4616) and OAUTHBEARER (RFC 7628, KIP-255) messages, both directions.</summary>
internal static class SaslMessages
{
    /// <summary>PLAIN's one message: an empty authorization id, the user and the password, NUL-separated.</summary>
    public static byte[] Plain(string username, string password) => Encoding.UTF8.GetBytes("\0" + username + "\0" + password);

    /// <summary>
    /// Reads a PLAIN message (server side): the authorization id (empty or the user, as Kafka accepts), the user and the
    /// password. Null when it is malformed.
    /// </summary>
    public static (string User, string Password)? ReadPlain(ReadOnlySpan<byte> message)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(message);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
        var parts = text.Split('\0');
        if (parts.Length != 3 || parts[1].Length == 0) return null;
        if (parts[0].Length > 0 && parts[0] != parts[1]) return null;
        return (parts[1], parts[2]);
    }

    /// <summary>OAUTHBEARER's client message (KIP-255): <c>n,,\x01auth=Bearer TOKEN\x01[key=value\x01]*\x01</c>.</summary>
    public static byte[] OAuthBearer(string token, IReadOnlyDictionary<string, string>? extensions)
    {
        var sb = new StringBuilder("n,,\u0001auth=Bearer ").Append(token).Append('\u0001');
        if (extensions is not null)
            foreach (var (key, value) in extensions)
                sb.Append(key).Append('=').Append(value).Append('\u0001');
        sb.Append('\u0001');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>OAUTHBEARER's answer to a server error challenge: a single <c>\x01</c>.</summary>
    public static byte[] OAuthBearerErrorAck { get; } = [0x01];

    /// <summary>Reads the token from an OAUTHBEARER client message (server side); null when it is malformed.</summary>
    public static string? ReadOAuthBearer(ReadOnlySpan<byte> message)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(message);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
        var first = text.IndexOf('\u0001');
        if (first < 0 || !text.StartsWith("n,", StringComparison.Ordinal) || !text.EndsWith("\u0001\u0001", StringComparison.Ordinal)) return null;
        foreach (var pair in text[(first + 1)..].Split('\u0001', StringSplitOptions.RemoveEmptyEntries))
            if (pair.StartsWith("auth=", StringComparison.Ordinal))
            {
                var value = pair[5..];
                return value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? value[7..].Trim() : null;
            }
        return null;
    }

    /// <summary>
    /// Reads an unsecured JWS (<c>alg: none</c>, RFC 7515 appendix A.5): the subject and the expiry. Null when it is
    /// not one, so a server refuses it.
    /// </summary>
    public static (string Subject, DateTimeOffset Expires)? ReadUnsecuredJws(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3 || parts[2].Length != 0) return null;
        try
        {
            using var header = JsonDocument.Parse(Base64UrlDecode(parts[0]));
            if (!header.RootElement.TryGetProperty("alg", out var alg) || alg.GetString() != "none") return null;
            using var payload = JsonDocument.Parse(Base64UrlDecode(parts[1]));
            var root = payload.RootElement;
            if (!root.TryGetProperty("sub", out var sub) || sub.GetString() is not { Length: > 0 } subject) return null;
            if (!root.TryGetProperty("exp", out var exp) || exp.ValueKind != JsonValueKind.Number) return null;
            return (subject, DateTimeOffset.FromUnixTimeMilliseconds((long)(exp.GetDouble() * 1000)));
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    internal static string Base64UrlEncode(ReadOnlySpan<byte> data) =>
        Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    internal static byte[] Base64UrlDecode(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        s = (s.Length % 4) switch { 2 => s + "==", 3 => s + "=", _ => s };
        return Convert.FromBase64String(s);
    }
}
