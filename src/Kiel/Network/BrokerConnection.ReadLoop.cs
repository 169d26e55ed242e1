using System.Buffers;
using Kiel.Diagnostics;
using Kiel.Protocol;

namespace Kiel.Network;

internal partial class BrokerConnection
{
    /// <summary>The size of the one pooled read buffer; responses that fit are cut out of it, larger ones are read straight into their own buffer.</summary>
    internal const int ReadBufferSize = 64 * 1024;

    /// <summary>Responses up to this size get their buffer at once; larger ones grow theirs (doubling) as their bytes arrive.</summary>
    internal const int FrameBufferStep = 8 * 1024 * 1024;

    private async Task ReadLoopAsync()
    {
        var token = _closing.Token;
        var read = ArrayPool<byte>.Shared.Rent(ReadBufferSize);
        int start = 0, end = 0; // the unread bytes are read[start..end]
        try
        {
            while (true)
            {
                // The size prefix, and with it as many following bytes as the stream has ready.
                if (end - start < FrameCodec.SizePrefixLength)
                {
                    Compact(read, ref start, ref end);
                    end += await ReadAtLeastAsync(read.AsMemory(end), FrameCodec.SizePrefixLength - end, token).ConfigureAwait(false);
                    if (end == 0)
                    {
                        Fail(new KafkaConnectionException(Endpoint, "the broker closed the connection"));
                        return;
                    }
                    if (end < FrameCodec.SizePrefixLength)
                        throw Violation($"the broker closed the connection in the middle of a size prefix ({end} of 4 bytes)");
                }
                var size = FrameCodec.ReadSize(read.AsSpan(start));
                var rawToken = Volatile.Read(ref _rawToken);
                if (rawToken is not null && (size < 0 || size > _options.MaxResponseSize))
                    throw Violation($"SASL token size {size} is outside 0..{_options.MaxResponseSize} bytes");
                if (rawToken is null && (size < 4 || size > _options.MaxResponseSize))
                    throw Violation($"response frame size {size} is outside 4..{_options.MaxResponseSize} bytes (garbage on the wire, or a response larger than MaxResponseSize)");
                start += FrameCodec.SizePrefixLength;

                // Up to FrameBufferStep the buffer is taken at the announced size; beyond, it grows as the bytes arrive, so a
                // prefix that claims far more than is sent (a hostile or broken peer) costs what was sent, not what was claimed.
                var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(size, FrameBufferStep));
                try
                {
                    var have = Math.Min(end - start, size);
                    if (have < size && size <= read.Length / 2)
                    {
                        // A small response: read the rest into the read buffer, which may bring the next ones too.
                        Compact(read, ref start, ref end);
                        end += await ReadAtLeastAsync(read.AsMemory(end), size - (end - start), token).ConfigureAwait(false);
                        have = Math.Min(end - start, size);
                    }
                    read.AsSpan(start, have).CopyTo(buffer);
                    start += have;
                    while (have < size)
                    {
                        // A large response: the rest goes straight into its own buffer.
                        if (have == buffer.Length)
                        {
                            var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(size, 2L * buffer.Length));
                            buffer.AsSpan(0, have).CopyTo(bigger);
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = bigger;
                        }
                        var want = Math.Min(size, buffer.Length) - have;
                        var got = await ReadAtLeastAsync(buffer.AsMemory(have, want), want, token).ConfigureAwait(false);
                        have += got;
                        if (got < want)
                            throw Violation($"the broker closed the connection in the middle of a {size}-byte response after {have} bytes");
                    }
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }
                if (start == end) start = end = 0;
                NetworkMetrics.BytesReceived.Add(size + 4, _tags);
                Volatile.Write(ref _lastActivity, _time.GetTimestamp());
                if (rawToken is not null)
                {
                    // A pre-KIP-152 SASL token: no response header, handed to the waiting exchange.
                    var bytes = buffer.AsSpan(0, size).ToArray();
                    ArrayPool<byte>.Shared.Return(buffer);
                    Interlocked.CompareExchange(ref _rawToken, null, rawToken);
                    rawToken.TrySetResult(bytes);
                    continue;
                }
                Dispatch(buffer, size);
            }
        }
        catch (Exception e) when (Volatile.Read(ref _state) != 0)
        {
            // Closing: the stream was torn down under the read. Nothing more to report.
            _ = e;
        }
        catch (KafkaConnectionException e)
        {
            Fail(e);
        }
        catch (KafkaProtocolException e)
        {
            Fail(new KafkaConnectionException(Endpoint, e.Message, e));
        }
        catch (Exception e)
        {
            Fail(new KafkaConnectionException(Endpoint, $"reading failed: {e.Message}", e));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(read);
        }
    }

    private static void Compact(byte[] buffer, ref int start, ref int end)
    {
        if (start == 0) return;
        buffer.AsSpan(start, end - start).CopyTo(buffer);
        end -= start;
        start = 0;
    }

    /// <summary>Reads until at least <paramref name="count"/> bytes have arrived (more when the stream has them and
    /// <paramref name="buffer"/> has room) or the stream ends; returns how many arrived.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadAtLeastAsync(Memory<byte> buffer, int count, CancellationToken token)
    {
        var total = 0;
        while (total < count)
        {
            var n = await _stream.ReadAsync(buffer[total..], token).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    private KafkaConnectionException Violation(string problem)
    {
        NetworkLog.ProtocolViolation(_logger, Endpoint, Purpose, problem);
        return new KafkaConnectionException(Endpoint, problem);
    }

    private void Dispatch(byte[] buffer, int size)
    {
        var correlationId = FrameCodec.PeekCorrelationId(buffer.AsSpan(0, size));
        PendingRequest? pending;
        bool stray = false;
        lock (_pending)
        {
            if (!_pending.Remove(correlationId, out pending)) stray = ForgetNoReplyId(correlationId);
        }
        if (pending is null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (stray)
            {
                NetworkLog.StrayReplyDropped(_logger, Endpoint, correlationId);
                return;
            }
            throw Violation($"a response carries correlation id {correlationId}, which matches no request in flight (the stream is out of step)");
        }
        NetworkMetrics.RequestsInFlight.Add(-1, _tags);
        _slots.Release();

        int offset;
        try
        {
            offset = FrameCodec.ReadResponseHeader(buffer.AsSpan(0, size), pending.ResponseHeaderVersion, out _);
        }
        catch (KafkaProtocolException e)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            pending.TrySetException(e);
            return;
        }
        var elapsed = _time.GetElapsedTime(pending.StartTimestamp);
        var tags = _tags;
        tags.Add("kafka.api", NetworkMetrics.ApiName(pending.ApiKey));
        NetworkMetrics.RequestDuration.Record(elapsed.TotalSeconds, tags);
        var frame = RentResponseFrame().Set(buffer, offset, size - offset, pending.ApiKey, pending.Version, correlationId);
        if (!pending.TrySetResult(frame)) frame.Recycle(); // the caller gave up waiting: the frame is still only ours
    }

    private bool ForgetNoReplyId(int correlationId)
    {
        // Caller holds the _pending lock.
        for (var i = 0; i < _noReplyCount; i++)
        {
            var index = (_noReplyNext - 1 - i + StrayIdCapacity) % StrayIdCapacity;
            if (_noReplyIds[index] != correlationId) continue;
            _noReplyIds[index] = -1;
            return true;
        }
        return false;
    }

    private void Sweep()
    {
        if (Volatile.Read(ref _state) != 0) return;
        var now = _time.GetTimestamp();
        PendingRequest? expired = null;
        bool idle;
        lock (_pending)
        {
            foreach (var p in _pending.Values)
            {
                if (p.Deadline <= now && (expired is null || p.Deadline < expired.Deadline)) expired = p;
            }
            if (expired is not null) _pending.Remove(expired.CorrelationId);
            idle = _pending.Count == 0 && _options.IdleTimeout != Timeout.InfiniteTimeSpan
                && _time.GetElapsedTime(Volatile.Read(ref _lastActivity), now) > _options.IdleTimeout
                && !_writing;
            if (expired is null && !idle) ArmSweepLocked(NextSweepDueLocked(), now, fired: true);
        }
        if (expired is not null)
        {
            NetworkMetrics.RequestsInFlight.Add(-1, _tags);
            NetworkMetrics.RequestErrors.Add(1, _tags);
            NetworkLog.RequestTimedOut(_logger, Endpoint, Purpose, NetworkMetrics.ApiName(expired.ApiKey), expired.Version, expired.CorrelationId, expired.Timeout.TotalMilliseconds);
            var timeout = new KafkaRequestTimeoutException(Endpoint, expired.ApiKey, expired.Version, expired.CorrelationId, expired.Timeout, queued: false);
            expired.TrySetException(timeout);
            Fail(new KafkaConnectionException(Endpoint, $"closed because a {expired.ApiKey} request timed out after {expired.Timeout.TotalMilliseconds:0} ms", timeout));
        }
        else if (idle)
        {
            NetworkLog.IdleClosed(_logger, Endpoint, Purpose, _options.IdleTimeout.TotalMilliseconds);
            Fail(new KafkaConnectionException(Endpoint, $"closed after {_options.IdleTimeout.TotalMilliseconds:0} ms idle"), clean: true);
        }
    }

    /// <summary>The next time the sweep has something to check: the earliest request deadline, else the idle timeout. Caller holds the _pending lock.</summary>
    private long NextSweepDueLocked()
    {
        var due = long.MaxValue;
        foreach (var p in _pending.Values)
            if (p.Deadline < due) due = p.Deadline;
        if (_pending.Count == 0 && _options.IdleTimeout != Timeout.InfiniteTimeSpan)
            due = Volatile.Read(ref _lastActivity) + (long)(_options.IdleTimeout.TotalSeconds * _time.TimestampFrequency);
        return due;
    }

    /// <summary>
    /// Arms the one-shot sweep timer for <paramref name="due"/> (a timestamp; <see cref="long.MaxValue"/>: not at all).
    /// After a firing the next one is at least 10 ms later, so a check that cannot finish yet (a write under way at the
    /// idle timeout) never spins. Caller holds the _pending lock.
    /// </summary>
    private void ArmSweepLocked(long due, long now, bool fired = false)
    {
        if (_sweepTimer is not { } timer || _state != 0) return;
        if (fired) due = Math.Max(due, now + _time.TimestampFrequency / 100);
        _sweepDue = due;
        // One millisecond late rather than early: a timer that fires before the deadline would only re-arm.
        var delay = due == long.MaxValue ? Timeout.InfiniteTimeSpan
            : TimeSpan.FromMilliseconds(Math.Min(Math.Max(0, (double)(due - now) * 1000 / _time.TimestampFrequency) + 1, uint.MaxValue - 2));
        try { timer.Change(delay, Timeout.InfiniteTimeSpan); }
        catch (ObjectDisposedException) { } // closed meanwhile
    }

    /// <summary>Closes the stream once and fails everything in flight and queued with a retriable exception naming the broker.</summary>
    private void Fail(KafkaConnectionException reason, bool clean = false)
    {
        if (Interlocked.Exchange(ref _state, 1) != 0) return;
        ClosedCleanly = clean;
        Volatile.Write(ref _closeReason, reason);
        PendingRequest[] failed;
        TaskCompletionSource<bool>? unwritten;
        lock (_pending)
        {
            failed = [.. _pending.Values];
            _pending.Clear();
            foreach (var frame in _sendQueue) frame.Dispose(); // queued, never written (the writer owns only what it is writing)
            _sendQueue.Clear();
            unwritten = _nextBatchWritten;
            _nextBatchWritten = null;
        }
        unwritten?.TrySetResult(false);
        Interlocked.Exchange(ref _rawToken, null)?.TrySetException(reason);
        try { _closing.Cancel(); } catch (ObjectDisposedException) { }
        try { _stream.Dispose(); } catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException) { }
        _sweepTimer?.Dispose();
        foreach (var p in failed)
        {
            p.TrySetException(new KafkaConnectionException(Endpoint,
                $"{p.ApiKey} v{p.Version} request (correlation id {p.CorrelationId}) failed: {reason.Problem}", reason));
        }
        if (failed.Length > 0)
        {
            NetworkMetrics.RequestsInFlight.Add(-failed.Length, _tags);
            NetworkMetrics.RequestErrors.Add(failed.Length, _tags);
        }
        NetworkMetrics.Connections.Add(-1, _tags);
        if (!clean || failed.Length > 0) NetworkLog.Disconnected(_logger, Endpoint, Purpose, reason.Problem, failed.Length);
        _closed.TrySetResult();
    }
}
