using Kiel.Cluster;
using Kiel.Protocol;
using Microsoft.Extensions.Logging;

namespace Kiel.Producing.Internal;

/// <summary>The states of a transactional producer.</summary>
internal enum TransactionState
{
    /// <summary>InitTransactionsAsync has not completed.</summary>
    Uninitialized,
    /// <summary>InitTransactionsAsync is running.</summary>
    Initializing,
    /// <summary>No transaction is open; BeginTransaction may be called.</summary>
    Ready,
    /// <summary>A transaction is open: records and offsets may be added.</summary>
    InTransaction,
    /// <summary>Commit is flushing or ending the transaction.</summary>
    Committing,
    /// <summary>Abort is failing queued records or ending the transaction.</summary>
    Aborting,
    /// <summary>The transaction can only be aborted.</summary>
    AbortableError,
    /// <summary>No more transactional work.</summary>
    Fatal,
}

/// <summary>
/// The transactional producer's state machine (Kafka's Java client's <c>TransactionManager</c> semantics, Kiel's code):
/// InitProducerId with the transactional id, the transaction's partitions (AddPartitionsToTxn, batched, before a
/// partition's first batch is sent), offsets (AddOffsetsToTxn, then TxnOffsetCommit to the group coordinator) and
/// EndTxn. Errors are classified by <see cref="ErrorClassification.ForTransaction"/>: retriable ones are retried within
/// <see cref="KielProducerOptions.DeliveryTimeout"/>; an abortable one leaves the transaction needing an abort; a fatal
/// one closes the producer for transactional work. One public call runs at a time; the sender loop asks
/// <see cref="MaySend"/> before it sends a partition's batch and drives the AddPartitionsToTxn calls.
/// </summary>
internal sealed class TransactionManager
{
    private readonly ProducerEngine _engine;
    private readonly ITransactionTransport _transport;
    private readonly KielProducerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly string _id;
    private readonly SemaphoreSlim _call = new(1, 1);
    private readonly object _gate = new();

    // Guarded by _gate.
    private TransactionState _state = TransactionState.Uninitialized;
    private TransactionException? _error;
    private readonly HashSet<PartitionState> _added = [];
    private readonly HashSet<PartitionState> _wanted = [];
    private Task? _addCall;
    private int _generation;
    private bool _offsetsAdded;
    private bool _bumpAfterAbort;
    private long _addRetryAtMs;
    private int _addAttempts;
    private volatile string? _failQueuedReason;
    private volatile Exception? _failQueuedCause;

    public TransactionManager(ProducerEngine engine, ITransactionTransport transport, KielProducerOptions options, ILogger log)
    {
        _engine = engine;
        _transport = transport;
        _options = options;
        _time = options.TimeProvider ?? TimeProvider.System;
        _log = log;
        _id = options.TransactionalId!;
    }

    public string TransactionalId => _id;

    public TransactionState State { get { lock (_gate) return _state; } }

    /// <summary>Set while queued records must fail instead of being sent (an abort, an abortable or a fatal error): the reason.</summary>
    public string? FailQueuedReason => _failQueuedReason;

    /// <summary>The cause given to records failed for <see cref="FailQueuedReason"/>.</summary>
    public Exception? FailQueuedCause => _failQueuedCause;

    // ---- caller-side checks ----

    /// <summary>Throws unless a record may be produced now (a transaction is open).</summary>
    public void CheckCanProduce()
    {
        lock (_gate)
        {
            if (_state == TransactionState.InTransaction) return;
            throw StateError("produce a record");
        }
    }

    private TransactionException StateError(string what) => _state switch
    {
        TransactionState.Uninitialized or TransactionState.Initializing => new TransactionException(
            $"Cannot {what}: the transactional producer '{_id}' is not initialized; call InitTransactionsAsync once first."),
        TransactionState.Ready => new TransactionException($"Cannot {what}: no transaction is open; call BeginTransaction first."),
        TransactionState.InTransaction => new TransactionException($"Cannot {what}: a transaction is already open; commit or abort it first."),
        TransactionState.Committing => new TransactionException($"Cannot {what}: the transaction is being committed."),
        TransactionState.Aborting => new TransactionException($"Cannot {what}: the transaction is being aborted."),
        TransactionState.AbortableError => new TransactionException(
            $"Cannot {what}: the transaction failed and must be aborted (call AbortTransactionAsync): {_error?.Message}", _error?.ErrorCode ?? -1,
            requiresAbort: true, innerException: _error),
        _ => new TransactionException(
            $"Cannot {what}: the transactional producer '{_id}' can do no more transactional work: {_error?.Message} Dispose it and create a new one.",
            _error?.ErrorCode ?? -1, isFatal: true, innerException: _error),
    };

    // ---- the public operations ----

    public async Task InitAsync(CancellationToken cancellationToken)
    {
        await _call.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                if (_state != TransactionState.Uninitialized) throw StateError("initialize transactions");
                _state = TransactionState.Initializing;
            }
            try
            {
                var id = await InitProducerIdAsync(null, cancellationToken).ConfigureAwait(false);
                await _engine.SetTransactionalIdentityAsync(id).ConfigureAwait(false);
                lock (_gate) if (_state == TransactionState.Initializing) _state = TransactionState.Ready;
                TransactionLog.Initialized(_log, _id, id.ProducerId, id.Epoch);
            }
            catch
            {
                lock (_gate) if (_state == TransactionState.Initializing) _state = TransactionState.Uninitialized;
                throw;
            }
        }
        finally { _call.Release(); }
    }

    private async Task<ProducerIdentity> InitProducerIdAsync(ProducerIdentity? current, CancellationToken cancellationToken)
    {
        var timeoutMs = (int)_options.TransactionTimeout.TotalMilliseconds;
        var result = await RetryAsync("InitProducerId", group: false, _id,
            ct => _transport.InitTransactionalIdAsync(_id, timeoutMs, current, ct), r => r.ErrorCode, cancellationToken).ConfigureAwait(false);
        return result.Identity;
    }

    public void Begin()
    {
        lock (_gate)
        {
            if (_state != TransactionState.Ready) throw StateError("begin a transaction");
            _state = TransactionState.InTransaction;
            _offsetsAdded = false;
        }
    }

    public async Task SendOffsetsAsync(IReadOnlyList<KeyValuePair<TopicPartition, long>> offsets, ConsumerGroupMetadata group, CancellationToken cancellationToken)
    {
        await _call.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_gate) if (_state != TransactionState.InTransaction) throw StateError("send offsets to the transaction");
            var identity = _engine.Identity;
            await RetryAsync("AddOffsetsToTxn", group: false, _id,
                ct => _transport.AddOffsetsToTxnAsync(_id, identity, group.GroupId, ct), static c => c, cancellationToken).ConfigureAwait(false);
            lock (_gate) _offsetsAdded = true;
            var left = offsets;
            await RetryAsync("TxnOffsetCommit", group: true, group.GroupId, async ct =>
            {
                var results = await _transport.TxnOffsetCommitAsync(_id, identity, group, left, ct).ConfigureAwait(false);
                // The worst code decides; partitions that succeeded are not sent again.
                var worst = (short)0;
                var again = new List<KeyValuePair<TopicPartition, long>>();
                foreach (var (tp, code) in results)
                {
                    if (code == 0) continue;
                    if (Rank(code) > Rank(worst)) worst = code;
                    foreach (var o in left) if (o.Key == tp) again.Add(o);
                }
                if (worst != 0 && again.Count > 0) left = again;
                return worst;
            }, static c => c, cancellationToken).ConfigureAwait(false);
        }
        finally { _call.Release(); }
    }

    private static int Rank(short code) => ErrorClassification.ForTransaction((ErrorCode)code) switch
    {
        TransactionErrorAction.None => 0,
        TransactionErrorAction.Retry => 1,
        TransactionErrorAction.FindCoordinatorAndRetry => 2,
        TransactionErrorAction.Abortable => 3,
        TransactionErrorAction.AbortableWithEpochBump => 4,
        _ => 5,
    };

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        await _call.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                if (_state is not (TransactionState.InTransaction or TransactionState.Committing)) throw StateError("commit");
                _state = TransactionState.Committing;
            }
            // Everything sent must be acknowledged before the commit.
            try
            {
                await _engine.FlushAsync(cancellationToken).ConfigureAwait(false);
                await WaitForAddCallAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                lock (_gate) if (_state == TransactionState.Committing) _state = TransactionState.InTransaction;
                throw;
            }
            bool anything;
            lock (_gate)
            {
                if (_state != TransactionState.Committing) throw StateError("commit");
                anything = _added.Count > 0 || _offsetsAdded;
            }
            if (anything)
            {
                var identity = _engine.Identity;
                await RetryAsync("EndTxn(commit)", group: false, _id,
                    ct => _transport.EndTxnAsync(_id, identity, commit: true, ct), static c => c, cancellationToken).ConfigureAwait(false);
            }
            EndTransaction();
            TransactionLog.Committed(_log, _id);
        }
        finally { _call.Release(); }
    }

    public async Task AbortAsync(CancellationToken cancellationToken)
    {
        await _call.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                if (_state is not (TransactionState.InTransaction or TransactionState.Committing or TransactionState.Aborting or TransactionState.AbortableError))
                    throw StateError("abort");
                _state = TransactionState.Aborting;
                _failQueuedCause ??= _error;
                _failQueuedReason ??= "The transaction was aborted before the record was sent.";
            }
            _engine.Wake();
            // What is still queued fails; what is in flight is answered first.
            await _engine.FlushAsync(cancellationToken).ConfigureAwait(false);
            await WaitForAddCallAsync().ConfigureAwait(false);
            bool anything, bump;
            lock (_gate)
            {
                if (_state != TransactionState.Aborting) throw StateError("abort");
                anything = _added.Count > 0 || _offsetsAdded;
                bump = _bumpAfterAbort;
            }
            var identity = _engine.Identity;
            if (anything)
                await RetryAsync("EndTxn(abort)", group: false, _id,
                    ct => _transport.EndTxnAsync(_id, identity, commit: false, ct), static c => c, cancellationToken).ConfigureAwait(false);
            if (bump)
            {
                // The sequence state of some partition is in doubt: go on under a new epoch (KIP-360).
                var next = await InitProducerIdAsync(identity, cancellationToken).ConfigureAwait(false);
                await _engine.SetTransactionalIdentityAsync(next).ConfigureAwait(false);
                TransactionLog.Initialized(_log, _id, next.ProducerId, next.Epoch);
            }
            EndTransaction();
            TransactionLog.Aborted(_log, _id);
        }
        finally { _call.Release(); }
    }

    /// <summary>Best effort at dispose: abort an open transaction within the close timeout, so its records are not left open.</summary>
    public async Task AbortOpenTransactionAsync(CancellationToken cancellationToken)
    {
        TransactionState state;
        lock (_gate) state = _state;
        if (state is not (TransactionState.InTransaction or TransactionState.Committing or TransactionState.AbortableError)) return;
        try { await AbortAsync(cancellationToken).ConfigureAwait(false); }
        catch (Exception ex) when (ex is KielException or OperationCanceledException) { TransactionLog.AbortAtCloseFailed(_log, _id, ex.Message); }
    }

    private void EndTransaction()
    {
        lock (_gate)
        {
            _added.Clear();
            _wanted.Clear();
            _generation++;
            _offsetsAdded = false;
            _bumpAfterAbort = false;
            _error = null;
            _failQueuedReason = null;
            _failQueuedCause = null;
            if (_state != TransactionState.Fatal) _state = TransactionState.Ready;
        }
    }

    private async Task WaitForAddCallAsync()
    {
        Task? call;
        lock (_gate) call = _addCall;
        if (call is not null) await call.ConfigureAwait(false);
    }

    // ---- error states ----

    /// <summary>The transaction can only be aborted now. Queued records fail.</summary>
    public void SetAbortable(TransactionException error, bool bump = false)
    {
        lock (_gate)
        {
            if (bump) _bumpAfterAbort = true;
            if (_state is not (TransactionState.InTransaction or TransactionState.Committing)) return;
            _state = TransactionState.AbortableError;
            _error = error;
            _failQueuedReason = $"The transaction failed and must be aborted: {error.Message}";
            _failQueuedCause = error;
        }
        TransactionLog.Abortable(_log, _id, error.Message);
        _engine.Wake();
    }

    /// <summary>No more transactional work. Queued records fail.</summary>
    public void SetFatal(TransactionException error)
    {
        lock (_gate)
        {
            if (_state == TransactionState.Fatal) return;
            _state = TransactionState.Fatal;
            _error = error;
            _failQueuedReason = $"The transactional producer can do no more transactional work: {error.Message}";
            _failQueuedCause = error;
        }
        TransactionLog.Fatal(_log, _id, error.Message);
        _engine.Wake();
    }

    /// <summary>A record of the transaction failed: the transaction must be aborted (unless it is already being aborted or is fatal).</summary>
    public void OnRecordFailed(ProduceException error)
    {
        lock (_gate)
            if (_state is not (TransactionState.InTransaction or TransactionState.Committing)) return;
        SetAbortable(new TransactionException(
            $"A record of the transaction was not delivered ({error.Message})", error.ErrorCode, requiresAbort: true, innerException: error));
    }

    /// <summary>The partition's sequence state came into doubt: the epoch is bumped after the abort.</summary>
    public void RequestBumpAfterAbort()
    {
        lock (_gate) _bumpAfterAbort = true;
    }

    /// <summary>
    /// A Produce error the transaction decides on: a fence or a refused transactional id makes the producer fatal, a
    /// lost producer id or sequence makes the transaction abortable (with an epoch bump). Returns true when the batch
    /// fails; false leaves the error to the producer's normal handling (retries).
    /// </summary>
    public bool OnProduceError(ErrorCode code, string message)
    {
        switch (code)
        {
            case ErrorCode.OutOfOrderSequenceNumber:
                SetAbortable(new TransactionException(message, (short)code, requiresAbort: true), bump: true);
                return true;
        }
        switch (ErrorClassification.ForTransaction(code))
        {
            case TransactionErrorAction.Fatal when code is ErrorCode.ProducerFenced or ErrorCode.InvalidProducerEpoch
                or ErrorCode.TransactionalIdAuthorizationFailed or ErrorCode.InvalidTxnState or ErrorCode.TransactionCoordinatorFenced:
                SetFatal(new TransactionException(Fenced(code, message), (short)code, isFatal: true));
                return true;
            case TransactionErrorAction.AbortableWithEpochBump:
                SetAbortable(new TransactionException(message, (short)code, requiresAbort: true), bump: true);
                return true;
            default:
                return false;
        }
    }

    private string Fenced(ErrorCode code, string message) => code is ErrorCode.ProducerFenced or ErrorCode.InvalidProducerEpoch
        ? $"Producer with transactional id '{_id}' was fenced by a newer instance with the same id ({ErrorCodes.Info(code).Name}): {message}"
        : message;

    // ---- the sender loop's side ----

    /// <summary>
    /// Called by the sender loop under the partition's lock: true when the partition's batch may be sent now. A
    /// partition not yet in the transaction is queued for AddPartitionsToTxn and waits.
    /// </summary>
    public bool MaySend(PartitionState p)
    {
        lock (_gate)
        {
            if (_state is not (TransactionState.InTransaction or TransactionState.Committing)) return false;
            if (_added.Contains(p)) return true;
            _wanted.Add(p);
            return false;
        }
    }

    /// <summary>Called by the sender loop: starts one AddPartitionsToTxn for every partition that waits, unless one is running.</summary>
    public void PollAddPartitions(long nowMs, ref long nextWakeMs)
    {
        lock (_gate)
        {
            if (_addCall is not null || _wanted.Count == 0) return;
            if (_state is not (TransactionState.InTransaction or TransactionState.Committing)) return;
            if (nowMs < _addRetryAtMs) { nextWakeMs = Math.Min(nextWakeMs, _addRetryAtMs); return; }
            var partitions = _wanted.ToList();
            _addCall = AddPartitionsAsync(partitions, _generation, _engine.Identity);
        }
    }

    private async Task AddPartitionsAsync(List<PartitionState> partitions, int generation, ProducerIdentity identity)
    {
        await Task.Yield();
        var list = partitions.Select(p => new TopicPartition(p.Topic, p.Partition)).ToList();
        IReadOnlyList<(TopicPartition Partition, short ErrorCode)>? results = null;
        Exception? failure = null;
        try
        {
            using var bound = new CancellationTokenSource(_options.RequestTimeout + TimeSpan.FromSeconds(5), _time);
            results = await _transport.AddPartitionsToTxnAsync(_id, identity, list, bound.Token).ConfigureAwait(false);
        }
        catch (Exception ex) { failure = ex; }

        var retry = false;
        TransactionException? abortable = null, fatal = null;
        var bump = false;
        var added = 0;
        lock (_gate)
        {
            _addCall = null;
            if (generation != _generation) { _engine.Wake(); return; }
            if (failure is not null)
            {
                retry = true;
                _transport.ForgetCoordinator(false, _id, failure.Message);
                TransactionLog.Retrying(_log, _id, "AddPartitionsToTxn", failure.Message, ++_addAttempts);
            }
            else
            {
                foreach (var (tp, code) in results!)
                {
                    var p = partitions.Find(x => x.Topic == tp.Topic && x.Partition == tp.Partition);
                    if (p is null) continue;
                    var c = (ErrorCode)code;
                    switch (ErrorClassification.ForTransaction(c))
                    {
                        case TransactionErrorAction.None:
                            _added.Add(p);
                            _wanted.Remove(p);
                            added++;
                            break;
                        case TransactionErrorAction.FindCoordinatorAndRetry:
                            _transport.ForgetCoordinator(false, _id, ErrorCodes.Info(c).Name);
                            retry = true;
                            break;
                        case TransactionErrorAction.Retry:
                            retry = true;
                            break;
                        case TransactionErrorAction.Abortable:
                        case TransactionErrorAction.AbortableWithEpochBump:
                            bump |= ErrorClassification.ForTransaction(c) == TransactionErrorAction.AbortableWithEpochBump;
                            abortable ??= new TransactionException(
                                $"AddPartitionsToTxn for {tp} failed with {ErrorCodes.Info(c).Name}; the transaction must be aborted.", code, requiresAbort: true);
                            break;
                        default:
                            fatal ??= new TransactionException(
                                Fenced(c, $"AddPartitionsToTxn for {tp} failed with {ErrorCodes.Info(c).Name}."), code, isFatal: true);
                            break;
                    }
                }
                if (retry)
                {
                    var worst = results!.FirstOrDefault(r => r.ErrorCode != 0 && ErrorClassification.ForTransaction((ErrorCode)r.ErrorCode)
                        is TransactionErrorAction.Retry or TransactionErrorAction.FindCoordinatorAndRetry);
                    TransactionLog.Retrying(_log, _id, "AddPartitionsToTxn", ErrorCodes.Info(worst.ErrorCode).Name, ++_addAttempts);
                }
            }
            if (retry)
            {
                var ms = Math.Min(1000, _options.RetryBackoff.TotalMilliseconds * (1 << Math.Min(Math.Max(_addAttempts - 1, 0), 4)));
                _addRetryAtMs = _time.GetTimestamp() / Math.Max(1, _time.TimestampFrequency / 1000) + (long)ms;
            }
            else _addAttempts = 0;
        }
        if (added > 0) TransactionLog.PartitionsAdded(_log, _id, added);
        if (fatal is not null) SetFatal(fatal);
        else if (abortable is not null) SetAbortable(abortable, bump);
        _engine.Wake();
    }

    // ---- retries ----

    /// <summary>
    /// Runs one coordinator request until its code is 0, retrying retriable codes and lost connections within the
    /// delivery timeout; an abortable or fatal code moves the state and throws a <see cref="TransactionException"/>.
    /// </summary>
    private async Task<T> RetryAsync<T>(string api, bool group, string key, Func<CancellationToken, ValueTask<T>> call, Func<T, short> codeOf,
        CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(_options.DeliveryTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var token = linked.Token;
        string last = "none";
        for (var attempt = 1; ; attempt++)
        {
            short code;
            T result = default!;
            try
            {
                result = await call(token).ConfigureAwait(false);
                code = codeOf(result);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex) when (deadline.IsCancellationRequested)
            {
                throw new TransactionException($"{api} did not succeed within DeliveryTimeout ({_options.DeliveryTimeout}); last error: {ex.Message}", innerException: ex);
            }
            catch (Exception ex) when (ErrorClassification.IsRetriable(ex) || ex is OperationCanceledException)
            {
                last = ex.Message;
                _transport.ForgetCoordinator(group, key, ex.Message);
                TransactionLog.Retrying(_log, _id, api, ex.Message, attempt);
                await BackoffAsync(api, attempt, last, deadline, cancellationToken).ConfigureAwait(false);
                continue;
            }
            var error = (ErrorCode)code;
            var name = ErrorCodes.Info(error).Name;
            switch (ErrorClassification.ForTransaction(error))
            {
                case TransactionErrorAction.None:
                    return result;
                case TransactionErrorAction.FindCoordinatorAndRetry:
                    _transport.ForgetCoordinator(group, key, name);
                    goto case TransactionErrorAction.Retry;
                case TransactionErrorAction.Retry:
                    last = name;
                    TransactionLog.Retrying(_log, _id, api, name, attempt);
                    await BackoffAsync(api, attempt, last, deadline, cancellationToken).ConfigureAwait(false);
                    continue;
                case TransactionErrorAction.Abortable:
                case TransactionErrorAction.AbortableWithEpochBump:
                {
                    var e = new TransactionException($"{api} failed with {name} ({code}); the transaction must be aborted (call AbortTransactionAsync).", code, requiresAbort: true);
                    lock (_gate)
                    {
                        // No transaction to abort yet: the call fails and may be repeated.
                        if (_state is TransactionState.Uninitialized or TransactionState.Initializing)
                            throw new TransactionException($"{api} failed with {name} ({code}).", code);
                        // An abort that failed this way is repeated by the caller.
                        if (_state == TransactionState.Aborting) _state = TransactionState.InTransaction;
                    }
                    SetAbortable(e, ErrorClassification.ForTransaction(error) == TransactionErrorAction.AbortableWithEpochBump);
                    throw e;
                }
                default:
                {
                    var e = new TransactionException(Fenced(error, $"{api} failed with {name} ({code})."), code, isFatal: true);
                    SetFatal(e);
                    throw e;
                }
            }
        }
    }

    private async Task BackoffAsync(string api, int attempt, string last, CancellationTokenSource deadline, CancellationToken cancellationToken)
    {
        var ms = Math.Min(1000, _options.RetryBackoff.TotalMilliseconds * (1 << Math.Min(attempt - 1, 4)));
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            await Task.Delay(TimeSpan.FromMilliseconds(ms * (0.8 + 0.4 * Random.Shared.NextDouble())), _time, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TransactionException($"{api} did not succeed within DeliveryTimeout ({_options.DeliveryTimeout}); last error: {last}.");
        }
    }
}
