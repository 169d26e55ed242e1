using System.Text.Json;
using Kiel.Security;

namespace Kiel;

/// <summary>
/// A bearer token for SASL OAUTHBEARER (KIP-255), as <see cref="KielClientOptions.OAuthBearerTokenProvider"/> returns
/// it. <see cref="ToString"/> never shows the token.
/// </summary>
public sealed class OAuthBearerToken
{
    /// <summary>Creates a token.</summary>
    /// <param name="value">The compact token (for example a JWS) sent to the broker.</param>
    /// <param name="expiration">When the token expires; a client asks for a new one before then.</param>
    /// <param name="principalName">The principal the token names (for logs; the broker decides from the token).</param>
    /// <param name="extensions">SASL extensions sent with the token (KIP-342), or null.</param>
    public OAuthBearerToken(string value, DateTimeOffset expiration, string principalName, IReadOnlyDictionary<string, string>? extensions = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        ArgumentNullException.ThrowIfNull(principalName);
        Value = value;
        Expiration = expiration;
        PrincipalName = principalName;
        Extensions = extensions;
    }

    /// <summary>The compact token sent to the broker. A secret: never logged.</summary>
    public string Value { get; }

    /// <summary>When the token expires.</summary>
    public DateTimeOffset Expiration { get; }

    /// <summary>The principal the token names.</summary>
    public string PrincipalName { get; }

    /// <summary>SASL extensions sent with the token, or null.</summary>
    public IReadOnlyDictionary<string, string>? Extensions { get; }

    /// <summary>
    /// Builds an unsecured JWS (<c>{"alg":"none"}</c>, no signature), the form Kafka's unsecured OAUTHBEARER login
    /// accepts. For tests and development only: anybody can forge one.
    /// </summary>
    /// <param name="principalName">The subject (<c>sub</c>).</param>
    /// <param name="lifetime">How long from now it is valid (<c>exp</c>); may be negative for an expired token in tests.</param>
    /// <param name="timeProvider">The clock for <c>iat</c> and <c>exp</c>; null is the system clock.</param>
    /// <param name="scope">An optional space-separated <c>scope</c> claim.</param>
    public static OAuthBearerToken CreateUnsecured(string principalName, TimeSpan lifetime, TimeProvider? timeProvider = null, string? scope = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(principalName);
        var now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        var expires = now + lifetime;
        var claims = new Dictionary<string, object> { ["sub"] = principalName, ["iat"] = now.ToUnixTimeSeconds(), ["exp"] = expires.ToUnixTimeSeconds() };
        if (scope is not null) claims["scope"] = scope;
        var header = SaslMessages.Base64UrlEncode("{\"alg\":\"none\"}"u8);
        var payload = SaslMessages.Base64UrlEncode(JsonSerializer.SerializeToUtf8Bytes(claims));
        return new OAuthBearerToken(header + "." + payload + ".", DateTimeOffset.FromUnixTimeSeconds(expires.ToUnixTimeSeconds()), principalName);
    }

    /// <summary>The principal and expiry; never the token.</summary>
    public override string ToString() => $"OAuthBearerToken(principal {PrincipalName}, expires {Expiration:O})";
}
