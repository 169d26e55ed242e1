using System.Diagnostics;
using System.Threading.Channels;
using Kiel.ZooKeeper.Protocol;
using Microsoft.Extensions.Logging;

namespace Kiel.ZooKeeper;

/// <summary>
/// An async ZooKeeper client: one session over one connection at a time, moving between the servers of the
/// connect string as they fail, keeping the session (and its ephemeral nodes and watches) while the session
/// timeout allows, and starting a new session after an expiry (as kazoo does).
/// </summary>
/// <remarks>
/// Requests in flight when a connection drops fail at once with <see cref="ConnectionLossException"/>; requests made
/// while disconnected wait (bounded by <see cref="ZooKeeperClientOptions.ConnectionWaitTimeout"/>) for the next
/// connection. Watch callbacks and state events run one at a time on a dispatcher, never on the I/O loop.
/// </remarks>
public sealed partial class ZooKeeperClient : IAsyncDisposable
{
    private readonly ZooKeeperClientOptions _options;
    private readonly TimeProvider _time;
    private readonly (string Host, int Port)[] _hosts;
    private readonly string? _chroot;
    private readonly ILogger _logger;
    private readonly CallbackDispatcher _dispatcher;
    private readonly WatchRegistry _watches = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly List<(string Scheme, byte[] Auth)> _auths = [];
    private readonly List<Channel<SessionStateChange>> _stateSubscribers = [];
    private readonly object _stateLock = new();
    private TaskCompletionSource<Connection> _connected = NewConnectedSignal();
    private Connection? _connection;
    private Task? _loop;
    private long _sessionId;
    private byte[] _password = new byte[16];
    private long _lastZxid;
    // The connection that last served the session (kept while suspended): the source of LastContactTimestamp.
    private Connection? _sessionConnection;
    private int _negotiatedTimeoutMs;
    private int _hostIndex;
    private SessionState _state = SessionState.Connecting;
    private bool _expiredForGood;
    private int _disposed;
    private readonly LoadedTls? _tls;
    // SASL DIGEST-MD5 credentials, authenticated on every connection before it serves requests; null for none.
    private readonly ZooKeeperAuth? _sasl;
    // Why the last connection attempt failed (null once one succeeds): named when a caller gives up waiting.
    private volatile Exception? _lastConnectFailure;

    /// <summary>Creates a client; call <see cref="ConnectAsync(CancellationToken)"/> to establish the session.</summary>
    /// <param name="options">Settings; validated here.</param>
    public ZooKeeperClient(ZooKeeperClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _tls = options.Tls?.Load();
        foreach (var auth in options.Auth)
        {
            if (auth.Scheme == ZooKeeperAuth.SaslScheme) _sasl = auth;
            else _auths.Add((auth.Scheme, System.Text.Encoding.UTF8.GetBytes(auth.Credentials)));
        }
        _time = options.TimeProvider ?? TimeProvider.System;
        var cs = Kiel.ZooKeeper.ConnectString.Parse(options.ConnectString);
        _hosts = [.. cs.Hosts];
        if (options.ShuffleHosts) Random.Shared.Shuffle(_hosts);
        _chroot = cs.Chroot;
        _logger = options.LoggerFactory.CreateLogger("Kiel.ZooKeeper");
        _dispatcher = new CallbackDispatcher(_logger);
    }

    /// <summary>Creates a client for <paramref name="connectString"/> and connects it.</summary>
    public static async Task<ZooKeeperClient> ConnectAsync(string connectString, TimeSpan? sessionTimeout = null, CancellationToken cancellationToken = default)
    {
        var client = new ZooKeeperClient(new ZooKeeperClientOptions
        {
            ConnectString = connectString,
            SessionTimeout = sessionTimeout ?? TimeSpan.FromSeconds(10),
        });
        try
        {
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Raised (on the callback dispatcher) at every session state change.</summary>
    public event EventHandler<SessionStateChange>? StateChanged;

    /// <summary>The current state.</summary>
    public SessionState State { get { lock (_stateLock) return _state; } }

    /// <summary>True when a connection is up (state Connected or Reconnected).</summary>
    public bool IsConnected => Volatile.Read(ref _connection) is not null;

    /// <summary>The current session id (0 before the first session).</summary>
    public long SessionId => Interlocked.Read(ref _sessionId);

    /// <summary>The session timeout the server granted, or zero before the first session.</summary>
    public TimeSpan NegotiatedSessionTimeout => TimeSpan.FromMilliseconds(Volatile.Read(ref _negotiatedTimeoutMs));

    /// <summary>The highest zxid seen in a reply, sent at reconnect so a server behind it refuses the client.</summary>
    public long LastZxid => Interlocked.Read(ref _lastZxid);

    /// <summary>
    /// The session's last fresh contact with a server, as a <see cref="TimeProvider.GetTimestamp"/> value of <see cref="ZooKeeperClientOptions.TimeProvider"/> (the monotonic
    /// clock): when the newest request that a server answered for this session was queued, so the session was alive
    /// at least until then. 0 when there is no session. A reply that was read late (after the process was frozen)
    /// counts from when its request was queued, never from when it was read.
    /// </summary>
    public long LastContactTimestamp
    {
        get
        {
            var connection = Volatile.Read(ref _sessionConnection);
            return connection is null || SessionId == 0 ? 0 : connection.LastContact;
        }
    }

    /// <summary>The server (<c>host:port</c>) the client is connected to, or null.</summary>
    public string? CurrentServer => Volatile.Read(ref _connection)?.Server;

    /// <summary>The chroot of the connect string, or null.</summary>
    public string? Chroot => _chroot;

    private TimeSpan ConnectionWaitTimeout => _options.ConnectionWaitTimeout ?? _options.SessionTimeout;

    private static TaskCompletionSource<Connection> NewConnectedSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Fails the current "connected" signal for whoever waits on it, and marks the failure observed: often nobody waits
    /// (a client never connected, or a signal just swapped in after the server dropped the socket on closeSession), and
    /// the exception would otherwise surface as an unobserved task exception when the signal is collected.
    /// </summary>
    private void FailConnectedSignal(Exception error)
    {
        var signal = Volatile.Read(ref _connected);
        if (signal.TrySetException(error)) _ = signal.Task.Exception;
    }

    /// <summary>Starts the session loop and waits until the first session is established (bounded by <see cref="ZooKeeperClientOptions.ConnectionWaitTimeout"/>).</summary>
    /// <exception cref="ConnectionLossException">No server answered in time; the client keeps trying until disposed.</exception>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        lock (_stateLock) _loop ??= Task.Run(RunAsync);
        await WaitForConnectionAsync(null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A stream of session state changes from the moment of this call (not of the first MoveNext), ending when the
    /// client closes or <paramref name="cancellationToken"/> fires.
    /// </summary>
    public IAsyncEnumerable<SessionStateChange> WatchStateAsync(CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<SessionStateChange>(new UnboundedChannelOptions { SingleReader = true });
        lock (_stateLock)
        {
            if (_state == SessionState.Closed) channel.Writer.TryComplete();
            else _stateSubscribers.Add(channel);
        }
        return ReadStatesAsync(channel, cancellationToken);
    }

    private async IAsyncEnumerable<SessionStateChange> ReadStatesAsync(Channel<SessionStateChange> channel,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return change;
        }
        finally
        {
            lock (_stateLock) _stateSubscribers.Remove(channel);
        }
    }

    private void SetState(SessionState state, long sessionId, string? server)
    {
        var change = new SessionStateChange(state, sessionId, server);
        lock (_stateLock)
        {
            _state = state;
            foreach (var s in _stateSubscribers)
            {
                s.Writer.TryWrite(change);
                if (state == SessionState.Closed) s.Writer.TryComplete();
            }
        }
        var handler = StateChanged;
        if (handler is not null) _dispatcher.Post(() => handler(this, change));
    }

    private async Task<Connection> WaitForConnectionAsync(string? path, CancellationToken cancellationToken)
    {
        var connection = Volatile.Read(ref _connection);
        if (connection is not null && !connection.IsFailed) return connection;
        var started = _time.GetTimestamp();
        while (true)
        {
            if (Volatile.Read(ref _disposed) == 1) throw new ClientClosedException(path);
            if (_expiredForGood) throw new SessionExpiredException(path);
            var left = ConnectionWaitTimeout - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                var failure = _lastConnectFailure;
                throw new ConnectionLossException(path, $"No ZooKeeper server answered within {ConnectionWaitTimeout.TotalSeconds:0.#} s" + (path is null ? "" : $" (request for {path})")
                    + (failure is null ? "." : $"; the last attempt failed: {failure.Message}"), failure);
            }
            var signal = Volatile.Read(ref _connected);
            if (signal.Task.IsCompletedSuccessfully && signal.Task.Result.IsFailed)
            {
                // The session loop has not yet noticed the failed connection; it swaps the signal in a moment.
                await Task.Delay(5, cancellationToken).ConfigureAwait(false);
                continue;
            }
            try
            {
                connection = await signal.Task.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException) { continue; }
            if (!connection.IsFailed) return connection;
        }
    }

    private async Task RunAsync()
    {
        var token = _closing.Token;
        var failedAttempts = 0;
        long disconnectedSince = _time.GetTimestamp();
        while (!token.IsCancellationRequested)
        {
            // Nobody pinged the session for longer than its timeout: the ensemble has expired it (or will, before we could reach it).
            if (SessionId != 0 && _time.GetElapsedTime(disconnectedSince) > NegotiatedSessionTimeout)
            {
                if (!Expire()) return;
            }
            var (host, port) = _hosts[_hostIndex];
            _hostIndex = (_hostIndex + 1) % _hosts.Length;
            Connection connection;
            try
            {
                var connectTimeout = _options.ConnectTimeout
                    ?? TimeSpan.FromMilliseconds(Math.Max(1000, _options.SessionTimeout.TotalMilliseconds / _hosts.Length));
                connection = await Connection.OpenAsync(host, port, LastZxid, (int)_options.SessionTimeout.TotalMilliseconds,
                    SessionId, _password, _options.MaxReplySize, OnNotification, OnZxid, connectTimeout, _time, _tls, token).ConfigureAwait(false);
            }
            catch (Connection.SessionExpiredAtHandshake) when (SessionId != 0)
            {
                if (!Expire()) return;
                continue;
            }
            catch (Exception e) when (!token.IsCancellationRequested)
            {
                Log.ConnectFailed(_logger, $"{host}:{port}", e);
                // A refused certificate is worth a warning, once per run of the same failure (the loop retries it).
                if (e is System.Security.Authentication.AuthenticationException && _lastConnectFailure?.Message != e.Message)
                    Log.TlsFailed(_logger, $"{host}:{port}", e.Message);
                _lastConnectFailure = e;
                if (++failedAttempts % _hosts.Length == 0)
                {
                    var delay = TimeSpan.FromMilliseconds(Math.Min(_options.MaxReconnectDelay.TotalMilliseconds, 50 * (1 << Math.Min(failedAttempts / _hosts.Length, 5))));
                    try { await Task.Delay(delay, _time, token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
                }
                continue;
            }
            catch (Exception)
            {
                return;
            }
            if (_sasl is { } sasl)
            {
                try
                {
                    using var saslLimit = new CancellationTokenSource(_options.ConnectTimeout ?? TimeSpan.FromMilliseconds(Math.Max(1000, _options.SessionTimeout.TotalMilliseconds / _hosts.Length)), _time);
                    using var saslToken = CancellationTokenSource.CreateLinkedTokenSource(token, saslLimit.Token);
                    await AuthenticateSaslAsync(connection, sasl, saslToken.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (!token.IsCancellationRequested)
                {
                    connection.Fail(e);
                    var problem = e is OperationCanceledException ? new TimeoutException($"SASL DIGEST-MD5 authentication with {connection.Server} did not finish within the connect timeout.", e) : e;
                    if (_lastConnectFailure?.Message != problem.Message) Log.SaslFailed(_logger, sasl.SplitUserPassword().User, connection.Server, problem.Message);
                    _lastConnectFailure = problem;
                    if (++failedAttempts % _hosts.Length == 0)
                    {
                        var delay = TimeSpan.FromMilliseconds(Math.Min(_options.MaxReconnectDelay.TotalMilliseconds, 50 * (1 << Math.Min(failedAttempts / _hosts.Length, 5))));
                        try { await Task.Delay(delay, _time, token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
                    }
                    continue;
                }
                catch (Exception)
                {
                    connection.Fail(null);
                    return;
                }
            }
            failedAttempts = 0;
            _lastConnectFailure = null;
            var session = connection.Session;
            var isNew = session.SessionId != SessionId;
            Interlocked.Exchange(ref _sessionId, session.SessionId);
            _password = session.Password;
            Volatile.Write(ref _negotiatedTimeoutMs, session.TimeoutMs);
            if (isNew) Log.SessionEstablished(_logger, session.SessionId, connection.Server, session.TimeoutMs);
            else Log.SessionReconnected(_logger, session.SessionId, connection.Server);

            // Auth and watches go first, so they precede every request a waiting caller sends next.
            ResendAuth(connection);
            if (!isNew) RearmWatches(connection);
            Volatile.Write(ref _connection, connection);
            Volatile.Write(ref _sessionConnection, connection);
            SetState(isNew ? SessionState.Connected : SessionState.Reconnected, session.SessionId, connection.Server);
            Volatile.Read(ref _connected).TrySetResult(connection);

            Exception? reason;
            try { reason = await connection.Closed.WaitAsync(token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            disconnectedSince = _time.GetTimestamp();
            Volatile.Write(ref _connection, null);
            Interlocked.Exchange(ref _connected, NewConnectedSignal());
            // Our own closeSession makes the server drop the socket, possibly before _closing is cancelled: not a loss.
            if (token.IsCancellationRequested || Volatile.Read(ref _disposed) == 1) return;
            Log.ConnectionLost(_logger, connection.Server, reason);
            SetState(SessionState.Suspended, session.SessionId, null);
        }
    }

    /// <summary>Reports the expiry, drops the watches, and forgets the session. Returns false when the client stays expired.</summary>
    private bool Expire()
    {
        var lost = Interlocked.Exchange(ref _sessionId, 0);
        Volatile.Write(ref _sessionConnection, null);
        Log.SessionExpired(_logger, lost);
        _password = new byte[16];
        Interlocked.Exchange(ref _lastZxid, 0);
        foreach (var watcher in _watches.TakeAll())
        {
            var w = watcher;
            _dispatcher.Post(() => w(new WatchedEvent(WatchEventType.None, WatchState.Expired, null)));
        }
        SetState(SessionState.Expired, lost, null);
        if (_options.ReconnectAfterExpiry) return true;
        _expiredForGood = true;
        FailConnectedSignal(new SessionExpiredException(null));
        return false;
    }

    private void OnZxid(long zxid)
    {
        // Replies arrive in order on one connection, but keep the max in case of a stale read after a move.
        long current;
        while (zxid > (current = Interlocked.Read(ref _lastZxid)))
            if (Interlocked.CompareExchange(ref _lastZxid, zxid, current) == current) break;
    }

    private void OnNotification(WatcherEventMessage message)
    {
        if (message.Path is null || message.Type == (int)WatchEventType.None) return;
        var path = FromServerPath(message.Path);
        var type = (WatchEventType)message.Type;
        var evt = new WatchedEvent(type, WatchState.SyncConnected, path);
        foreach (var watcher in _watches.Trigger(type, path))
        {
            var w = watcher;
            _dispatcher.Post(() => w(evt));
        }
    }

    internal string ToServerPath(string path) =>
        _chroot is null ? path : path == "/" ? _chroot : _chroot + path;

    internal string FromServerPath(string serverPath)
    {
        if (_chroot is null) return serverPath;
        if (serverPath == _chroot) return "/";
        return serverPath.StartsWith(_chroot, StringComparison.Ordinal) && serverPath.Length > _chroot.Length && serverPath[_chroot.Length] == '/'
            ? serverPath[_chroot.Length..]
            : serverPath;
    }

    /// <summary>Closes the session (so its ephemeral nodes vanish at once), stops the loops and ends every stream. Bounded by <see cref="ZooKeeperClientOptions.CloseTimeout"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        var connection = Volatile.Read(ref _connection);
        var sessionId = SessionId;
        if (connection is not null)
        {
            try
            {
                using var cts = new CancellationTokenSource(_options.CloseTimeout);
                await SendAsync(connection, OpCode.CloseSession, null, static _ => { }, static (ref JuteReader _) => true, null, cts.Token).ConfigureAwait(false);
                Log.SessionClosed(_logger, sessionId);
            }
            catch (Exception e) when (e is ZooKeeperException or OperationCanceledException) { }
        }
        _closing.Cancel();
        connection?.Fail(null);
        FailConnectedSignal(new ClientClosedException(null));
        if (_loop is not null)
        {
            try { await _loop.WaitAsync(_options.CloseTimeout).ConfigureAwait(false); }
            catch (TimeoutException) { }
        }
        Volatile.Write(ref _connection, null);
        foreach (var watcher in _watches.TakeAll())
        {
            var w = watcher;
            _dispatcher.Post(() => w(new WatchedEvent(WatchEventType.None, WatchState.Closed, null)));
        }
        SetState(SessionState.Closed, sessionId, null);
        await _dispatcher.CompleteAsync(_options.CloseTimeout).ConfigureAwait(false);
        _closing.Dispose();
    }
}
