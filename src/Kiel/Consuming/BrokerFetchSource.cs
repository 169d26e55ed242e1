namespace Kiel.Consuming;

/// <summary>
/// The Fetch loop of one lane of one broker: one request outstanding at a time, covering the fetchable partitions of
/// its lane that the broker leads, inside an incremental fetch session (KIP-227) when the broker grants one. The next
/// request goes out as soon as an answer's framing is walked, before its checksums are checked and its records handed out.
/// </summary>
/// <remarks>
/// <para>The lanes. A broker's partitions are shared between <see cref="Lanes"/> lanes (see <see cref="PartitionState.Lane"/>),
/// each with its own loop, fetch session and connection (a broker answers one connection's requests in order, so on a
/// shared one a lane's long poll would hold the other's answer back). With one loop, the application waited while
/// each answer was sent, read and checked in turn; with two, one lane's answer is on its way while the other's is
/// checked and read (a 1 KiB record stream against the bench broker: from about 2.75 to 3.06 million records a second,
/// the consumer's waits for records about halved).</para>
/// <para>The answer budget. An answer is read into one buffer, its checksums are checked, and its records are read by
/// the application; when it is no larger than the CPU's cache, each of those passes finds the bytes the pass before
/// left there, and they cost about half what they cost over an answer that has to come from memory again (a 1 KiB
/// record stream over answers of 6 MiB against 1.5 MiB: the socket's copy 114 against 60 ns a record, the value's copy
/// 59 against 35). So a request asks each partition for no more than its share of a budget of
/// <see cref="AnswerBudget.StartBytes"/> (never less than <see cref="MinPartitionShare"/>).</para>
/// <para>When the application waits for the fetches instead, the budget may grow (see <see cref="AnswerBudget"/>).
/// A partition whose records an answer left behind although the broker has them (a batch larger than its share, which
/// a broker returns whole only as the first of an answer) is asked for its full size from then on.</para>
/// </remarks>
internal sealed class BrokerFetchSource
{
    private readonly FetchEngine _engine;
    private readonly AsyncSignal _signal = new();
    private readonly FetchRequestView _request = new();
    private readonly Dictionary<TopicPartition, SentPartition> _sent = [];
    // What the broker's session holds per partition: the offset and size last sent for it.
    private readonly Dictionary<TopicPartition, (long Offset, int MaxBytes, int Epoch)> _session = [];
    private readonly List<TopicPartition> _scratch = [];
    private readonly List<FetchEngine.DeferredChunk> _deferred = [];
    private long _sentAt;
    private CancellationTokenSource? _timeout;
    private CancellationTokenSource? _timeoutOrStop;
    private int _sessionId;
    private int _sessionEpoch;
    private bool _sessionsRefused;
    private readonly AnswerBudget _budget;

    /// <summary>The fetch lanes of one broker, each on a connection of its own.</summary>
    internal const int Lanes = 2;

    /// <summary>The least a partition is asked for under the answer budget.</summary>
    internal const int MinPartitionShare = 64 * 1024;

    public BrokerFetchSource(FetchEngine engine, int brokerId, int lane, CancellationToken stop)
    {
        _engine = engine;
        BrokerId = brokerId;
        Lane = lane;
        _budget = new AnswerBudget(engine.Options.FetchMaxBytes);
        _phaseSince = engine.Time.GetTimestamp();
        Completion = Task.Run(() => RunAsync(stop));
    }

    public int BrokerId { get; }

    public int Lane { get; }

    public Task Completion { get; }

    internal readonly record struct SentPartition(PartitionState State, int Version, long Offset);

    public void Wake() => _signal.Set();

    // What the loop is doing and since when, for the state a closing engine logs (see FetchEngine.DescribeLocked).
    private enum Phase { Starting, Idle, Fetching, BackingOff, Pausing, Stopped }
    private volatile Phase _phase;
    private long _phaseSince;

    private void Enter(Phase phase) => Enter(phase, _engine.Time.GetTimestamp());

    private void Enter(Phase phase, long since)
    {
        Volatile.Write(ref _phaseSince, since);
        _phase = phase;
    }

    /// <summary>The loop's phase and how long it has been in it, or how it ended.</summary>
    internal string Describe()
    {
        var since = _engine.Time.GetElapsedTime(Volatile.Read(ref _phaseSince)).TotalMilliseconds;
        var text = FormattableString.Invariant($"broker {BrokerId} lane {Lane}: {_phase} for {since:0} ms");
        return Completion.Exception is { } failed ? text + " (loop failed: " + failed.GetBaseException().Message + ")" : text;
    }

    internal FetchRequestView Request => _request;

    private async Task RunAsync(CancellationToken stop)
    {
        var options = _engine.Options;
        var backoff = options.RetryBackoff;
        var restart = TimeSpan.FromMilliseconds(Math.Max(1, backoff.TotalMilliseconds));
        try
        {
            while (true)
            {
                try
                {
                    await LoopAsync(stop, options, backoff).ConfigureAwait(false);
                    return;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException && !stop.IsCancellationRequested)
                {
                    // A fault outside the paths the loop handles: ended here, the loop would leave the partitions of its
                    // last request marked in flight and never fetch them again. It starts again instead, after a pause
                    // that grows while the fault repeats, with a full fetch from the partitions' positions.
                    ConsumerLog.FetchLoopFault(_engine.Logger, BrokerId,
                        FormattableString.Invariant($"running; the loop starts again in {restart.TotalMilliseconds:0} ms"), ex);
                    ResetSession();
                    _engine.DropDeferred(this, _deferred);
                    _engine.FetchFailed(this, _sent, null);
                    _sent.Clear();
                    Enter(Phase.BackingOff);
                    try
                    {
                        await Task.Delay(restart, _engine.Time, stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    restart = TimeSpan.FromMilliseconds(Math.Min(1000, restart.TotalMilliseconds * 2));
                }
            }
        }
        finally
        {
            Enter(Phase.Stopped);
            _timeoutOrStop?.Dispose();
            _timeout?.Dispose();
        }
    }

    private async Task LoopAsync(CancellationToken stop, KielConsumerOptions options, TimeSpan backoff)
    {
        // A Fetch sent before the previous answer's records were checked and handed out (see below), awaited first.
        ValueTask<FetchResponseView>? sentEarly = null;
        while (sentEarly is not null || !stop.IsCancellationRequested)
        {
            ValueTask<FetchResponseView> pending;
            if (sentEarly is { } sent)
            {
                pending = sent;
                sentEarly = null;
            }
            else
            {
                bool any;
                try
                {
                    any = _engine.BuildFetch(this, _request, _sent);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                if (!any)
                {
                    Enter(Phase.Idle);
                    try
                    {
                        await _signal.WaitAsync(stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    continue;
                }
                pending = SendAsync(options, stop);
            }
            // Since the request went out (SendAsync stamped it): no second clock read per answer.
            Enter(Phase.Fetching, _sentAt);

            FetchResponseView response;
            long bufferedAtAnswer;
            try
            {
                response = await pending.ConfigureAwait(false);
                bufferedAtAnswer = _engine.BufferedBytes;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                _engine.FetchFailed(this, _sent, null);
                return;
            }
            catch (Exception ex)
            {
                ResetSession();
                _engine.FetchFailed(this, _sent, ex);
                Enter(Phase.BackingOff);
                try
                {
                    await Task.Delay(backoff, _engine.Time, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                backoff = TimeSpan.FromMilliseconds(Math.Min(1000, Math.Max(1, backoff.TotalMilliseconds * 2)));
                continue;
            }
            backoff = options.RetryBackoff;
            var recordBytes = RecordBytes(response);
            var roundTrip = _engine.Time.GetElapsedTime(_sentAt);
            _budget.Observe(bufferedAtAnswer, recordBytes, roundTrip);
            // A broker answers a fetch without records only once FetchMaxWait has passed. One that answers empty at once
            // (broken or hostile) would have this loop spin: wait out the rest of FetchMaxWait before the next fetch.
            var early = recordBytes == 0 ? options.FetchMaxWait - roundTrip : TimeSpan.Zero;
            bool healthy;
            try
            {
                healthy = _engine.HandleFetchResponse(this, _sent, response, _deferred);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A bad response must not end this broker's fetch loop.
                ResetSession();
                _engine.FetchFailed(this, _sent, ex);
                healthy = false;
            }
            var pause = !healthy ? backoff : early > options.FetchMaxWait / 2 ? early : TimeSpan.Zero;
            if (_deferred.Count > 0)
            {
                // The answer's records were only walked: their positions moved on, so the next Fetch goes out now and
                // the broker works on it while this thread checks the checksums and hands the records out.
                if (pause <= TimeSpan.Zero && !stop.IsCancellationRequested && TryBuildFetch())
                    sentEarly = SendAsync(options, stop);
                _engine.CompleteDeferred(this, _deferred);
            }
            if (pause > TimeSpan.Zero)
            {
                Enter(healthy ? Phase.Pausing : Phase.BackingOff);
                try
                {
                    await Task.Delay(pause, _engine.Time, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private bool TryBuildFetch()
    {
        try
        {
            return _engine.BuildFetch(this, _request, _sent);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Sends <see cref="_request"/> with a deadline of RequestTimeout + FetchMaxWait on the engine's clock.</summary>
    private ValueTask<FetchResponseView> SendAsync(KielConsumerOptions options, CancellationToken stop)
    {
        try
        {
            // A timer on the engine's clock, linked with stop; both are reused while the timer has not fired. One Fetch
            // is outstanding at a time, so the pair is never shared.
            if (_timeout is null || _timeoutOrStop is null || !_timeout.TryReset())
            {
                _timeoutOrStop?.Dispose();
                _timeout?.Dispose();
                _timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _engine.Time);
                _timeoutOrStop = CancellationTokenSource.CreateLinkedTokenSource(stop, _timeout.Token);
            }
            _timeout.CancelAfter(options.RequestTimeout + options.FetchMaxWait);
            _sentAt = _engine.Time.GetTimestamp();
            return _engine.Backend.FetchAsync(BrokerId, Lane, _request, _timeoutOrStop.Token);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<FetchResponseView>(ex);
        }
    }

    private static long RecordBytes(FetchResponseView response)
    {
        long bytes = 0;
        foreach (var partition in response.Partitions) bytes += partition.Records.Length;
        return bytes;
    }

    /// <summary>A partition's limit in a request that fetches <paramref name="split"/> partitions from one leader.</summary>
    private static int PartitionLimit(int maxBytes, int split) => split <= 1 ? maxBytes : Math.Max(1, maxBytes / split);

    /// <summary>A partition's limit: its own (split as above), within its share of the answer budget unless it needs its full size.</summary>
    private static int PartitionLimit(PartitionState state, int split, int share)
    {
        var limit = PartitionLimit(state.MaxBytes, split);
        return state.FullShare ? limit : Math.Min(limit, share);
    }

    /// <summary>Fills the request for <paramref name="wanted"/> (the partitions to fetch, with their offsets), as a full
    /// or an incremental fetch; <paramref name="leaderPartitions"/> counts the broker's fetchable partitions in every
    /// lane (<paramref name="wanted"/>'s among them), among which kiel's split shares the bytes. Called under the
    /// engine's lock.</summary>
    internal void FillRequest(FetchRequestView request, Dictionary<TopicPartition, SentPartition> wanted, int leaderPartitions)
    {
        var options = _engine.Options;
        request.Clear();
        request.MaxWaitMs = options.FetchMaxWaitMs;
        request.MinBytes = options.FetchMinBytes;
        request.MaxBytes = options.FetchMaxBytes;
        request.IsolationLevel = options.IsolationLevel;
        // kiel's split: each partition of a request to this leader gets max_bytes / partitions on that leader.
        var split = options.SplitPartitionFetchBytesPerLeader ? Math.Max(1, leaderPartitions) : 1;
        var share = Math.Max(MinPartitionShare, _budget.Bytes / Math.Max(1, wanted.Count));
        if (_sessionId == 0)
        {
            request.SessionId = 0;
            request.SessionEpoch = options.UseFetchSessions && !_sessionsRefused ? 0 : -1;
            _session.Clear();
            foreach (var (tp, sent) in wanted)
            {
                var limit = PartitionLimit(sent.State, split, share);
                request.Partitions.Add(new FetchPartitionRequest(tp, sent.Offset, sent.State.LeaderEpoch, limit));
                _session[tp] = (sent.Offset, limit, sent.State.LeaderEpoch);
            }
            return;
        }
        request.SessionId = _sessionId;
        request.SessionEpoch = _sessionEpoch;
        foreach (var (tp, sent) in wanted)
        {
            var entry = (sent.Offset, PartitionLimit(sent.State, split, share), sent.State.LeaderEpoch);
            if (_session.TryGetValue(tp, out var known) && known == entry) continue;
            request.Partitions.Add(new FetchPartitionRequest(tp, sent.Offset, sent.State.LeaderEpoch, entry.Item2));
            _session[tp] = entry;
        }
        _scratch.Clear();
        foreach (var tp in _session.Keys)
            if (!wanted.ContainsKey(tp)) _scratch.Add(tp);
        foreach (var tp in _scratch)
        {
            _session.Remove(tp);
            request.Forgotten.Add(tp);
        }
    }

    /// <summary>Records the session outcome of a response; false when the session broke and the next fetch must be full.</summary>
    internal bool OnResponseSession(FetchRequestView request, FetchResponseView response)
    {
        if (response.ErrorCode != 0)
        {
            ResetSession();
            return false;
        }
        if (request.SessionEpoch == -1) return true;
        if (response.SessionId == 0)
        {
            // The broker gave no session (old version or full cache): fetch in full from now on.
            if (request.SessionId == 0) _sessionsRefused = true;
            ResetSession();
            return true;
        }
        _sessionId = response.SessionId;
        _sessionEpoch = request.SessionId == 0 ? 1 : NextEpoch(_sessionEpoch);
        return true;
    }

    private static int NextEpoch(int epoch) => epoch == int.MaxValue ? 1 : epoch + 1;

    internal void ResetSession()
    {
        _sessionId = 0;
        _sessionEpoch = 0;
        _session.Clear();
    }
}
