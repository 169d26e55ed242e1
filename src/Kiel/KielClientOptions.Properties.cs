using System.Text;
using System.Text.RegularExpressions;
using Kiel.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel;

public abstract partial record KielClientOptions
{
    /// <summary>
    /// Reads a Kafka <c>client.properties</c> file (the format Kafka's own tools take with <c>--command-config</c>) into
    /// options: <c>bootstrap.servers</c>, <c>client.id</c>, <c>security.protocol</c>, <c>sasl.mechanism</c>,
    /// <c>sasl.jaas.config</c> (PlainLoginModule or ScramLoginModule with username and password; OAuthBearerLoginModule
    /// with <c>unsecuredLoginStringClaim_sub</c> for unsecured test tokens), <c>ssl.truststore.location</c> (PEM),
    /// <c>ssl.keystore.location</c> (PEM with key and certificate, or PKCS#12), <c>ssl.key.password</c>/<c>ssl.keystore.password</c>,
    /// <c>ssl.endpoint.identification.algorithm</c> (empty turns host name checks off), and librdkafka's
    /// <c>sasl.username</c>, <c>sasl.password</c>, <c>ssl.ca.location</c>, <c>ssl.certificate.location</c>, <c>ssl.key.location</c>.
    /// Keys Kiel does not use are listed in one warning (to <paramref name="options"/>' logger), never dropped silently.
    /// </summary>
    /// <typeparam name="TOptions">The options type to fill, for example <see cref="Producing.KielProducerOptions"/>.</typeparam>
    /// <param name="path">The properties file.</param>
    /// <param name="options">Options to start from (their other settings are kept); null starts from the defaults.</param>
    /// <returns>The options with the file's settings, and the keys that were not used.</returns>
    /// <exception cref="ArgumentException">The file cannot be read, or a value is not one Kiel understands; the message names the key.</exception>
    public static TOptions FromProperties<TOptions>(string path, TOptions? options = null) where TOptions : KielClientOptions, new()
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"cannot read client properties '{path}': {e.Message}", nameof(path), e);
        }
        var properties = ParseProperties(text);
        var (result, unknown) = ApplyProperties(options ?? new TOptions(), properties, path);
        if (unknown.Count > 0)
            SecurityLog.UnknownProperties((result.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kiel.Security"), string.Join(", ", unknown));
        return result;
    }

    /// <summary>Parses Java properties text: <c>key=value</c> or <c>key: value</c>, <c>#</c>/<c>!</c> comments, trailing-backslash continuations.</summary>
    internal static Dictionary<string, string> ParseProperties(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimStart();
            if (line.Length == 0 || line[0] is '#' or '!') continue;
            var logical = new StringBuilder();
            while (line.EndsWith('\\') && i + 1 < lines.Length)
            {
                logical.Append(line, 0, line.Length - 1);
                line = lines[++i].TrimStart();
            }
            logical.Append(line);
            var entry = logical.ToString();
            var at = entry.IndexOfAny(['=', ':']);
            if (at < 0)
            {
                result[entry.Trim()] = "";
                continue;
            }
            result[entry[..at].Trim()] = entry[(at + 1)..].Trim();
        }
        return result;
    }

    private static (TOptions Options, List<string> Unknown) ApplyProperties<TOptions>(TOptions options, Dictionary<string, string> properties, string source)
        where TOptions : KielClientOptions
    {
        var unknown = new List<string>();
        var result = options;
        string? jaas = null;
        foreach (var (key, value) in properties)
        {
            switch (key)
            {
                case "bootstrap.servers": result = result with { BootstrapServers = value }; break;
                case "client.id": result = result with { ClientId = value }; break;
                case "security.protocol":
                    if (!SecurityNames.TryParseProtocol(value, out var protocol))
                        throw new ArgumentException($"{source}: security.protocol '{value}' is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.", nameof(properties));
                    result = result with { SecurityProtocol = protocol };
                    break;
                case "sasl.mechanism" or "sasl.mechanisms":
                    if (!SecurityNames.TryParseMechanism(value, out var mechanism))
                        throw new ArgumentException($"{source}: {key} '{value}' is not PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (GSSAPI is not supported).", nameof(properties));
                    result = result with { SaslMechanism = mechanism };
                    break;
                case "sasl.jaas.config": jaas = value; break;
                case "sasl.username": result = result with { SaslUsername = value }; break;
                case "sasl.password": result = result with { SaslPassword = value }; break;
                case "ssl.truststore.location" or "ssl.ca.location": result = result with { SslCaLocation = value }; break;
                case "ssl.keystore.location" or "ssl.certificate.location": result = result with { SslCertificateLocation = value }; break;
                case "ssl.key.location": result = result with { SslKeyLocation = value }; break;
                case "ssl.key.password" or "ssl.keystore.password": result = result with { SslKeyPassword = value }; break;
                case "ssl.endpoint.identification.algorithm": result = result with { SslEndpointIdentification = value.Length > 0 }; break;
                case "ssl.truststore.type" or "ssl.keystore.type":
                    if (!value.Equals("PEM", StringComparison.OrdinalIgnoreCase) && !(key == "ssl.keystore.type" && value.Equals("PKCS12", StringComparison.OrdinalIgnoreCase)))
                        throw new ArgumentException($"{source}: {key} '{value}' is not supported; convert the store to PEM (keytool -exportcert -rfc, or openssl pkcs12 -nodes).", nameof(properties));
                    break;
                default: unknown.Add(key); break;
            }
        }
        if (jaas is not null) result = ApplyJaas(result, jaas, source);
        return (result, unknown);
    }

    private static TOptions ApplyJaas<TOptions>(TOptions options, string jaas, string source) where TOptions : KielClientOptions
    {
        static string? Option(string jaas, string name)
        {
            var match = Regex.Match(jaas, $@"\b{name}\s*=\s*(?:""((?:[^""\\]|\\.)*)""|([^\s;]+))");
            return match.Success ? Regex.Unescape(match.Groups[1].Success ? match.Groups[1].Value : match.Groups[2].Value) : null;
        }
        if (jaas.Contains("OAuthBearerLoginModule", StringComparison.Ordinal))
        {
            var subject = Option(jaas, "unsecuredLoginStringClaim_sub")
                ?? throw new ArgumentException($"{source}: sasl.jaas.config's OAuthBearerLoginModule has no unsecuredLoginStringClaim_sub; for real tokens set OAuthBearerTokenProvider in code.", "sasl.jaas.config");
            return options with { OAuthBearerTokenProvider = _ => ValueTask.FromResult(OAuthBearerToken.CreateUnsecured(subject, TimeSpan.FromHours(1))) };
        }
        if (!jaas.Contains("PlainLoginModule", StringComparison.Ordinal) && !jaas.Contains("ScramLoginModule", StringComparison.Ordinal))
            throw new ArgumentException($"{source}: sasl.jaas.config names a login module Kiel does not know; use PlainLoginModule, ScramLoginModule or OAuthBearerLoginModule.", "sasl.jaas.config");
        var user = Option(jaas, "username") ?? throw new ArgumentException($"{source}: sasl.jaas.config has no username=\"...\".", "sasl.jaas.config");
        var password = Option(jaas, "password") ?? throw new ArgumentException($"{source}: sasl.jaas.config has no password=\"...\".", "sasl.jaas.config");
        return options with { SaslUsername = user, SaslPassword = password };
    }
}
