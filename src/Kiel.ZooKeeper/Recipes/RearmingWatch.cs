using System.Threading.Channels;

namespace Kiel.ZooKeeper.Recipes;

/// <summary>
/// The machinery shared by <see cref="DataWatch"/> and <see cref="ChildrenWatch"/>: one pump task reads the node
/// with a one-shot watch, publishes the value when it changed, and reads again when the watch fires, when the
/// session reconnects or is replaced after an expiry, and (after a short pause) when a read fails.
/// </summary>
/// <typeparam name="T">The published value.</typeparam>
public abstract class RearmingWatch<T> : IAsyncDisposable
{
    private readonly Channel<bool> _signals = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly List<Channel<T>> _subscribers = [];
    private readonly Func<T, ValueTask>? _onChange;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<WatchedEvent> _watcher;
    private Task? _pump;
    private bool _hasValue;
    private T _current = default!;

    /// <summary>Creates the watch; call <see cref="StartAsync"/>.</summary>
    protected RearmingWatch(ZooKeeperClient client, string path, Func<T, ValueTask>? onChange)
    {
        ArgumentNullException.ThrowIfNull(client);
        ZooKeeperPath.Validate(path);
        Client = client;
        Path = path;
        _onChange = onChange;
        _watcher = e =>
        {
            if (e.Type != WatchEventType.None) Signal();
        };
    }

    /// <summary>The client.</summary>
    protected ZooKeeperClient Client { get; }

    /// <summary>The watched path.</summary>
    public string Path { get; }

    /// <summary>The last value published.</summary>
    public T Current { get { lock (_subscribers) return _current; } }

    /// <summary>The one-shot watcher to pass with every read.</summary>
    protected Action<WatchedEvent> Watcher => _watcher;

    /// <summary>Reads the node, registering <see cref="Watcher"/>.</summary>
    protected abstract Task<T> ReadAsync(CancellationToken cancellationToken);

    /// <summary>True when <paramref name="next"/> differs from <paramref name="previous"/> and must be published.</summary>
    protected abstract bool Differs(T previous, T next);

    /// <summary>Starts the pump and waits (bounded by the token) until the first value has been published.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_pump is not null) throw new InvalidOperationException("The watch is already started.");
        Client.StateChanged += OnStateChanged;
        _pump = Task.Run(PumpAsync);
        Signal();
        await _first.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void OnStateChanged(object? sender, SessionStateChange change)
    {
        // After a reconnect setWatches re-armed the server side, but a read also catches anything missed; after an expiry the watch must be set again.
        if (change.State is SessionState.Connected or SessionState.Reconnected) Signal();
        if (change.State == SessionState.Closed) _signals.Writer.TryComplete();
    }

    private void Signal() => _signals.Writer.TryWrite(true);

    private async Task PumpAsync()
    {
        var token = _stop.Token;
        try
        {
            while (await _signals.Reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                _signals.Reader.TryRead(out _);
                T value;
                try { value = await ReadAsync(token).ConfigureAwait(false); }
                catch (ClientClosedException) { break; }
                catch (Exception e) when (e is ZooKeeperException && !token.IsCancellationRequested)
                {
                    // Connection loss or expiry: the state events bring a new signal; this retry covers a missed one.
                    _ = RetryLaterAsync(token);
                    continue;
                }
                await PublishAsync(value).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
        finally
        {
            lock (_subscribers)
                foreach (var s in _subscribers) s.Writer.TryComplete();
            _first.TrySetCanceled();
        }
    }

    private async Task RetryLaterAsync(CancellationToken token)
    {
        try { await Task.Delay(200, token).ConfigureAwait(false); Signal(); }
        catch (OperationCanceledException) { }
    }

    private async Task PublishAsync(T value)
    {
        lock (_subscribers)
        {
            if (_hasValue && !Differs(_current, value)) return;
            _hasValue = true;
            _current = value;
            foreach (var s in _subscribers) s.Writer.TryWrite(value);
        }
        if (_onChange is not null)
        {
            try { await _onChange(value).ConfigureAwait(false); }
            catch (Exception) when (!_stop.IsCancellationRequested)
            {
                // A failing user callback must not stop the watch; the next change calls it again.
            }
        }
        _first.TrySetResult();
    }

    /// <summary>The current value, then every change, until the watch or client is disposed or the token fires.</summary>
    public async IAsyncEnumerable<T> ChangesAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true });
        lock (_subscribers)
        {
            if (_hasValue) channel.Writer.TryWrite(_current);
            if (_stop.IsCancellationRequested) channel.Writer.TryComplete();
            else _subscribers.Add(channel);
        }
        try
        {
            await foreach (var value in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return value;
        }
        finally
        {
            lock (_subscribers) _subscribers.Remove(channel);
        }
    }

    /// <summary>Stops the watch (bounded: the pump is cancelled) and ends every stream.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        Client.StateChanged -= OnStateChanged;
        _stop.Cancel();
        _signals.Writer.TryComplete();
        if (_pump is not null)
        {
            try { await _pump.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
            catch (TimeoutException) { }
        }
        GC.SuppressFinalize(this);
    }
}
