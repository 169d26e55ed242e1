using Kiel.Testing;

namespace Kiel.IntegrationTests.Fixtures;

/// <summary>One 3-broker embedded cluster per test class (state such as groups and offsets is per cluster).</summary>
public sealed class KafkaClusterFixture : IAsyncLifetime
{
    private EmbeddedKafkaCluster? cluster;

    /// <summary>The running cluster.</summary>
    public EmbeddedKafkaCluster Cluster => cluster ?? throw new InvalidOperationException("The cluster fixture has not started.");

    /// <summary>Shortcut for <see cref="EmbeddedKafkaCluster.BootstrapServers"/>.</summary>
    public string BootstrapServers => Cluster.BootstrapServers;

    public async Task InitializeAsync() =>
        cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });

    public async Task DisposeAsync()
    {
        if (cluster is not null)
        {
            await cluster.DisposeAsync();
        }
    }

    /// <summary>A topic name unique within this run, so tests of one class do not see each other's data.</summary>
    public static string UniqueTopic(string prefix = "t") => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 60)];
}
