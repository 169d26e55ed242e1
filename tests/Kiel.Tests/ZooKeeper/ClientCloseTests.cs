using System.Runtime.CompilerServices;
using Kiel.ZooKeeper;

namespace Kiel.Tests.ZooKeeper;

/// <summary>
/// Issue 19 (hostile broker): closing a client fails its "connected" signal with <see cref="ClientClosedException"/>
/// for whoever waits on it. When nobody waits (a client never connected, or one whose connection had just been lost and
/// replaced by a fresh signal, as happens when the server drops the socket after closeSession), that exception must not
/// surface as an unobserved task exception.
/// </summary>
public sealed class ClientCloseTests
{
    [Fact]
    public Task Closing_a_client_nobody_waits_on_leaves_no_unobserved_exception() =>
        // The signal's task is collected with its client; an unobserved exception is raised by its finalizer.
        UnobservedExceptions.AssertNoneAsync(e => e.InnerExceptions.Any(x => x is ClientClosedException), async () =>
        {
            for (var i = 0; i < 5; i++) await CreateAndCloseAsync();
        });

    // Not inlined, so that nothing on the test's frame keeps the client (and its signal) alive.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task CreateAndCloseAsync()
    {
        // Never connected: no I/O, and the signal has no waiter when the close fails it.
        var client = new ZooKeeperClient(new ZooKeeperClientOptions { ConnectString = "127.0.0.1:1" });
        await client.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(SessionState.Closed, client.State);
    }
}
