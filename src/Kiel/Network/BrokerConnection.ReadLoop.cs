using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using Kiel.Diagnostics;
using Kiel.Protocol;

namespace Kiel.Network;

internal sealed partial class BrokerConnection
{
    private async Task ReadLoopAsync()
    {
        var sizePrefix = new byte[4];
        var token = _closing.Token;
        try
        {
            while (true)
            {
                var got = await ReadAtLeastAsync(sizePrefix, 4, token).ConfigureAwait(false);
                if (got == 0)
                {
                    Fail(new KafkaConnectionException(Endpoint, "the broker closed the connection"));
                    return;
                }
                if (got < 4)
                    throw Violation($"the broker closed the connection in the middle of a size prefix ({got} of 4 bytes)");
                var size = BinaryPrimitives.ReadInt32BigEndian(sizePrefix);
                if (size < 4 || size > _options.MaxResponseSize)
                    throw Violation($"response frame size {size} is outside 4..{_options.MaxResponseSize} bytes (garbage on the wire, or a response larger than MaxResponseSize)");
                var buffer = ArrayPool<byte>.Shared.Rent(size);
                try
                {
                    got = await ReadAtLeastAsync(buffer.AsMemory(0, size), size, token).ConfigureAwait(false);
                    if (got < size)
                        throw Violation($"the broker closed the connection in the middle of a {size}-byte response after {got} bytes");
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }
                NetworkMetrics.BytesReceived.Add(size + 4, _tags);
                Volatile.Write(ref _lastActivity, _time.GetTimestamp());
                Dispatch(buffer, size);
            }
        }
        catch (Exception e) when (Volatile.Read(ref _state) != 0)
        {
            // Closing: the socket was torn down under the read. Nothing more to report.
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
    }

    private async ValueTask<int> ReadAtLeastAsync(Memory<byte> buffer, int count, CancellationToken token)
    {
        var total = 0;
        while (total < count)
        {
            var n = await _socket.ReceiveAsync(buffer[total..], SocketFlags.None, token).ConfigureAwait(false);
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
        var correlationId = BinaryPrimitives.ReadInt32BigEndian(buffer);
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

        var offset = 4;
        if (pending.ResponseHeaderVersion >= 1)
        {
            try
            {
                var reader = new KafkaReader(buffer.AsSpan(4, size - 4), "ResponseHeader", 1) { Field = "TaggedFields" };
                var n = reader.ReadTaggedFieldCount();
                for (var i = 0; i < n; i++)
                {
                    reader.ReadUnsignedVarInt();
                    var len = reader.ReadUnsignedVarInt();
                    if (len > int.MaxValue) reader.Fail($"tagged field size {len} is too large");
                    reader.Skip((int)len);
                }
                offset += reader.Position;
            }
            catch (KafkaProtocolException e)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                pending.TrySetException(e);
                return;
            }
        }
        var elapsed = _time.GetElapsedTime(pending.StartTimestamp);
        var tags = _tags;
        tags.Add("kafka.api", NetworkMetrics.ApiName(pending.ApiKey));
        NetworkMetrics.RequestDuration.Record(elapsed.TotalSeconds, tags);
        var frame = new ResponseFrame(buffer, offset, size - offset, pending.ApiKey, pending.Version, correlationId, Endpoint);
        if (!pending.TrySetResult(frame)) frame.Dispose(); // the caller gave up waiting
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
                && _writeLock.CurrentCount == 1;
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

    /// <summary>Closes the socket once and fails everything in flight and queued with a retriable exception naming the broker.</summary>
    private void Fail(KafkaConnectionException reason, bool clean = false)
    {
        if (Interlocked.Exchange(ref _state, 1) != 0) return;
        ClosedCleanly = clean;
        Volatile.Write(ref _closeReason, reason);
        PendingRequest[] failed;
        lock (_pending)
        {
            failed = [.. _pending.Values];
            _pending.Clear();
        }
        try { _closing.Cancel(); } catch (ObjectDisposedException) { }
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _socket.Dispose();
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
