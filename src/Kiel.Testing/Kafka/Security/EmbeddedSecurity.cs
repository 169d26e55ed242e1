using System.Text;
using Kiel;

namespace Kiel.Testing;

/// <summary>
/// How to connect to an <see cref="EmbeddedKafkaCluster"/> started with <see cref="EmbeddedKafkaOptions.Security"/>:
/// the protocol, the user and password, the CA's PEM file, a client certificate, and a ready
/// <c>client.properties</c> for Kafka's own tools. The files live until the cluster is disposed.
/// </summary>
public sealed class EmbeddedSecurity
{
    private readonly TestCertificates _certificates;

    internal EmbeddedSecurity(EmbeddedSecurityOptions options, string bootstrapServers, string password, TestCertificates certificates)
    {
        Options = options;
        BootstrapServers = bootstrapServers;
        Password = password;
        _certificates = certificates;
    }

    /// <summary>The settings the front was started with.</summary>
    public EmbeddedSecurityOptions Options { get; }

    /// <summary>The secured listeners, <c>127.0.0.1:port,...</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>What the listeners speak.</summary>
    public SecurityProtocol Protocol => Options.Protocol;

    /// <summary>The SASL user name.</summary>
    public string Username => Options.Username;

    /// <summary>The SASL password (generated unless <see cref="EmbeddedSecurityOptions.Password"/> was set). Test credentials only.</summary>
    public string Password { get; }

    /// <summary>The PEM file of the CA that signed the server (and client) certificates.</summary>
    public string CaPath => _certificates.CaPath;

    /// <summary>A client certificate (PEM) signed by the CA, for mutual TLS.</summary>
    public string ClientCertificatePath => _certificates.ClientCertificatePath;

    /// <summary>The PEM (PKCS#8) key of <see cref="ClientCertificatePath"/>.</summary>
    public string ClientKeyPath => _certificates.ClientKeyPath;

    /// <summary>A <c>client.properties</c> file for the first enabled mechanism: bootstrap.servers, security.protocol, sasl.mechanism, sasl.jaas.config, ssl.truststore.type=PEM and ssl.truststore.location.</summary>
    public string ClientPropertiesPath => Path.Combine(_certificates.Folder, "client.properties");

    /// <summary>A client certificate signed by a CA the front does not trust (tests of refused client certificates).</summary>
    internal string UntrustedClientCertificatePath => _certificates.UntrustedClientCertificatePath;

    /// <summary>The key of <see cref="UntrustedClientCertificatePath"/>.</summary>
    internal string UntrustedClientKeyPath => _certificates.UntrustedClientKeyPath;

    /// <summary>The PEM file of a CA that signed nothing the front presents (tests of unknown CAs).</summary>
    internal string OtherCaPath => _certificates.OtherCaPath;

    /// <summary>The temporary folder of the certificates (deleted on dispose).</summary>
    internal string Folder => _certificates.Folder;

    /// <summary>
    /// Copies <paramref name="options"/> with the settings that connect to this cluster: bootstrap servers, protocol,
    /// CA, and the credentials of <paramref name="mechanism"/> (default: the first enabled one).
    /// </summary>
    public T Apply<T>(T options, SaslMechanism? mechanism = null) where T : KielClientOptions
    {
        ArgumentNullException.ThrowIfNull(options);
        var m = mechanism ?? Options.SaslMechanisms.FirstOrDefault();
        return options with
        {
            BootstrapServers = BootstrapServers,
            SecurityProtocol = Protocol,
            SslCaLocation = Protocol is SecurityProtocol.Ssl or SecurityProtocol.SaslSsl ? CaPath : null,
            SslCertificateLocation = Options.RequireClientCertificate ? ClientCertificatePath : options.SslCertificateLocation,
            SslKeyLocation = Options.RequireClientCertificate ? ClientKeyPath : options.SslKeyLocation,
            SaslMechanism = m,
            SaslUsername = m == SaslMechanism.OAuthBearer ? null : Username,
            SaslPassword = m == SaslMechanism.OAuthBearer ? null : Password,
            OAuthBearerTokenProvider = m == SaslMechanism.OAuthBearer
                ? options.OAuthBearerTokenProvider ?? (_ => ValueTask.FromResult(OAuthBearerToken.CreateUnsecured(Username, TimeSpan.FromHours(1))))
                : null,
        };
    }

    /// <summary>The text of a <c>client.properties</c> for <paramref name="mechanism"/> (default: the first enabled one).</summary>
    public string ClientProperties(SaslMechanism? mechanism = null)
    {
        var sb = new StringBuilder();
        sb.Append("bootstrap.servers=").Append(BootstrapServers).Append('\n');
        sb.Append("security.protocol=").Append(SecurityNames.Of(Protocol)).Append('\n');
        if (Protocol is SecurityProtocol.SaslPlaintext or SecurityProtocol.SaslSsl)
        {
            var m = mechanism ?? Options.SaslMechanisms[0];
            sb.Append("sasl.mechanism=").Append(SecurityNames.Of(m)).Append('\n');
            sb.Append("sasl.jaas.config=").Append(m switch
            {
                SaslMechanism.Plain => $"org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{Username}\" password=\"{Password}\";",
                SaslMechanism.OAuthBearer => $"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"{Username}\";",
                _ => $"org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{Username}\" password=\"{Password}\";",
            }).Append('\n');
        }
        if (Protocol is SecurityProtocol.Ssl or SecurityProtocol.SaslSsl)
        {
            sb.Append("ssl.truststore.type=PEM\n");
            sb.Append("ssl.truststore.location=").Append(CaPath).Append('\n');
            if (Options.RequireClientCertificate)
            {
                sb.Append("ssl.keystore.type=PEM\n");
                sb.Append("ssl.keystore.location=").Append(_certificates.ClientKeystorePath).Append('\n');
            }
        }
        return sb.ToString();
    }

    /// <summary>The protocol and user; never the password.</summary>
    public override string ToString() => $"EmbeddedSecurity({SecurityNames.Of(Protocol)}, user {Username}, CA {CaPath})";
}
