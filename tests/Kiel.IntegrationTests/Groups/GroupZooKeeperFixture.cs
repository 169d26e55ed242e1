using Kiel.Testing.ZooKeeper;

namespace Kiel.IntegrationTests.Groups;

/// <summary>One standalone ZooKeeper for the group tests; each test uses its own group name.</summary>
public sealed class GroupZooKeeperFixture : IAsyncLifetime
{
    public EmbeddedZooKeeper Server { get; private set; } = null!;

    public string ConnectString => Server.ConnectString;

    public async Task InitializeAsync() => Server = await EmbeddedZooKeeper.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public static string UniqueGroup(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..8]}";
}
