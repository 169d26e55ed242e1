using System.Security.Cryptography;
using System.Text;

namespace Kiel.ZooKeeper.Protocol;

/// <summary>
/// The client side of SASL DIGEST-MD5 (RFC 2831) with quality of protection <c>auth</c>, as ZooKeeper's server speaks
/// it (protocol <c>zookeeper</c>, server name <c>zk-sasl-md5</c>): parse the server's digest-challenge, answer with a
/// digest-response, and check the server's <c>rspauth</c>. A malformed challenge is a <see cref="ZooKeeperProtocolException"/>.
/// </summary>
internal sealed class DigestMd5
{
    /// <summary>The digest-uri ZooKeeper's server expects: its SASL protocol and server name.</summary>
    internal const string ZooKeeperDigestUri = "zookeeper/zk-sasl-md5";

    private const int MaxChallengeLength = 2048;
    private readonly string _username;
    private readonly string _password;
    private readonly string _digestUri;
    private byte[]? _expectedRspAuth;

    internal DigestMd5(string username, string password, string digestUri = ZooKeeperDigestUri)
    {
        _username = username;
        _password = password;
        _digestUri = digestUri;
    }

    /// <summary>Parses a digest-challenge into its directives (names lower-cased; a repeated realm keeps the first).</summary>
    internal static Dictionary<string, string> ParseDirectives(ReadOnlySpan<byte> challenge)
    {
        if (challenge.Length == 0) throw Malformed("is empty");
        if (challenge.Length > MaxChallengeLength) throw Malformed($"is {challenge.Length} bytes (at most {MaxChallengeLength})");
        string text;
        try { text = new UTF8Encoding(false, true).GetString(challenge); }
        catch (DecoderFallbackException) { throw Malformed("is not UTF-8"); }
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] is ' ' or '\t' or ',')) i++;
            if (i >= text.Length) break;
            var start = i;
            while (i < text.Length && text[i] != '=' && text[i] != ',') i++;
            if (i >= text.Length || text[i] != '=') throw Malformed($"has a directive without a value at {start}");
            var name = text[start..i].Trim().ToLowerInvariant();
            if (name.Length == 0) throw Malformed($"has an empty directive name at {start}");
            i++;
            string value;
            if (i < text.Length && text[i] == '"')
            {
                i++;
                var sb = new StringBuilder();
                while (true)
                {
                    if (i >= text.Length) throw Malformed($"has an unterminated quoted value for {name}");
                    var c = text[i++];
                    if (c == '"') break;
                    if (c == '\\')
                    {
                        if (i >= text.Length) throw Malformed($"ends inside an escape in {name}");
                        c = text[i++];
                    }
                    sb.Append(c);
                }
                value = sb.ToString();
            }
            else
            {
                var valueStart = i;
                while (i < text.Length && text[i] != ',') i++;
                value = text[valueStart..i].Trim();
            }
            while (i < text.Length && (text[i] is ' ' or '\t')) i++;
            if (i < text.Length && text[i] != ',') throw Malformed($"has text after the value of {name}");
            result.TryAdd(name, value);
        }
        return result;
    }

    /// <summary>Answers the server's digest-challenge with a digest-response (a fresh cnonce each time).</summary>
    internal byte[] Respond(ReadOnlySpan<byte> challenge) => Respond(challenge, Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)));

    /// <summary>Answers with a given cnonce (tests use the RFC's).</summary>
    internal byte[] Respond(ReadOnlySpan<byte> challenge, string cnonce)
    {
        var directives = ParseDirectives(challenge);
        if (!directives.TryGetValue("nonce", out var nonce) || nonce.Length == 0) throw Malformed("has no nonce");
        if (directives.TryGetValue("algorithm", out var algorithm) && !algorithm.Equals("md5-sess", StringComparison.OrdinalIgnoreCase))
            throw Malformed($"asks for algorithm '{algorithm}' (only md5-sess exists)");
        if (directives.TryGetValue("qop", out var qops) && !qops.Split(',').Any(q => q.Trim() == "auth"))
            throw new ZooKeeperProtocolException("DIGEST-MD5 challenge", "qop", $"offers '{qops}' without 'auth' (integrity and privacy layers are not supported)");
        var realm = directives.GetValueOrDefault("realm", "");
        var utf8 = directives.TryGetValue("charset", out var charset) && charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase);
        const string Nc = "00000001";
        var (response, rspauth) = Compute(_username, realm, _password, nonce, cnonce, Nc, _digestUri, utf8);
        _expectedRspAuth = Encoding.ASCII.GetBytes(rspauth);
        var sb = new StringBuilder();
        if (utf8) sb.Append("charset=utf-8,");
        sb.Append("username=\"").Append(Quote(_username)).Append('"');
        if (directives.ContainsKey("realm")) sb.Append(",realm=\"").Append(Quote(realm)).Append('"');
        sb.Append(",nonce=\"").Append(Quote(nonce)).Append('"')
            .Append(",nc=").Append(Nc)
            .Append(",cnonce=\"").Append(Quote(cnonce)).Append('"')
            .Append(",digest-uri=\"").Append(Quote(_digestUri)).Append('"')
            .Append(",maxbuf=65536")
            .Append(",response=").Append(response)
            .Append(",qop=auth");
        return utf8 ? Encoding.UTF8.GetBytes(sb.ToString()) : Encoding.Latin1.GetBytes(sb.ToString());
    }

    /// <summary>Checks the server's response-auth (<c>rspauth=…</c>): it proves the server knew the password too.</summary>
    /// <returns>False when it does not match (the server is not who it says).</returns>
    internal bool VerifyServer(ReadOnlySpan<byte> responseAuth)
    {
        if (_expectedRspAuth is null) throw new InvalidOperationException("Respond first.");
        var directives = ParseDirectives(responseAuth);
        if (!directives.TryGetValue("rspauth", out var rspauth)) throw Malformed("(the server's final message) has no rspauth");
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(rspauth.ToLowerInvariant()), _expectedRspAuth);
    }

    /// <summary>RFC 2831 2.1.2.1: the response value and the rspauth value the server must send, as lower-case hex.</summary>
    internal static (string Response, string RspAuth) Compute(string username, string realm, string password, string nonce, string cnonce,
        string nc, string digestUri, bool utf8)
    {
        var encoding = utf8 ? Encoding.UTF8 : Encoding.Latin1;
        var secret = MD5.HashData(encoding.GetBytes($"{username}:{realm}:{password}"));
        var tail = Encoding.UTF8.GetBytes($":{nonce}:{cnonce}");
        var a1 = new byte[secret.Length + tail.Length];
        secret.CopyTo(a1, 0);
        tail.CopyTo(a1, secret.Length);
        var ha1 = Hex(MD5.HashData(a1));
        string Kd(string a2) => Hex(MD5.HashData(Encoding.UTF8.GetBytes($"{ha1}:{nonce}:{nc}:{cnonce}:auth:{Hex(MD5.HashData(Encoding.UTF8.GetBytes(a2)))}")));
        return (Kd("AUTHENTICATE:" + digestUri), Kd(":" + digestUri));
    }

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

    private static string Quote(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);

    private static ZooKeeperProtocolException Malformed(string problem) => new("DIGEST-MD5 challenge", "directives", problem);
}
