using System.Diagnostics;
using Kiel.Diagnostics;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.Network;

/// <summary>
/// One connection to one broker over a <see cref="Stream"/> (a socket's <see cref="System.Net.Sockets.NetworkStream"/>
/// by default, see <see cref="IConnectionTransportFactory"/>): correlation ids, up to
/// <see cref="ConnectionOptions.MaxInFlight"/> pipelined requests each with its own timeout, and ApiVersions
/// negotiation at connect. Frames are written and read by <see cref="FrameCodec"/>; requests queued while a write
/// is under way leave together in one write, and responses are read through one pooled read buffer.
/// </summary>
/// <remarks>
/// Every request ends: with its response, with a <see cref="KafkaRequestTimeoutException"/>, or with a
/// <see cref="KafkaConnectionException"/> when the connection breaks, which fails every request in flight and
/// every request waiting for a slot at once. A request that times out closes the connection, because replies
/// arrive in request order and everything behind it would wait as long.
/// </remarks>
internal partial class BrokerConnection : IAsyncDisposable
{
    private const int StrayIdCapacity = 256;

    private readonly Stream _stream;
    private readonly System.Net.Sockets.Socket? _socket; // the stream's socket when it is a plain NetworkStream: frames with segments go out in gathered sends
    private readonly ConnectionOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _slots;
    private List<PooledBufferWriter> _sendQueue = []; // guarded by _pending
    private List<PooledBufferWriter> _sending = []; // owned by the one active writer
    private bool _writing; // guarded by _pending: a writer is draining the queue
    private TaskCompletionSource<bool>? _nextBatchWritten; // guarded by _pending: completed once the queued frames are written
    private readonly Dictionary<int, PendingRequest> _pending = [];
    private readonly int[] _noReplyIds = new int[StrayIdCapacity];
    private int _noReplyCount;
    private int _noReplyNext;
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TagList _tags;
    private int _nextCorrelationId;
    private int _state; // 0 open, 1 closed
    private Exception? _closeReason;
    private long _lastActivity;
    private ITimer? _sweepTimer;
    private long _sweepDue = long.MaxValue; // guarded by _pending: when the one-shot sweep timer is armed for
    private Task _readLoop = Task.CompletedTask;
    private ApiVersionTable _versions;

    private BrokerConnection(Stream stream, BrokerEndpoint endpoint, ConnectionOptions options, string purpose)
    {
        _stream = stream;
        _socket = stream is System.Net.Sockets.NetworkStream network ? network.Socket : null;
        Endpoint = endpoint;
        _options = options;
        Purpose = purpose;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kiel.Network.BrokerConnection");
        _time = options.TimeProvider;
        _slots = new SemaphoreSlim(options.MaxInFlight, options.MaxInFlight);
        _nextCorrelationId = options.InitialCorrelationId < 0 ? 0 : options.InitialCorrelationId;
        _lastActivity = _time.GetTimestamp();
        _tags = NetworkMetrics.ServerTags(endpoint.Host, endpoint.Port);
        // Until negotiation finishes only ApiVersions itself may be sent.
        _versions = new ApiVersionTable([new(ApiKey.ApiVersions, new ApiVersionRange(0, 3))], endpoint, "bootstrap");
    }

    /// <summary>The broker at the other end.</summary>
    public BrokerEndpoint Endpoint { get; }

    /// <summary>What the connection is used for (<c>produce</c>, <c>fetch</c>, <c>group</c>, ...), for logs.</summary>
    public string Purpose { get; }

    /// <summary>The versions negotiated with the broker; use <see cref="ApiVersionTable.Choose(ApiKey, short, short)"/> to build version-dependent requests.</summary>
    public ApiVersionTable Versions => _versions;

    /// <summary>True until the connection closes.</summary>
    public bool IsOpen => Volatile.Read(ref _state) == 0;

    /// <summary>How many more requests would be queued for writing at once, in call order, rather than wait for a slot.</summary>
    internal int FreeRequestSlots => _slots.CurrentCount;

    /// <summary>Why the connection closed, or null while it is open.</summary>
    public Exception? CloseReason => Volatile.Read(ref _closeReason);

    /// <summary>True when the connection closed because it was idle or because the client closed it, not after an error.</summary>
    public bool ClosedCleanly { get; private set; }

    /// <summary>Completes when the connection has closed, for whatever reason.</summary>
    public Task Completion => _closed.Task;

    /// <summary>Requests written and not yet answered.</summary>
    public int InFlightCount
    {
        get { lock (_pending) return _pending.Count; }
    }

    /// <summary>
    /// Opens a connection and negotiates versions: ApiVersions v3 (falling back as the broker asks), or for brokers that
    /// predate ApiVersions the configured <see cref="ConnectionOptions.BrokerVersionFallback"/>, or with none configured
    /// the release one probe detects (0.9.0 or 0.8.2).
    /// </summary>
    /// <exception cref="KafkaConnectionException">The broker is unreachable, did not answer in time, or closed the connection.</exception>
    public static async Task<BrokerConnection> ConnectAsync(BrokerEndpoint endpoint, ConnectionOptions options, string purpose = "general", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kiel.Network.BrokerConnection");
        var started = options.TimeProvider.GetTimestamp();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.ConnectTimeout);
        try
        {
            if (!options.ApiVersionRequest)
                return await OpenAsync(endpoint, options, purpose, FallbackTable(endpoint, options.BrokerVersionFallback!), started, logger, deadline.Token).ConfigureAwait(false);

            var connection = await OpenAsync(endpoint, options, purpose, null, started, logger, deadline.Token).ConfigureAwait(false);
            try
            {
                if (!await connection.NegotiateAsync(deadline.Token).ConfigureAwait(false))
                    return await DetectOldBrokerAsync(connection, endpoint, options, purpose, started, logger, "UNSUPPORTED_VERSION at v0", cancellationToken).ConfigureAwait(false);
                NetworkLog.VersionsNegotiated(logger, endpoint, connection._versions.Source, connection._versions);
                await connection.AuthenticateAsync(deadline.Token).ConfigureAwait(false);
                return connection;
            }
            catch (KafkaConnectionException e) when (options.BrokerVersionFallback is null)
            {
                // No release configured: a broker that closes the connection on ApiVersions is 0.8 or 0.9; probe which.
                await connection.DisposeAsync().ConfigureAwait(false);
                return await DetectOldBrokerAsync(null, endpoint, options, purpose, started, logger, e.Problem, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (options.BrokerVersionFallback is not null && IsSilentOrClosed(e, cancellationToken))
            {
                // 0.8/0.9 brokers close the connection on an unknown API or never answer it.
                await connection.DisposeAsync().ConfigureAwait(false);
                NetworkLog.ApiVersionsFallback(logger, endpoint, e.Message, options.BrokerVersionFallback);
                using var retry = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                retry.CancelAfter(options.ConnectTimeout);
                return await OpenAsync(endpoint, options, purpose, FallbackTable(endpoint, options.BrokerVersionFallback), started, logger, retry.Token).ConfigureAwait(false);
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            NetworkLog.ConnectFailed(logger, endpoint, purpose, "timed out");
            throw new KafkaConnectionException(endpoint, $"connecting and negotiating versions took longer than ConnectTimeout ({options.ConnectTimeout.TotalMilliseconds:0} ms)", e);
        }
        catch (KafkaConnectionException e)
        {
            NetworkLog.ConnectFailed(logger, endpoint, purpose, e.Problem);
            throw;
        }
    }

    private static bool IsSilentOrClosed(Exception e, CancellationToken callerToken) =>
        e is KafkaConnectionException || (e is OperationCanceledException && !callerToken.IsCancellationRequested);

    private static ApiVersionTable FallbackTable(BrokerEndpoint endpoint, string release) =>
        new(BrokerVersionFallback.Get(release), endpoint, "fallback " + release);

    private static async Task<BrokerConnection> OpenAsync(BrokerEndpoint endpoint, ConnectionOptions options, string purpose, ApiVersionTable? versions,
        long started, ILogger logger, CancellationToken cancellationToken)
    {
        Stream stream;
        try
        {
            stream = await options.EffectiveTransport.ConnectAsync(endpoint, options, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new KafkaConnectionException(endpoint, $"could not connect ({e.Message})", e);
        }
        var connection = new BrokerConnection(stream, endpoint, options, purpose);
        if (versions is not null) connection._versions = versions;
        connection.Start();
        NetworkMetrics.Connections.Add(1, connection._tags);
        NetworkLog.Connected(logger, endpoint, purpose, options.TimeProvider.GetElapsedTime(started).TotalMilliseconds);
        return connection;
    }

    private void Start()
    {
        // A one-shot timer armed for the next real deadline (the earliest request's timeout, or the idle timeout), not a
        // periodic tick: an idle connection then costs no wake-ups (a 100 ms sweep per connection was most of an idle
        // client's CPU).
        _sweepTimer = _time.CreateTimer(static s => ((BrokerConnection)s!).Sweep(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        lock (_pending) ArmSweepLocked(NextSweepDueLocked(), _time.GetTimestamp());
        _readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>Learns the broker's versions; false when even ApiVersions v0 is refused and no fallback is configured (detect instead).</summary>
    private async Task<bool> NegotiateAsync(CancellationToken cancellationToken)
    {
        var request = new ApiVersionsRequest { ClientSoftwareName = _options.ClientSoftwareName, ClientSoftwareVersion = _options.ClientSoftwareVersion };
        var version = KielApiVersions.Get(ApiKey.ApiVersions)!.Value.Max;
        while (true)
        {
            ApiVersionsReply reply;
            using (var frame = await SendRawAsync(request, version, cancellationToken, _options.ConnectTimeout).ConfigureAwait(false))
                reply = ApiVersionsReply.Read(frame.Body.Span, version);
            if (reply.ThrottleTimeMs > 0) NetworkLog.Throttled(_logger, Endpoint, "ApiVersions", reply.ThrottleTimeMs);
            if (reply.ErrorCode == ErrorCode.UnsupportedVersion && version > 0)
            {
                // Retry at the broker's highest ApiVersions version, or at v0 when its list is unreadable.
                var retry = reply.Ranges.TryGetValue(ApiKey.ApiVersions, out var theirs) ? Math.Min(theirs.Max, (short)(version - 1)) : 0;
                if (retry < 0) retry = 0;
                NetworkLog.ApiVersionsDowngraded(_logger, Endpoint, version, (short)retry);
                version = (short)retry;
                continue;
            }
            if (reply.ErrorCode == ErrorCode.UnsupportedVersion && _options.BrokerVersionFallback is { } release)
            {
                // Even v0 is refused: the broker has no ApiVersions, like 0.8/0.9 (or the API was switched off).
                NetworkLog.ApiVersionsFallback(_logger, Endpoint, "UNSUPPORTED_VERSION at v0", release);
                _versions = FallbackTable(Endpoint, release);
                return true;
            }
            if (reply.ErrorCode == ErrorCode.UnsupportedVersion) return false;
            if (reply.ErrorCode != ErrorCode.None)
                throw new ApiVersionsException(Endpoint, version, (short)reply.ErrorCode);
            _versions = new ApiVersionTable(reply.Ranges, Endpoint, $"ApiVersions v{version}");
            return true;
        }
    }

    private void ThrowIfClosed()
    {
        if (Volatile.Read(ref _state) != 0) throw ClosedException();
    }

    private KafkaConnectionException ClosedException() =>
        new(Endpoint, "the connection is closed" + (_closeReason is { } r ? $" ({r.Message})" : ""), _closeReason);

    /// <summary>
    /// Sends <paramref name="request"/> at <paramref name="version"/> and returns the raw response frame, whose
    /// pooled buffer the caller must dispose. Use it to parse large responses (Fetch) in place.
    /// </summary>
    /// <param name="request">The request body.</param>
    /// <param name="version">The version to write; choose it with <see cref="Versions"/>.</param>
    /// <param name="cancellationToken">Stops waiting (the request stays on the wire; its reply is dropped).</param>
    /// <param name="timeout">Overrides <see cref="ConnectionOptions.RequestTimeout"/>, for example for a long-polling Fetch.</param>
    /// <param name="writeInline">Write a large frame on the calling thread when no write is under way and the
    /// connection is a plain socket, rather than from the thread pool (see <see cref="Enqueue"/>): for a caller that has
    /// nothing else to do meanwhile, such as the producer's sender for the requests to the last broker of its pass.</param>
    public ValueTask<ResponseFrame> SendRawAsync(IRequestMessage request, short version, CancellationToken cancellationToken = default, TimeSpan? timeout = null,
        bool writeInline = false)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled<ResponseFrame>(cancellationToken);
        if (Volatile.Read(ref _state) != 0) return ValueTask.FromException<ResponseFrame>(ClosedException());
        var limit = timeout ?? _options.RequestTimeout;
        var start = _time.GetTimestamp();
        Volatile.Write(ref _lastActivity, start);
        if (!_slots.Wait(0)) return SendQueuedAsync(request, version, start, limit, writeInline, cancellationToken);
        // Fast path: a free slot and a write that completes at once allocate no state machine.
        // A free slot: the frame is queued (and written at once when no write is under way) without a state machine.
        var pending = RentRequest().Start(request.ApiKey, version, start, start + (long)(limit.TotalSeconds * _time.TimestampFrequency), limit);
        try
        {
            _ = Enqueue(request, version, pending, waitForWrite: false, writeInline);
        }
        catch (Exception e)
        {
            return ValueTask.FromException<ResponseFrame>(e);
        }
        pending.RegisterCancellation(cancellationToken);
        return pending.Task;
    }

    private async ValueTask<ResponseFrame> SendQueuedAsync(IRequestMessage request, short version, long start, TimeSpan limit, bool writeInline,
        CancellationToken cancellationToken)
    {
        await AcquireSlotAsync(request.ApiKey, version, limit, cancellationToken).ConfigureAwait(false);
        var pending = RentRequest().Start(request.ApiKey, version, start, start + (long)(limit.TotalSeconds * _time.TimestampFrequency), limit);
        _ = Enqueue(request, version, pending, waitForWrite: false, writeInline);
        pending.RegisterCancellation(cancellationToken);
        return await pending.Task.ConfigureAwait(false);
    }

    /// <summary>Sends a request and decodes its response (copying byte fields, so the result is the caller's to keep).</summary>
    // Pooled state machine: every request of every client goes through here (a box per call otherwise).
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TResponse> SendAsync<TResponse>(IRequestMessage<TResponse> request, short version, CancellationToken cancellationToken = default, TimeSpan? timeout = null)
        where TResponse : IResponseMessage<TResponse>
    {
        var frame = await SendRawAsync(request, version, cancellationToken, timeout).ConfigureAwait(false);
        try
        {
            return frame.DecodeCopy<TResponse>();
        }
        finally
        {
            frame.Recycle(); // every byte field was copied: nothing refers to the frame
        }
    }

    /// <summary>Sends a request at the highest version both sides support within <see cref="KielApiVersions"/>, and decodes its response.</summary>
    /// <exception cref="UnsupportedVersionException">The broker supports no version Kiel can use.</exception>
    public ValueTask<TResponse> SendAsync<TResponse>(IRequestMessage<TResponse> request, CancellationToken cancellationToken = default)
        where TResponse : IResponseMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(request);
        return SendAsync(request, _versions.Choose(request.ApiKey), cancellationToken);
    }

    /// <summary>
    /// Sends a request that gets no response (Produce with acks=0); completes once the bytes are written. A reply
    /// that arrives anyway (the librdkafka mock answers acks=0) is dropped quietly.
    /// </summary>
    public async ValueTask SendWithoutReplyAsync(IRequestMessage request, short version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfClosed();
        Volatile.Write(ref _lastActivity, _time.GetTimestamp());
        var written = Enqueue(request, version, null, waitForWrite: true);
        if (!await written.WaitAsync(cancellationToken).ConfigureAwait(false)) ThrowIfClosed();
    }

    private async ValueTask AcquireSlotAsync(ApiKey apiKey, short version, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
        bool acquired;
        try
        {
            acquired = await _slots.WaitAsync(limit, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            ThrowIfClosed();
            throw;
        }
        if (!acquired)
        {
            NetworkMetrics.RequestErrors.Add(1, _tags);
            throw new KafkaRequestTimeoutException(Endpoint, apiKey, version, -1, limit, queued: true);
        }
        if (Volatile.Read(ref _state) != 0)
        {
            _slots.Release();
            ThrowIfClosed();
        }
    }

    private int NextCorrelationId()
    {
        // Caller holds the _pending lock. Ids stay non-negative and wrap to 0 after int.MaxValue (kiel never wrapped: L26).
        int id;
        do
        {
            id = _nextCorrelationId;
            _nextCorrelationId = id == int.MaxValue ? 0 : id + 1;
        } while (_pending.ContainsKey(id));
        return id;
    }

    /// <summary>
    /// Writes the request frame, assigns its correlation id, registers <paramref name="pending"/> (or remembers the id
    /// of a request that gets no reply) and queues the frame; the first caller to find no write under way writes
    /// the queue. The returned task completes with true when the frame has been written and with false when the
    /// connection closed first (callers that wait for a reply ignore it: a failed write fails the connection, and
    /// with it every request in flight). It never faults.
    /// </summary>
    private Task<bool> Enqueue(IRequestMessage request, short version, PendingRequest? pending, bool waitForWrite, bool writeInline = false)
    {
        // Record batches of a produce request are written from where the producer encoded them, not copied in.
        var buffer = RentFrame();
        try
        {
            FrameCodec.WriteRequest(buffer, request, version, 0, _options.ClientId);
        }
        catch
        {
            buffer.Dispose();
            if (pending is not null) _slots.Release();
            throw;
        }
        bool startWriter;
        Task<bool> written = WrittenTrue;
        lock (_pending)
        {
            if (_state != 0)
            {
                buffer.Dispose();
                if (pending is not null) _slots.Release();
                throw ClosedException();
            }
            var correlationId = NextCorrelationId();
            FrameCodec.PatchCorrelationId(buffer.WrittenSpanMutable, correlationId);
            if (pending is not null)
            {
                pending.CorrelationId = correlationId;
                _pending.Add(correlationId, pending);
                if (pending.Deadline < _sweepDue) ArmSweepLocked(pending.Deadline, pending.StartTimestamp);
            }
            else
            {
                _noReplyIds[_noReplyNext] = correlationId;
                _noReplyNext = (_noReplyNext + 1) % StrayIdCapacity;
                if (_noReplyCount < StrayIdCapacity) _noReplyCount++;
            }
            _sendQueue.Add(buffer);
            startWriter = !_writing;
            if (startWriter) _writing = true;
            else if (waitForWrite) written = (_nextBatchWritten ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
        if (pending is not null) NetworkMetrics.RequestsInFlight.Add(1, _tags);
        // A small frame is written at once, for latency. A large one (a produce request of big batches) is written from
        // the thread pool: on loopback or a fast link the kernel copies it and runs the TCP send inline, which would
        // stall a caller with more to do (the producer's sender, with more requests of its pass to start). A caller
        // with nothing more to do writes it itself over a plain socket (writeInline): that saves waking a pool thread
        // for every request, and the send returns once the kernel has taken what fits in the socket's buffer (the rest
        // goes on from the socket's own completion). Over TLS it still goes to the pool: encrypting a large frame is work.
        if (startWriter)
        {
            var small = buffer.TotalLength <= SmallFrameLimit;
            if (small || (writeInline && _socket is not null))
            {
                if (!small) Interlocked.Increment(ref _inlineLargeWrites);
                written = WriteQueuedAsync();
            }
            else if (waitForWrite) written = Task.Run(WriteQueuedAsync);
            else ThreadPool.UnsafeQueueUserWorkItem(_largeFrameWriter ??= new LargeFrameWriter(this), preferLocal: false);
        }
        return written;
    }

    private LargeFrameWriter? _largeFrameWriter;
    private long _inlineLargeWrites;

    /// <summary>How many large frames this connection's callers wrote themselves (writeInline; for tests).</summary>
    internal long InlineLargeWrites => Interlocked.Read(ref _inlineLargeWrites);

    /// <summary>
    /// Starts the writer on the thread pool for a large frame whose caller does not wait for the write (every request
    /// that gets a reply): one object per connection, where <c>Task.Run</c> allocated a delegate and a promise per request.
    /// </summary>
    private sealed class LargeFrameWriter(BrokerConnection connection) : IThreadPoolWorkItem
    {
        public void Execute() => _ = connection.WriteQueuedAsync();
    }

    /// <summary>
    /// Writes every queued frame, coalescing small ones into one write, until the queue is empty. Only one writer
    /// runs at a time. A failed write closes the connection, and the returned task completes with false; it never faults.
    /// </summary>
    private async Task<bool> WriteQueuedAsync()
    {
        while (true)
        {
            TaskCompletionSource<bool>? written;
            lock (_pending)
            {
                if (_sendQueue.Count == 0 || _state != 0)
                {
                    _writing = false;
                    return _state == 0;
                }
                (_sendQueue, _sending) = (_sending, _sendQueue);
                written = _nextBatchWritten;
                _nextBatchWritten = null;
            }
            try
            {
                var bytes = await WriteFramesAsync(_sending).ConfigureAwait(false);
                NetworkMetrics.BytesSent.Add(bytes, _tags);
            }
            catch (Exception e)
            {
                var reason = Volatile.Read(ref _state) != 0
                    ? ClosedException()
                    : new KafkaConnectionException(Endpoint, $"writing {_sending.Count} request frame(s) failed: {e.Message}", e);
                Fail(reason);
                lock (_pending) _writing = false;
                written?.TrySetResult(false);
                return false;
            }
            finally
            {
                foreach (var frame in _sending) ReturnFrame(frame);
                _sending.Clear();
            }
            written?.TrySetResult(true);
        }
    }

    private static readonly Task<bool> WrittenTrue = Task.FromResult(true);

    // Written frames' writers (their arrays kept up to FramePoolArrayLimit), reused for the next requests: a producer
    // of large batches sends a request per batch, and the writer and its segment list were allocated for each.
    private readonly Stack<PooledBufferWriter> _framePool = new();
    private const int FramePoolSize = 16;
    private const int FramePoolArrayLimit = 64 * 1024;

    private PooledBufferWriter RentFrame()
    {
        lock (_framePool)
            if (_framePool.TryPop(out var frame)) return frame;
        return new PooledBufferWriter(512) { GathersSegments = true };
    }

    private void ReturnFrame(PooledBufferWriter frame)
    {
        if (frame.Capacity <= FramePoolArrayLimit)
        {
            frame.Clear();
            lock (_framePool)
            {
                if (_framePool.Count < FramePoolSize)
                {
                    _framePool.Push(frame);
                    return;
                }
            }
        }
        frame.Dispose();
    }

    // Requests answered by their reply, and response frames their callers recycled, reused for the next requests: an
    // awaited record is one request, and these two were most of what it allocated. See PendingRequest and ResponseFrame.
    private const int ExchangePoolSize = 64;
    private readonly SmallPool<PendingRequest> _requestPool = new(ExchangePoolSize);
    private readonly SmallPool<ResponseFrame> _responsePool = new(ExchangePoolSize);

    /// <summary>How many requests and response frames wait in the pools (for tests).</summary>
    internal (int Requests, int Frames) PooledExchangeObjects => (_requestPool.Count, _responsePool.Count);

    private PendingRequest RentRequest() => _requestPool.TryRent(out var request) ? request : new PendingRequest(this);

    /// <summary>Takes back a request whose reply its caller has read (<see cref="PendingRequest"/>).</summary>
    internal void ReturnRequest(PendingRequest request) => _requestPool.Return(request);

    private ResponseFrame RentResponseFrame() => _responsePool.TryRent(out var frame) ? frame : new ResponseFrame(this);

    /// <summary>Takes back a frame its caller recycled (<see cref="ResponseFrame.Recycle"/>).</summary>
    internal void ReturnResponseFrame(ResponseFrame frame) => _responsePool.Return(frame);

    /// <summary>The most bytes of small frames copied together into one write.</summary>
    internal const int CoalesceLimit = 64 * 1024;

    /// <summary>
    /// Frames larger than this are written on their own: copying a large produce request costs more CPU than the
    /// write it would save, while small requests (metadata, offsets, fetches) gain from sharing one.
    /// </summary>
    internal const int SmallFrameLimit = 16 * 1024;

    // Pooled state machines: a producer of large batches writes a frame or two per batch.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<long> WriteFramesAsync(List<PooledBufferWriter> frames)
    {
        var token = _closing.Token;
        if (_socket is { } socket && HasSegments(frames))
        {
            // Gathered sends, awaited here rather than in a method of their own: one pooled state machine per write.
            // No token on the send itself: closing the connection disposes the socket, which ends a send the broker
            // is not reading.
            var send = _gatheredSend ??= new GatheredSend();
            var gathered = GatherPieces(frames);
            try
            {
                for (var first = 0; first < _pieces!.Count;)
                {
                    token.ThrowIfCancellationRequested();
                    var left = NextWindow(ref first);
                    while (true)
                    {
                        Interlocked.Increment(ref _gatheredSends);
                        var sent = await send.SendAsync(socket, _window!).ConfigureAwait(false);
                        left -= sent;
                        if (left <= 0) break;
                        if (sent <= 0) throw new IOException("the socket took no bytes of a gathered send");
                        SkipSent(sent);
                    }
                }
            }
            finally
            {
                _pieces!.Clear();
                _window!.Clear();
            }
            return gathered;
        }
        long total = 0;
        var i = 0;
        while (i < frames.Count)
        {
            var size = frames[i].WrittenCount;
            var j = i + 1;
            if (frames[i].Segments is not null)
            {
                await WriteGatheredAsync(frames[i], token).ConfigureAwait(false);
                total += frames[i].TotalLength;
                i = j;
                continue;
            }
            if (size <= SmallFrameLimit)
            {
                while (j < frames.Count && frames[j].Segments is null && frames[j].WrittenCount <= SmallFrameLimit && size + frames[j].WrittenCount <= CoalesceLimit)
                    size += frames[j++].WrittenCount;
            }
            if (j == i + 1)
            {
                await _stream.WriteAsync(frames[i].WrittenMemory, token).ConfigureAwait(false);
            }
            else
            {
                var joined = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
                try
                {
                    var at = 0;
                    for (var k = i; k < j; k++)
                    {
                        frames[k].WrittenSpan.CopyTo(joined.AsSpan(at));
                        at += frames[k].WrittenCount;
                    }
                    await _stream.WriteAsync(joined.AsMemory(0, size), token).ConfigureAwait(false);
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(joined);
                }
            }
            total += size;
            i = j;
        }
        await _stream.FlushAsync(token).ConfigureAwait(false);
        return total;
    }

    private static bool HasSegments(List<PooledBufferWriter> frames)
    {
        foreach (var frame in frames)
            if (frame.Segments is not null) return true;
        return false;
    }

    /// <summary>
    /// The most pieces (inline bytes and segments) given to one gathered send: .NET's socket send keeps up to 8 on the
    /// stack (Linux's UIO_FASTIOV) and allocates two arrays for more.
    /// </summary>
    internal const int MaxGatheredPieces = 8;

    private List<ArraySegment<byte>>? _pieces;
    private List<ArraySegment<byte>>? _window;
    private GatheredSend? _gatheredSend;
    private long _gatheredSends;

    /// <summary>How many gathered socket sends this connection made (for tests).</summary>
    internal long GatheredSends => Interlocked.Read(ref _gatheredSends);

    /// <summary>
    /// Lists the pieces of <paramref name="frames"/> for gathered sends (one <c>sendmsg</c> for up to
    /// <see cref="MaxGatheredPieces"/> pieces), rather than a write for each batch and for each run of inline bytes
    /// between them, which on a fast link each became a packet of its own. The lists and the socket operation are
    /// the connection's, used by its one writer only, so a warm connection allocates nothing for them.
    /// </summary>
    /// <returns>The frames' bytes.</returns>
    private long GatherPieces(List<PooledBufferWriter> frames)
    {
        var pieces = _pieces ??= new List<ArraySegment<byte>>(MaxGatheredPieces);
        _window ??= new List<ArraySegment<byte>>(MaxGatheredPieces);
        long total = 0;
        foreach (var frame in frames)
        {
            frame.AddPieces(pieces);
            total += frame.TotalLength;
        }
        return total;
    }

    /// <summary>Moves the next pieces, up to <see cref="MaxGatheredPieces"/>, into the send window.</summary>
    /// <returns>The window's bytes.</returns>
    private long NextWindow(ref int first)
    {
        var window = _window!;
        window.Clear();
        long bytes = 0;
        var end = Math.Min(_pieces!.Count, first + MaxGatheredPieces);
        for (; first < end; first++)
        {
            window.Add(_pieces[first]);
            bytes += _pieces[first].Count;
        }
        return bytes;
    }

    /// <summary>
    /// After a partial send (Linux's sockets complete a send whole; kept for other systems), drops from the window
    /// what was sent, so that the next send goes on from the first byte not sent.
    /// </summary>
    private void SkipSent(int sent)
    {
        var window = _window!;
        var done = 0;
        while (sent >= window[done].Count) sent -= window[done++].Count;
        window.RemoveRange(0, done);
        window[0] = window[0][sent..];
    }

    /// <summary>A socket send of a list of pieces, awaited without allocating: one per connection, reused by its writer.</summary>
    private sealed class GatheredSend : System.Net.Sockets.SocketAsyncEventArgs, System.Threading.Tasks.Sources.IValueTaskSource<int>
    {
        private System.Threading.Tasks.Sources.ManualResetValueTaskSourceCore<int> _core;

        public GatheredSend() : base(unsafeSuppressExecutionContextFlow: true)
        {
        }

        public ValueTask<int> SendAsync(System.Net.Sockets.Socket socket, List<ArraySegment<byte>> pieces)
        {
            _core.Reset();
            BufferList = pieces;
            if (socket.SendAsync(this)) return new ValueTask<int>(this, _core.Version);
            return SocketError == System.Net.Sockets.SocketError.Success
                ? new ValueTask<int>(BytesTransferred)
                : ValueTask.FromException<int>(new System.Net.Sockets.SocketException((int)SocketError));
        }

        protected override void OnCompleted(System.Net.Sockets.SocketAsyncEventArgs e)
        {
            if (SocketError == System.Net.Sockets.SocketError.Success) _core.SetResult(BytesTransferred);
            else _core.SetException(new System.Net.Sockets.SocketException((int)SocketError));
        }

        public int GetResult(short token) => _core.GetResult(token);

        public System.Threading.Tasks.Sources.ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, System.Threading.Tasks.Sources.ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    /// <summary>Writes a frame whose large record batches are shared segments to a stream that cannot gather (TLS): the inline bytes between them, and each segment in place, a write each.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteGatheredAsync(PooledBufferWriter frame, CancellationToken token)
    {
        var pieces = _pieces ??= new List<ArraySegment<byte>>(MaxGatheredPieces);
        frame.AddPieces(pieces);
        try
        {
            for (var k = 0; k < pieces.Count; k++) await _stream.WriteAsync(pieces[k], token).ConfigureAwait(false);
        }
        finally
        {
            pieces.Clear();
        }
    }

    /// <summary>Closes the connection; requests in flight fail with a <see cref="KafkaConnectionException"/>. Bounded: it never waits for the broker.</summary>
    public async ValueTask DisposeAsync()
    {
        Fail(new KafkaConnectionException(Endpoint, "the connection was closed by the client"), clean: true);
        try
        {
            await _readLoop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        lock (_framePool)
            while (_framePool.TryPop(out var frame)) frame.Dispose();
        // Safe while a send is under way: the operation frees itself when it ends.
        _gatheredSend?.Dispose();
        // _closing is not disposed: a racing sender may still read its token, and it owns no timer.
    }

    /// <summary>
    /// Records that the broker throttled a request (the <c>ThrottleTimeMs</c> of a decoded response): logged, and
    /// counted in the <c>kiel.client.throttle.duration</c> histogram.
    /// </summary>
    public void ReportThrottle(ApiKey apiKey, int throttleTimeMs)
    {
        if (throttleTimeMs <= 0) return;
        NetworkLog.Throttled(_logger, Endpoint, NetworkMetrics.ApiName(apiKey), throttleTimeMs);
        var tags = _tags;
        tags.Add("kafka.api", NetworkMetrics.ApiName(apiKey));
        NetworkMetrics.ThrottleDuration.Record(throttleTimeMs / 1000.0, tags);
    }
}
