using System.Collections.Concurrent;
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
    public async Task Closing_a_client_nobody_waits_on_leaves_no_unobserved_exception()
    {
        var unobserved = new ConcurrentQueue<Exception>();
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
        {
            if (e.Exception.InnerExceptions.Any(x => x is ClientClosedException)) unobserved.Enqueue(e.Exception);
        }
        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            for (var i = 0; i < 5; i++) await CreateAndCloseAsync();
            // The signal's task is collected with its client; an unobserved exception is raised by its finalizer.
            for (var i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }
        Assert.True(unobserved.IsEmpty, "unobserved: " + string.Join("\n", unobserved));
    }

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
