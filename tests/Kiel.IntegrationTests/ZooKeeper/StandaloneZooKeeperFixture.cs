using Kiel.Testing.ZooKeeper;
using Kiel.ZooKeeper;

namespace Kiel.IntegrationTests.ZooKeeper;

/// <summary>One standalone server shared by a test class; each test works under its own root node.</summary>
public sealed class StandaloneZooKeeperFixture : IAsyncLifetime
{
    public EmbeddedZooKeeper Server { get; private set; } = null!;

    public string ConnectString => Server.ConnectString;

    public async Task InitializeAsync() => Server = await EmbeddedZooKeeper.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public Task<ZooKeeperClient> ConnectAsync(string? chroot = null, TimeSpan? sessionTimeout = null) =>
        ConnectAsync(new ZooKeeperClientOptions { ConnectString = ConnectString + (chroot ?? ""), SessionTimeout = sessionTimeout ?? TimeSpan.FromSeconds(6) });

    public static async Task<ZooKeeperClient> ConnectAsync(ZooKeeperClientOptions options)
    {
        var client = new ZooKeeperClient(options);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await client.ConnectAsync(cts.Token);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    public static string UniqueRoot(string name) => $"/t-{name}-{Guid.NewGuid().ToString("N")[..8]}";
}
