using System.Net.Sockets;
using Kiel.Protocol.Compression;

namespace Kiel.Producing.Internal;

internal sealed partial class ProducerEngine
{
    /// <summary>
    /// One Produce request of the sender and, once sent, its outcome. Pooled by the sender thread (which alone rents
    /// and returns them): an awaited record costs one request, so every per-request object is a per-record allocation.
    /// </summary>
    private sealed class SendOutcome
    {
        private readonly ProducerEngine _engine;
        private readonly Action _onProduced;
        private ValueTask<ProduceResult> _producing;

        public SendOutcome(ProducerEngine engine)
        {
            _engine = engine;
            _onProduced = OnProduced;
            Call = new ProduceCall((short)engine._options.Acks, (int)engine._options.RequestTimeout.TotalMilliseconds, Parts)
            {
                TransactionalId = engine._options.TransactionalId,
            };
        }

        public int Broker { get; set; }
        public List<ProducerBatch> Batches { get; } = [];
        /// <summary>The bytes of the batches taken so far (their records' form; what <see cref="KielProducerOptions.MaxRequestBytes"/> bounds).</summary>
        public long Bytes { get; set; }
        public List<ProducePartitionData> Parts { get; } = [];
        public ProduceCall Call { get; }
        public ProduceResult? Result { get; set; }
        public Exception? Error { get; set; }

        /// <summary>The source bounding the exchange under way (see <see cref="BeginSend"/>), with its registration on the producer's stop.</summary>
        public CancellationTokenSource? Source { get; set; }
        public CancellationTokenRegistration Stopped { get; set; }
        public long SentMs { get; set; }
        /// <summary>Whether <see cref="Source"/> fires for the delivery deadline (rather than the request bound, which may end first).</summary>
        public bool ExpiryFirst { get; set; }

        /// <summary>Sends the request; the outcome is queued for the sender when it is known.</summary>
        public void Start()
        {
            // A continuation rather than an awaiting method: no state machine is boxed for the exchange.
            if (LatencyProbe.Enabled) LatencyProbe.Mark(LatencyProbe.SendStarting);
            _producing = _engine.BeginSend(this);
            if (LatencyProbe.Enabled) LatencyProbe.Mark(LatencyProbe.Sent);
            if (_producing.IsCompleted) OnProduced();
            else _producing.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onProduced);
        }

        private void OnProduced()
        {
            if (LatencyProbe.Enabled) LatencyProbe.Mark(LatencyProbe.Answered);
            var producing = _producing;
            _producing = default;
            _engine.EndSend(this, producing);
            var reported = Error is null && _engine.ReportDeliveredOnAnswer(this);
            _engine._outcomes.Enqueue(this);
            // Every batch reported: the rest is bookkeeping, which waits for the sender's next wake (a record, a
            // deadline, or its 100 ms look while anything is in flight) unless something needs it now.
            if (!reported || _engine.SenderWantsAnswers) _engine._wake.Set();
        }

        /// <summary>Clears the request for reuse (after a completed exchange; an abandoned one is never reused).</summary>
        public void Reset()
        {
            Batches.Clear();
            Parts.Clear();
            Result = null;
            Error = null;
        }
    }

    private readonly Stack<SendOutcome> _requestPool = new();

    private SendOutcome RentRequest(int broker)
    {
        var r = _requestPool.TryPop(out var pooled) ? pooled : new SendOutcome(this);
        r.Broker = broker;
        r.Bytes = 0;
        return r;
    }

    /// <summary>Takes back a request whose exchange completed (sender thread only).</summary>
    private void ReturnRequest(SendOutcome r)
    {
        // A failed or abandoned request may still be referenced by a transport call that ignores cancellation.
        if (r.Error is not null || _requestPool.Count >= 64) return;
        r.Reset();
        _requestPool.Push(r);
    }

    private int _inFlightTotal;
    private long _senderPasses;

    /// <summary>How many passes the sender loop has made (tests: an idle producer makes none).</summary>
    internal long SenderPasses => Volatile.Read(ref _senderPasses);
    private Task<ProducerIdentity?>? _identityLookup;
    private long _identityRetryAtMs;
    private bool _identityLookupIsBump;
    private long DeliveryMs => (long)_options.DeliveryTimeout.TotalMilliseconds;

    /// <summary>The sender, on a thread of its own (see <see cref="Signal"/> for why it blocks rather than awaits).</summary>
    private void SendLoop()
    {
        _wake.PrepareWaiter();
        // The requests each broker gets on this pass. A partition's first batch goes into the first, its second (when
        // it may have more than one in flight) into the second, and so on: they are started in that order, so a
        // partition's batches reach the broker in sequence order.
        var ready = new Dictionary<int, BrokerPass>();
        var failed = new List<(ProducerBatch Batch, ProduceException Error)>();
        var lingerTicks = (long)(_options.Linger.TotalSeconds * _time.TimestampFrequency);
        var deliveryMs = (long)_options.DeliveryTimeout.TotalMilliseconds;
        while (true)
        {
            Volatile.Write(ref _senderPasses, _senderPasses + 1);
            while (_outcomes.TryDequeue(out var outcome)) HandleOutcome(outcome, failed);
            RunLoopActions();
            var nowTs = _time.GetTimestamp();
            var now = nowTs / _ticksPerMs;
            // The end of the earliest linger, to the tick (a timestamp; long.MaxValue: none).
            var lingerWake = long.MaxValue;
            // No deadline yet: an idle producer sleeps until it is woken (a record, a flush, an answer, a lookup done).
            var nextWake = long.MaxValue;
            // A transactional producer's identity comes from InitTransactionsAsync and its aborts, not from this loop.
            if (_txn is null && (!_identityReady || _bumpWanted)) PollIdentity(now, ref nextWake);
            // Only the partitions that need a new identity wait for it (WaitsForIdentity); the others go on under the current one.
            var canSend = _identityReady && !_stop.IsCancellationRequested;
            var flushing = Volatile.Read(ref _flushing) > 0 || _closing;
            var failAll = _failAll;
            var refused = _idempotenceRefused;
            var busy = false;
            // Whether something held waits for an answer to free a place in flight (see SenderWantsAnswers).
            var waitsForAnswers = false;
            // Under idempotence (transactional or not), up to five batches per partition are in flight: the broker
            // orders them by sequence and keeps the last five for duplicates.
            var perPartition = _identity.ProducerId >= 0 ? Math.Min(MaxInFlightPerPartition, _options.MaxInFlight) : 1;

            foreach (var topic in Topics)
            {
                var layout = topic.Layout;
                if (topic.HasPending) busy = true;
                if (layout is null) continue;
                if (topic.NeedsRefresh) StartRefresh(topic, now);
                var partitions = topic.Partitions;
                for (var i = 0; i < partitions.Length; i++)
                {
                    var p = partitions[i];
                    lock (p)
                    {
                        if (p.IsIdle) continue;
                        busy = true;
                        // An abort, or a transaction that can only be aborted: what is queued fails instead of being sent.
                        // Read under the partition's lock, not once per pass: an abort that ends during this pass clears
                        // it before the next transaction can begin, so a batch of the next transaction never sees it.
                        var failQueued = _txn?.FailQueuedReason;
                        if (p.Open is { } open)
                        {
                            var due = open.CreatedTimestamp + lingerTicks;
                            if (flushing || failAll || failQueued is not null || refused is not null || now - open.CreatedMs >= deliveryMs)
                                SealLocked(p, layout.PartitionCount);
                            // Lingered: sealed when the partition can send it now. While the partition cannot (batches
                            // queued, or as many in flight as it may have), the open one keeps filling (up to BatchSize)
                            // and goes when the partition can, as one batch rather than a queue of small ones (an answer
                            // wakes this loop).
                            else if (nowTs >= due)
                            {
                                if (p.Ready.Count == 0 && MayAddInFlight(p, perPartition, retry: false)) SealLocked(p, layout.PartitionCount);
                                else waitsForAnswers = true;
                            }
                            else lingerWake = Math.Min(lingerWake, due);
                        }
                        for (var j = 0; j < p.Ready.Count;)
                        {
                            var b = p.Ready[j];
                            if (failAll)
                            {
                                p.Ready.RemoveAt(j);
                                failed.Add((b, new ProduceException($"The producer was disposed before the record was delivered (close timeout {_options.CloseTimeout}).", innerException: b.LastError)));
                            }
                            else if (refused is not null)
                            {
                                p.Ready.RemoveAt(j);
                                failed.Add((b, refused));
                            }
                            else if (failQueued is not null)
                            {
                                p.Ready.RemoveAt(j);
                                failed.Add((b, new ProduceException(failQueued, innerException: _txn!.FailQueuedCause)));
                            }
                            else if (now - b.CreatedMs >= deliveryMs)
                            {
                                p.Ready.RemoveAt(j);
                                failed.Add((b, Expired(b)));
                            }
                            else j++;
                        }
                        if (p.Ready.Count == 0 || !canSend || WaitsForIdentity(p)) continue;
                        if (!MayAddInFlight(p, perPartition, p.Ready[0].Attempts > 0)) { waitsForAnswers = true; continue; }
                        // A partition's first batch in a transaction waits until AddPartitionsToTxn has added it.
                        if (_txn is not null && !_txn.MaySend(p)) continue;
                        if (now < p.RetryNotBeforeMs) { nextWake = Math.Min(nextWake, p.RetryNotBeforeMs); continue; }
                        var leader = i < layout.Leaders.Length ? layout.Leaders[i] : -1;
                        if (leader < 0) { topic.NeedsRefresh = true; continue; }
                        if (!ready.TryGetValue(leader, out var pass)) ready[leader] = pass = new BrokerPass();
                        var requests = pass.Requests;
                        for (var k = 0; p.Ready.Count > 0 && MayAddInFlight(p, perPartition, p.Ready[0].Attempts > 0); k++)
                        {
                            // A request carries at most MaxRequestBytes of batches (one larger batch goes alone): the
                            // partition's next batch goes in the first request from k on with room for it.
                            var bytes = p.Ready[0].Arena.Length;
                            while (k < requests.Count && requests[k].Batches.Count > 0 && requests[k].Bytes + bytes > _options.MaxRequestBytes) k++;
                            // The k-th request of this pass reaches the connection as it starts when k is under the
                            // transport's bound; a batch follows the partition's others in flight only then, only when
                            // they did too, and only to the broker they went to (after a leader move, the batches still
                            // in flight to the old leader come back first): none can overtake another.
                            if (pass.Capacity < 0) pass.Capacity = _transport.OrderedSendCapacity(leader);
                            var inOrder = k < pass.Capacity;
                            if (p.InFlight.Count > 0 && !(inOrder && AllSentInOrder(p) && p.InFlight[0].SentTo == leader)) break;
                            if (k == requests.Count)
                            {
                                if (_inFlightPerBroker.GetValueOrDefault(leader) + requests.Count >= _options.MaxInFlight) break;
                                requests.Add(RentRequest(leader));
                            }
                            var batch = p.Ready[0];
                            p.Ready.RemoveAt(0);
                            p.InFlight.Add(batch);
                            batch.SentInOrder = inOrder;
                            batch.SentTo = leader;
                            if (_identity.ProducerId >= 0 && batch.StampedAs != _identity)
                            {
                                batch.StampedAs = _identity;
                                batch.BaseSequence = p.SendSequence;
                                p.SendSequence = PartitionState.AddSequence(p.SendSequence, batch.Count);
                            }
                            requests[k].Batches.Add(batch);
                            requests[k].Bytes += bytes;
                        }
                        if (p.Ready.Count > 0) waitsForAnswers = true;
                    }
                }
            }

            _txn?.PollAddPartitions(now, ref nextWake);
            foreach (var (batch, error) in failed) Finish(batch, -1, -1, error);
            failed.Clear();
            // The requests to the pass's last broker are written by this thread (WriteInline), the others from the pool
            // while it goes on. A broker's requests share one writer, so only requests to other brokers gain from it.
            var lastBroker = -1;
            foreach (var (broker, pass) in ready)
                if (pass.Requests.Count > 0) lastBroker = broker;
            foreach (var (broker, pass) in ready)
            {
                var requests = pass.Requests;
                pass.Capacity = -1;
                foreach (var request in requests)
                {
                    _inFlightPerBroker[broker] = _inFlightPerBroker.GetValueOrDefault(broker) + 1;
                    _inFlightTotal++;
                    request.Call.WriteInline = broker == lastBroker;
                    request.Start();
                }
                requests.Clear();
            }

            if (_stop.IsCancellationRequested)
            {
                AbandonInFlight();
                return;
            }
            if (failAll && !busy && _inFlightTotal == 0 && _outcomes.IsEmpty) return;
            // While anything is held, look again at least every 100 ms (a safety net beside the deadlines above);
            // with nothing held, sleep until woken.
            if (busy || _inFlightTotal > 0) nextWake = Math.Min(nextWake, now + 100);
            // Published before the look at the queue (both fenced): an answer queued meanwhile either sees it and wakes
            // this loop, or is seen here.
            Interlocked.Exchange(ref _waitsForAnswers, waitsForAnswers ? 1 : 0);
            if (waitsForAnswers && !_outcomes.IsEmpty) continue;
            SleepUntil(nextWake, lingerWake);
        }
    }

    /// <summary>The requests a broker gets on one pass of the sender, and how many may go in order (-1: not asked yet).</summary>
    private sealed class BrokerPass
    {
        public readonly List<SendOutcome> Requests = [];
        public int Capacity = -1;
    }

    private static bool AllSentInOrder(PartitionState p)
    {
        foreach (var b in p.InFlight)
            if (!b.SentInOrder) return false;
        return true;
    }

    /// <summary>The most batches of one partition in flight at once under idempotence: the broker keeps five for duplicates.</summary>
    internal const int MaxInFlightPerPartition = 5;

    /// <summary>
    /// True when the partition may put one more batch in flight (under its lock). The first always may. More than one
    /// only while the partition's batches in flight were stamped under the current producer identity (a new identity
    /// starts the sequence again, so the two are never mixed), and never a retried batch (<paramref name="retry"/>):
    /// that one goes alone, once every batch sent before it has come back, so that it keeps its place.
    /// </summary>
    private bool MayAddInFlight(PartitionState p, int perPartition, bool retry) =>
        p.InFlight.Count == 0 ||
        (!retry && p.InFlight.Count < perPartition && p.InFlight[0].StampedAs == _identity);

    /// <summary>
    /// Blocks until <paramref name="nextWakeMs"/> (in milliseconds of the clock), <paramref name="lingerWake"/> (a
    /// timestamp of the clock: a linger's end, kept to the tick) or a wake; <see cref="long.MaxValue"/> for none.
    /// </summary>
    private void SleepUntil(long nextWakeMs, long lingerWake)
    {
        var until = nextWakeMs == long.MaxValue ? long.MaxValue : nextWakeMs * _ticksPerMs;
        until = Math.Min(until, lingerWake);
        _wake.WaitTicks(until == long.MaxValue ? Signal.NoLimit : until - _time.GetTimestamp(), _stop.Token);
    }

    private DeliveryTimeoutException Expired(ProducerBatch b)
    {
        // A batch that may have been written before its answer was lost leaves the sequence unknown: start a new epoch.
        // Only that partition needs the new identity; a batch stamped under an identity since replaced leaves no doubt.
        var identityWait = IdentityWaitReason(b.Owner);
        if (_identity.ProducerId >= 0 && b.Attempts > 0 && b.StampedAs == _identity) RequestNewIdentity(b.Owner);
        return new DeliveryTimeoutException(
            $"Not delivered to {b.Owner.Topic}:{b.Owner.Partition} within DeliveryTimeout ({_options.DeliveryTimeout}) after {b.Attempts} attempt(s)" +
            (b.LastError is { } e ? $"; last error: {e.Message}" : "; the partition's leader could not be reached or the batch never left the queue") + identityWait + ".",
            b.LastError);
    }

    private void PollIdentity(long now, ref long nextWake)
    {
        if (_identityLookup is null)
        {
            if (now < _identityRetryAtMs) { nextWake = Math.Min(nextWake, _identityRetryAtMs); return; }
            var current = IdentityToBump();
            _identityLookup = InitIdentityAsync(current);
            // Observed here as well: a producer closed while a lookup runs never polls its outcome, and its failure
            // would surface as an unobserved task exception (found by the hostile broker).
            _identityLookup.ObserveFailure();
            _identityLookupIsBump = current is not null;
            return;
        }
        if (!_identityLookup.IsCompleted) return;
        var lookup = _identityLookup;
        _identityLookup = null;
        if (lookup.IsCompletedSuccessfully)
        {
            var result = lookup.Result;
            var bumped = _identityReady;
            _identityReady = true;
            _bumpWanted = false;
            OnIdentityAssigned();
            if (result is { } id)
            {
                _identity = id;
                ProducerLog.ProducerIdAssigned(_log, id.ProducerId, id.Epoch);
            }
            else
            {
                _identity = ProducerIdentity.None;
                if (!bumped) OnIdempotenceUnsupported();
            }
            // A new epoch starts every partition's sequence at zero; batches are re-stamped when next sent.
            foreach (var topic in Topics)
                foreach (var p in topic.Partitions)
                    lock (p) p.NextSequence = p.SendSequence = 0;
        }
        else
        {
            ProducerLog.InitProducerIdFailed(_log, lookup.Exception?.GetBaseException().Message ?? "cancelled");
            // A refused bump is followed at once by a request for a fresh id; anything else waits the backoff.
            _identityRetryAtMs = OnIdentityLookupFailed(lookup.Exception, _identityLookupIsBump)
                ? now : now + Math.Max(50, (long)_options.RetryBackoff.TotalMilliseconds);
            nextWake = Math.Min(nextWake, _identityRetryAtMs);
        }
    }

    private async Task<ProducerIdentity?> InitIdentityAsync(ProducerIdentity? current)
    {
        try { return await _transport.InitProducerIdAsync(current, _stop.Token).ConfigureAwait(false); }
        finally { _wake.Set(); }
    }

    /// <summary>
    /// Starts the exchange of <paramref name="request"/> and returns the transport call (or the error that stopped it),
    /// for <see cref="EndSend"/> to finish. The usual path boxes no state machine (an awaited record costs one request,
    /// so a per-request box is a per-record allocation); only a record format not known yet (a connection still to be
    /// opened) takes <see cref="ProduceLaterAsync"/>.
    /// </summary>
    private ValueTask<ProduceResult> BeginSend(SendOutcome request)
    {
        var broker = request.Broker;
        // The request lives no longer than its batches may: at the earliest delivery deadline among them it is abandoned
        // (the connection drops a late reply), so that no report comes later than DeliveryTimeout, even for a batch in
        // flight to a broker that never answers or a connection that never comes up. Batches whose deadline passed then
        // expire; the others are retried.
        var deadlineMs = long.MaxValue;
        foreach (var b in request.Batches) deadlineMs = Math.Min(deadlineMs, b.CreatedMs + DeliveryMs);
        // One pooled source per request carries every bound (the delivery deadline, then the request bound below, and
        // the producer's stop): an awaited record costs one request, so per-request sources and timers are per record.
        var cts = RentRequestSource();
        request.Source = cts;
        request.SentMs = NowMs;
        request.ExpiryFirst = true;
        try
        {
            // Clamped: a timer takes at most about 49 days, and a DeliveryTimeout may be longer (the request bound ends first then).
            cts.CancelAfter(TimeSpan.FromMilliseconds(Math.Clamp(deadlineMs - request.SentMs, 1, int.MaxValue)));
            request.Stopped = _stop.Token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), cts);
            var magicTask = _transport.GetRecordMagicAsync(broker, cts.Token);
            return magicTask.IsCompletedSuccessfully
                ? Produce(request, magicTask.Result, deadlineMs)
                : ProduceLaterAsync(request, magicTask, deadlineMs);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<ProduceResult>(ex);
        }
    }

    /// <summary><see cref="BeginSend"/>'s other path: waits for the record format first.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ProduceResult> ProduceLaterAsync(SendOutcome request, ValueTask<byte> magicTask, long deadlineMs)
    {
        var magic = await Bounded(magicTask, request.Source!.Token).ConfigureAwait(false);
        return await Produce(request, magic, deadlineMs).ConfigureAwait(false);
    }

    /// <summary>Encodes the batches in <paramref name="magic"/>'s format and calls the transport, bounded.</summary>
    private ValueTask<ProduceResult> Produce(SendOutcome request, byte magic, long deadlineMs)
    {
        var parts = request.Parts;
        parts.Clear();
        foreach (var b in request.Batches)
        {
            Encode(b, magic);
            parts.Add(new ProducePartitionData(b.Owner.Topic, b.Owner.Partition, b.WireArena.MemoryForRequest()));
        }
        // The connection enforces the request timeout; this bound only guards against a transport that never answers.
        var boundMs = (long)(_options.RequestTimeout + TimeSpan.FromSeconds(5)).TotalMilliseconds;
        var cts = request.Source!;
        if (NowMs + boundMs < deadlineMs)
        {
            request.ExpiryFirst = false;
            cts.CancelAfter(TimeSpan.FromMilliseconds(boundMs));
        }
        return Bounded(_transport.ProduceAsync(request.Broker, request.Call, cts.Token), cts.Token);
    }

    /// <summary>Finishes the exchange <see cref="BeginSend"/> started: its result or error, then <see cref="SendDone"/>.</summary>
    private void EndSend(SendOutcome request, ValueTask<ProduceResult> producing)
    {
        try
        {
            request.Result = producing.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            SendFailed(request, ex);
        }
        finally
        {
            SendDone(request);
        }
    }

    private void SendFailed(SendOutcome request, Exception ex)
    {
        var cts = request.Source!;
        if (ex is OperationCanceledException && request.ExpiryFirst && cts.IsCancellationRequested && !_stop.IsCancellationRequested)
        {
            var broker = request.Broker;
            ProducerLog.RequestAbandonedAtDeliveryDeadline(_log, broker, request.Batches.Count, NowMs - request.SentMs);
            request.Error = new TimeoutException(
                $"No answer from broker {broker} before the delivery deadline of a batch in the request ({NowMs - request.SentMs} ms after it was sent); " +
                "the request was abandoned, so its records may or may not have been written.");
            return;
        }
        request.Error = ex;
    }

    private void SendDone(SendOutcome request)
    {
        // Dispose waits for a stop callback under way, so the source is not cancelled after it is handed out again.
        request.Stopped.Dispose();
        request.Stopped = default;
        ReturnRequestSource(request.Source!);
        request.Source = null;
        // The request has been written (and answered): drop the wire copies now rather than at completion, so that
        // only batches in flight hold two buffers. A retry encodes again.
        foreach (var b in request.Batches)
        {
            b.ReleaseWire();
        }
    }

    /// <summary>
    /// Awaits a transport call within the bound of <paramref name="token"/>. The cluster transport honours its token;
    /// a transport that does not (<see cref="IProducerTransport.HonoursCancellation"/>) is bounded by WaitAsync, which
    /// costs a Task and a promise per call.
    /// </summary>
    private ValueTask<T> Bounded<T>(ValueTask<T> call, CancellationToken token) =>
        _transport.HonoursCancellation || call.IsCompleted ? call : new ValueTask<T>(call.AsTask().WaitAsync(token));

    private readonly Stack<CancellationTokenSource> _requestSources = new();

    private CancellationTokenSource RentRequestSource()
    {
        lock (_requestSources)
            if (_requestSources.TryPop(out var cts)) return cts;
        // Made with the producer's clock, whose timer CancelAfter then re-arms (a fake clock in tests).
        return new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
    }

    private void ReturnRequestSource(CancellationTokenSource cts)
    {
        // TryReset stops the timer and clears the registrations, unless the source has fired: a fired one is dropped.
        if (cts.TryReset())
        {
            lock (_requestSources)
            {
                if (_requestSources.Count < 64)
                {
                    _requestSources.Push(cts);
                    return;
                }
            }
        }
        cts.Dispose();
    }

    private void Encode(ProducerBatch b, byte magic)
    {
        if (magic >= 2)
        {
            if (b.WireMagic == 2)
            {
                BatchEncoder.Stamp(b.WireArena.MutableSpan, b.StampedAs, b.BaseSequence);
                return;
            }
            if (_options.Compression == CompressionType.None)
            {
                // The records are already in their wire form: only the header is filled in, and the batch's own buffer
                // is sent (a message set for a former leader of an older format is dropped first).
                b.ReleaseWire();
                BatchEncoder.FinishInPlace(b.Arena.MutableSpan, b.Count, b.StampedAs, b.BaseSequence, transactional: _txn is not null);
            }
            else
            {
                b.Wire ??= b.NewWire(b.Arena.Length + b.Arena.Length / 255 + 64); // room for incompressible records
                BatchEncoder.EncodeCompressedV2(b.Arena.Span, b.Count, _options.Compression, _options.CompressionLevel, b.StampedAs,
                    b.BaseSequence, b.Wire, transactional: _txn is not null);
            }
            b.WireMagic = 2;
            return;
        }
        if (b.Wire is not null && b.WireMagic == magic) return;
        b.Wire ??= b.NewWire(b.Arena.Length + 64);
        using (var scratch = new RecordArena(_options.Compression == CompressionType.None ? 0 : b.Arena.Length + 64))
        {
            // zstd exists only in record batches; older formats take gzip instead of failing the records.
            var compression = _options.Compression == CompressionType.Zstd ? CompressionType.Gzip : _options.Compression;
            var level = _options.Compression == CompressionType.Zstd ? null : _options.CompressionLevel;
            BatchEncoder.EncodeLegacy(b.Arena.Span, b.Count, magic, compression, level, b.Wire, scratch);
        }
        b.WireMagic = magic;
    }

    /// <summary>
    /// Reports, on the thread that read the answer, the batches it delivered whose records are all awaited (promises,
    /// no handlers) and that are next to be reported in their partition; the sender does the rest when it takes the
    /// outcome (<see cref="HandleOutcome"/>). An awaited record then resumes without waiting for the sender thread to
    /// wake, which on a busy machine was most of Kiel's own part of an awaited record's latency. Handlers stay on the
    /// sender thread: they are user code, run one at a time and in order.
    /// </summary>
    /// <returns>True when every batch of the request was reported here.</returns>
    private bool ReportDeliveredOnAnswer(SendOutcome o)
    {
        var result = o.Result!;
        // acks=0 has no answer to report from: the sender reports those batches.
        if (result.Partitions.Count == 0) return false;
        var cursor = 0;
        var all = true;
        foreach (var b in o.Batches)
        {
            if (!b.HasCompletions || b.HasHandlers || !FindAnswer(result, b.Owner, ref cursor, out var r) || r.ErrorCode != 0)
            {
                all = false;
                continue;
            }
            var p = b.Owner;
            lock (p)
            {
                if (!IsNextToReport(p, b) || !b.MarkFinished())
                {
                    all = false;
                    continue;
                }
                b.FinishedOnAnswer = true;
            }
            Report(b, r.BaseOffset, r.LogAppendTimeMs, null);
        }
        return all;
    }

    private int _waitsForAnswers;

    /// <summary>
    /// True when the sender should take an answer at once even though its batches were all reported where it was read:
    /// batches wait for a place in flight, or the producer flushes, closes or runs a transaction.
    /// </summary>
    private bool SenderWantsAnswers =>
        Volatile.Read(ref _waitsForAnswers) != 0 || _closing || _failAll || Volatile.Read(ref _flushing) > 0 || _txn is not null
        || _stop.IsCancellationRequested;

    /// <summary>
    /// True when every batch of the partition sealed before <paramref name="b"/> has been reported: those in flight
    /// ahead of it, and any waiting for a retry (<see cref="PartitionState.Ready"/> is in seal order). False when
    /// <paramref name="b"/> is no longer in flight. Under the partition's lock.
    /// </summary>
    private static bool IsNextToReport(PartitionState p, ProducerBatch b)
    {
        var inFlight = false;
        foreach (var x in p.InFlight)
        {
            if (x == b) { inFlight = true; break; }
            if (!x.IsReported) return false;
        }
        return inFlight && (p.Ready.Count == 0 || p.Ready[0].SendsAfter(b));
    }

    /// <summary>
    /// Finds the answer for <paramref name="p"/>, searching from <paramref name="cursor"/> on (and round): answers come in
    /// the order the request named the partitions, so each is found at once, not by a scan of the whole answer.
    /// </summary>
    private static bool FindAnswer(ProduceResult result, PartitionState p, ref int cursor, out ProducePartitionResult answer)
    {
        var parts = result.Partitions;
        for (var n = 0; n < parts.Count; n++)
        {
            var i = cursor + n;
            if (i >= parts.Count) i -= parts.Count;
            var candidate = parts[i];
            if (candidate.Partition == p.Partition && candidate.Topic == p.Topic)
            {
                answer = candidate;
                cursor = i + 1;
                return true;
            }
        }
        answer = default;
        return false;
    }

    private void HandleOutcome(SendOutcome o, List<(ProducerBatch Batch, ProduceException Error)> failed)
    {
        _inFlightPerBroker[o.Broker] = _inFlightPerBroker.GetValueOrDefault(o.Broker) - 1;
        _inFlightTotal--;
        if (o.Error is not null) ProducerLog.RequestFailed(_log, o.Broker, o.Error.Message);
        var cursor = 0;
        foreach (var b in o.Batches)
        {
            if (b.IsFinished)
            {
                // Reported where the answer was read: what is left is the sender's.
                if (b.FinishedOnAnswer) Delivered(b);
                continue;
            }
            HandleAnswer(o, b, failed, ref cursor);
        }
        // A batch leaves the partition's in-flight list only once it is reported or waits again: until then the batches
        // behind it are not reported where their answers are read (see IsNextToReport).
        foreach (var (batch, error) in failed) Finish(batch, -1, -1, error);
        failed.Clear();
        foreach (var b in o.Batches)
        {
            var p = b.Owner;
            lock (p) p.InFlight.Remove(b);
        }
        foreach (var b in o.Batches)
            if (b.Reusable) ReturnBatch(b);
        ReturnRequest(o);
    }

    /// <summary>Handles the answer (or the error) for one unfinished batch of the request.</summary>
    private void HandleAnswer(SendOutcome o, ProducerBatch b, List<(ProducerBatch Batch, ProduceException Error)> failed, ref int cursor)
    {
        var p = b.Owner;
        if (o.Error is { } error)
        {
            var retriable = error is KielException ke ? ke.IsRetriable
                : error is OperationCanceledException or IOException or SocketException or TimeoutException;
            if (retriable) Retry(b, error, needsMetadata: true, failed);
            else failed.Add((b, new ProduceException($"Produce to broker {o.Broker} failed: {error.Message}", innerException: error)));
            return;
        }
        var result = o.Result!;
        if (result.Partitions.Count == 0 && _options.Acks == Acks.None)
        {
            Finish(b, -1, -1, null);
            return;
        }
        if (!FindAnswer(result, p, ref cursor, out var r))
        {
            Retry(b, new ProduceException($"Broker {o.Broker} did not answer for {p.Topic}:{p.Partition}.", (short)Kiel.ErrorCode.NetworkException, retriable: true), true, failed);
            return;
        }
        // An out-of-order answer to a batch sent behind an unacknowledged one is the producer's own gap (retried
        // below), not a lost sequence: the transaction goes on.
        if (_txn is not null && r.ErrorCode != 0 && !(r.ErrorCode == (short)Kiel.ErrorCode.OutOfOrderSequenceNumber && FollowsUnacknowledged(b))
            && _txn.OnProduceError((ErrorCode)r.ErrorCode, BrokerError(r, o.Broker).Message))
        {
            failed.Add((b, BrokerError(r, o.Broker)));
            return;
        }
        switch (Kiel.Cluster.ErrorClassification.ForProduce((Kiel.ErrorCode)r.ErrorCode, _identity.ProducerId >= 0))
        {
            case Kiel.Cluster.ProduceErrorAction.Delivered:
                Finish(b, r.BaseOffset, r.LogAppendTimeMs, null);
                break;
            case Kiel.Cluster.ProduceErrorAction.DeliveredDuplicate:
                Finish(b, -1, r.LogAppendTimeMs, null);
                break;
            case Kiel.Cluster.ProduceErrorAction.TooLarge when b.Count > 1:
                ProducerLog.Splitting(_log, b.Count, p.Topic, p.Partition);
                var (first, second) = b.Split();
                lock (p)
                {
                    p.RequeueLocked(first);
                    p.RequeueLocked(second);
                }
                b.MarkFinished();
                ReleaseSequence(b);
                b.Dispose();
                break;
            case Kiel.Cluster.ProduceErrorAction.TooLarge:
                failed.Add((b, new RecordTooLargeException(
                    $"The broker refused a record for {p.Topic}:{p.Partition} as too large ({Kiel.Protocol.ErrorCodes.Info(r.ErrorCode).Name}); raise the topic's max.message.bytes or send smaller records.")));
                break;
            case Kiel.Cluster.ProduceErrorAction.BumpEpoch when b.StampedAs != _identity:
                // Sent under an identity that has since been replaced (the bump fenced it): send again under the new one.
                Retry(b, BrokerError(r, o.Broker), needsMetadata: false, failed, backoff: false);
                break;
            case Kiel.Cluster.ProduceErrorAction.BumpEpoch when r.ErrorCode == (short)Kiel.ErrorCode.OutOfOrderSequenceNumber && FollowsUnacknowledged(b):
                // A batch sent behind one that has not been acknowledged (it failed, or is being retried): the gap
                // is ours, not the broker's. Sent again after it, with the same sequence.
                Retry(b, BrokerError(r, o.Broker), needsMetadata: false, failed, backoff: false);
                break;
            case Kiel.Cluster.ProduceErrorAction.BumpEpoch:
                ProducerLog.EpochBump(_log, Kiel.Protocol.ErrorCodes.Info(r.ErrorCode).Name, p.Topic, p.Partition);
                RequestNewIdentity(p);
                Retry(b, BrokerError(r, o.Broker), needsMetadata: false, failed, backoff: false);
                break;
            case Kiel.Cluster.ProduceErrorAction.Retry:
                Retry(b, BrokerError(r, o.Broker), needsMetadata: false, failed);
                break;
            case Kiel.Cluster.ProduceErrorAction.RetryAfterMetadata:
                Retry(b, BrokerError(r, o.Broker), needsMetadata: true, failed);
                break;
            default:
                failed.Add((b, BrokerError(r, o.Broker)));
                break;
        }
    }

    private static ProduceException BrokerError(in ProducePartitionResult r, int broker) => new(
        $"Broker {broker} refused the batch for {r.Topic}:{r.Partition}: {Kiel.Protocol.ErrorCodes.Info(r.ErrorCode).Name} ({r.ErrorCode})" +
        (string.IsNullOrEmpty(r.ErrorMessage) ? "." : $": {r.ErrorMessage}"),
        r.ErrorCode, retriable: Kiel.Cluster.ErrorClassification.IsRetriable((ErrorCode)r.ErrorCode),
        innerException: new KafkaException((ErrorCode)r.ErrorCode, r.ErrorMessage));

    /// <summary>
    /// True when a batch of the partition stamped before <paramref name="b"/> has not been acknowledged. A batch ahead of
    /// it that was reported delivered where its answer was read counts as acknowledged although the sender has not yet
    /// moved <see cref="PartitionState.NextSequence"/> past it: that answer's outcome is queued for the sender after the
    /// report, so on a busy machine <paramref name="b"/>'s answer can be handled first.
    /// </summary>
    internal static bool FollowsUnacknowledged(ProducerBatch b)
    {
        var p = b.Owner;
        lock (p)
        {
            if (b.BaseSequence < 0) return false;
            var acknowledged = p.NextSequence;
            foreach (var x in p.InFlight)
            {
                if (x == b) break;
                if (x.FinishedOnAnswer && x.StampedAs == b.StampedAs && x.BaseSequence == acknowledged)
                    acknowledged = PartitionState.AddSequence(x.BaseSequence, x.Count);
            }
            return b.BaseSequence != acknowledged;
        }
    }

    /// <summary>
    /// A batch stamped under the current identity ends without being delivered (failed, or split in two): its
    /// sequence numbers go back to the partition when no later batch took the ones after them; otherwise the broker
    /// would see a gap, and the partition sends again only under a new identity, which stamps every batch afresh.
    /// </summary>
    private void ReleaseSequence(ProducerBatch b)
    {
        if (_identity.ProducerId < 0 || b.BaseSequence < 0 || b.StampedAs != _identity || _failAll || _stop.IsCancellationRequested) return;
        var p = b.Owner;
        lock (p)
        {
            if (p.SendSequence == PartitionState.AddSequence(b.BaseSequence, b.Count))
            {
                p.SendSequence = b.BaseSequence;
                return;
            }
        }
        RequestNewIdentity(p);
    }

    private void Retry(ProducerBatch b, Exception error, bool needsMetadata, List<(ProducerBatch, ProduceException)> failed, bool backoff = true)
    {
        b.Attempts++;
        b.LastError = error;
        var p = b.Owner;
        if (NowMs - b.CreatedMs >= (long)_options.DeliveryTimeout.TotalMilliseconds || _failAll)
        {
            failed.Add((b, _failAll ? new ProduceException("The producer was disposed before the record was delivered.", innerException: error) : Expired(b)));
            return;
        }
        ProducerLog.Retrying(_log, p.Topic, p.Partition, error.Message, b.Attempts);
        ProducerMetrics.Retried(p.Topic, error is ProduceException pe ? pe.ErrorName : error.GetType().Name);
        lock (p)
        {
            p.RequeueLocked(b);
            if (backoff)
            {
                // Exponential backoff with jitter, capped at 1 s, so a dead leader is not hammered.
                var ms = Math.Min(1000, _options.RetryBackoff.TotalMilliseconds * (1 << Math.Min(b.Attempts - 1, 4)));
                p.RetryNotBeforeMs = NowMs + (long)(ms * (0.8 + 0.4 * Random.Shared.NextDouble()));
            }
        }
        if (needsMetadata && _topics.TryGetValue(p.Topic, out var topic)) topic.NeedsRefresh = true;
    }

    /// <summary>Reports a batch (delivered when <paramref name="error"/> is null) and returns its memory (sender thread).</summary>
    private void Finish(ProducerBatch b, long baseOffset, long logAppendTimeMs, ProduceException? error)
    {
        if (!b.MarkFinished()) return;
        if (error is null) Delivered(b);
        else
        {
            ReleaseSequence(b);
            ProducerLog.BatchFailed(_log, b.Owner.Topic, b.Owner.Partition, error.Message, b.Count);
            _txn?.OnRecordFailed(error);
        }
        Report(b, baseOffset, logAppendTimeMs, error);
    }

    /// <summary>The sender's part of a delivered batch: the partition's acknowledged sequence moves past it.</summary>
    private void Delivered(ProducerBatch b)
    {
        if (b.BaseSequence < 0 || b.StampedAs != _identity) return;
        var p = b.Owner;
        lock (p) p.NextSequence = PartitionState.AddSequence(b.BaseSequence, b.Count);
    }

    /// <summary>
    /// Reports every record of a finished batch and returns its memory: on the sender thread, or where the answer was
    /// read (<see cref="ReportDeliveredOnAnswer"/>). Touches nothing that only the sender may.
    /// </summary>
    private void Report(ProducerBatch b, long baseOffset, long logAppendTimeMs, ProduceException? error)
    {
        if (LatencyProbe.Enabled) LatencyProbe.Mark(LatencyProbe.Reporting);
        if (error is null) Kiel.Diagnostics.ClientMetrics.Sent(b.Owner.Topic, b.Owner.Partition, b.Count, b.ReservedBytes);
        b.Complete(baseOffset, logAppendTimeMs, error, _onCallbackError);
        b.MarkReported();
        if (LatencyProbe.Enabled) LatencyProbe.Mark(LatencyProbe.Completed);
        ProducerMetrics.Completed(b.Owner.Topic, b.Owner.Partition, b.Count, error);
        _memory.Release(b.ReservedBytes);
        var count = b.Count;
        // A delivered batch's objects are reused once the sender has taken it out of its partition's in-flight list
        // (HandleOutcome); a failed one's are not: a request abandoned at its deadline may still refer to it.
        if (error is null) b.Reusable = true;
        b.Dispose();
        Interlocked.Add(ref error is null ? ref _delivered : ref _failed, count);
        RecordsDone(count);
    }

    private void AbandonInFlight()
    {
        var error = new ProduceException("The producer was disposed while the request was in flight; the record may or may not have been written.");
        foreach (var topic in Topics)
            foreach (var p in topic.Partitions)
            {
                ProducerBatch[] batches;
                lock (p)
                {
                    batches = [.. p.InFlight];
                    p.InFlight.Clear();
                }
                foreach (var b in batches) Finish(b, -1, -1, error);
            }
    }
}
