using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Kiel.ZooKeeper;

/// <summary>
/// Runs watch and state callbacks one at a time, in order, off the receive loop, so a callback may call the
/// client (and even wait on it) without stalling replies.
/// </summary>
internal sealed class CallbackDispatcher
{
    private readonly Channel<Action> _queue = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ILogger _logger;
    private readonly Task _loop;

    internal CallbackDispatcher(ILogger logger)
    {
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    internal void Post(Action callback) => _queue.Writer.TryWrite(callback);

    private async Task RunAsync()
    {
        await foreach (var callback in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try { callback(); }
            catch (Exception e) { Log.CallbackFailed(_logger, e); }
        }
    }

    /// <summary>Stops taking callbacks and waits (bounded) for the queued ones.</summary>
    internal async Task CompleteAsync(TimeSpan timeout)
    {
        _queue.Writer.TryComplete();
        try { await _loop.WaitAsync(timeout).ConfigureAwait(false); }
        catch (TimeoutException) { }
    }
}
