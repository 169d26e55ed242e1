using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Producing;
using Kiel.Producing;

namespace Kiel.IntegrationTests.Security;

/// <summary><c>kiel cluster --security sasl_ssl --sasl-mechanism SCRAM-SHA-512</c> in its own process: the printed client.properties connects Kiel.</summary>
public sealed class SecuredClusterCommandTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Kiel_cluster_with_security_prints_credentials_and_a_working_client_properties()
    {
        await using var kiel = KielCliProcess.Start("cluster", "--brokers-count", "1", "--topic", "sec:1", "--security", "sasl_ssl", "--sasl-mechanism", "SCRAM-SHA-512");
        string Value(string line) => line[(line.IndexOf('=') + 1)..];
        var ca = Value(await kiel.WaitForLineAsync(l => l.StartsWith("ssl.ca.location=", StringComparison.Ordinal), Bound));
        var properties = Value(await kiel.WaitForLineAsync(l => l.StartsWith("client.properties=", StringComparison.Ordinal), Bound));
        await kiel.WaitForLineAsync(l => l.StartsWith("Ready.", StringComparison.Ordinal), Bound);
        Assert.Contains(kiel.StdOutSoFar, l => l == "sasl.mechanism=SCRAM-SHA-512");
        Assert.Contains(kiel.StdOutSoFar, l => l.StartsWith("sasl.password=", StringComparison.Ordinal));
        Assert.True(File.Exists(ca));
        var text = await File.ReadAllTextAsync(properties);
        Assert.Contains("security.protocol=SASL_SSL", text);
        Assert.Contains("ScramLoginModule required username=\"kiel\"", text);
        Assert.Contains("ssl.truststore.type=PEM", text);
        Assert.Contains($"ssl.truststore.location={ca}", text);

        var options = KielClientOptions.FromProperties(properties, ProducerTestKit.Options("unused:1"));
        await using (var producer = new KielProducer<string, string>(options))
        {
            var report = await producer.ProduceAsync("sec", "k", "v").AsTask().WaitAsync(Bound);
            Assert.True(report.IsDelivered, report.Error?.Message);
        }

        kiel.Interrupt();
        Assert.True(await kiel.WaitForExitAsync(Bound), kiel.StdErr);
        Assert.False(File.Exists(ca), "the certificates folder must be deleted when the cluster stops");
    }
}
