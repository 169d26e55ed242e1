using Kiel.Network;

namespace Kiel.Cluster;

/// <summary>The connection of one purpose to one broker: the open connection, a connect in progress, and reconnect backoff state.</summary>
internal sealed class ConnectionSlot
{
    public readonly Lock Sync = new();
    public BrokerConnection? Current;
    public Task<BrokerConnection>? Connecting;
    public int Failures;
    public long NextAttempt;

    public async Task CloseAsync()
    {
        BrokerConnection? current;
        Task<BrokerConnection>? connecting;
        lock (Sync)
        {
            current = Current;
            connecting = Connecting;
            Current = null;
        }
        if (current is not null) await current.DisposeAsync().ConfigureAwait(false);
        if (connecting is not null)
        {
            try
            {
                var late = await connecting.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                await late.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The connect failed or was cancelled by disposal; nothing to close.
            }
        }
    }
}
