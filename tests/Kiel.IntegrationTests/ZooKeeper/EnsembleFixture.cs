using Kiel.Testing.ZooKeeper;

namespace Kiel.IntegrationTests.ZooKeeper;

/// <summary>One three-server ensemble shared by a test class.</summary>
public sealed class EnsembleFixture : IAsyncLifetime
{
    public EmbeddedZooKeeperEnsemble Ensemble { get; private set; } = null!;

    public async Task InitializeAsync() => Ensemble = await EmbeddedZooKeeperEnsemble.StartAsync(3);

    public async Task DisposeAsync() => await Ensemble.DisposeAsync();

    /// <summary>Brings every member back (a test may have stopped one) and waits for a quorum.</summary>
    public async Task HealAsync()
    {
        for (var i = 0; i < Ensemble.Count; i++)
            if (!Ensemble.IsRunning(i)) await Ensemble.StartServerAsync(i);
        await Ensemble.WaitForQuorumAsync();
    }
}
