using System.Globalization;

namespace Kiel.Testing;

public sealed partial class EmbeddedKafkaCluster
{
    private SecuredFront? front;
    private TestCertificates? certificates;

    /// <summary>How clients connect to the secured front, or null for a plaintext cluster (no <see cref="EmbeddedKafkaOptions.Security"/>).</summary>
    public EmbeddedSecurity? Security { get; private set; }

    /// <summary>The mock brokers' own plaintext listeners (behind the secured front when there is one).</summary>
    internal string MockBootstrapServers { get; private set; } = "";

    private void StartSecurity(EmbeddedSecurityOptions options)
    {
        MockBootstrapServers = BootstrapServers;
        var ports = BootstrapServers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(address => int.Parse(address[(address.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture)).ToList();
        // Certificates are made for every protocol: client.properties points at the CA even without TLS only when TLS is on.
        certificates = TestCertificates.Create(options.ServerCertificate);
        front = new SecuredFront(options, ports, certificates, logger);
        BootstrapServers = front.BootstrapServers;
        Security = new EmbeddedSecurity(options, front.BootstrapServers, front.Password, certificates);
        File.WriteAllText(Security.ClientPropertiesPath, Security.ClientProperties());
    }

    private void StopSecurity()
    {
        front?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        front = null;
        certificates?.Dispose();
        certificates = null;
    }
}
