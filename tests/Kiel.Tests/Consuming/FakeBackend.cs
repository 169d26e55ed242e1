using System.Buffers.Binary;
using System.Collections.Concurrent;
using Kiel.Consuming;

namespace Kiel.Tests.Consuming;

/// <summary>
/// A scripted cluster for the fetch engine: logs of stored sets per partition, served like the librdkafka mock
/// (one stored set per partition per Fetch, whole sets even below the requested offset), with leaders, broker
/// outages, injected partition errors, fetch sessions and ListOffsets answers that tests can set.
/// </summary>
internal sealed class FakeBackend : IConsumerBackend
{
    private readonly object _gate = new();
    private readonly Dictionary<string, int> _topics = [];
    private readonly Dictionary<TopicPartition, List<byte[]>> _logs = [];
    private readonly Dictionary<TopicPartition, int> _leaders = [];
    private readonly Dictionary<TopicPartition, int> _epochs = [];
    private readonly Dictionary<TopicPartition, Queue<short>> _errors = [];
    private readonly Dictionary<int, Dictionary<TopicPartition, long>> _sessions = [];
    private int _nextSession = 100;

    public HashSet<int> DownBrokers { get; } = [];
    public bool SupportsSessions { get; set; }
    public short FetchVersion { get; set; } = 12;
    /// <summary>Answers ListOffsets by time; default -1 (no time index, like the mock).</summary>
    public Func<TopicPartition, long, long> OffsetForTime { get; set; } = (_, _) => -1;
    /// <summary>Every Fetch's broker, fetch lane and request (a copy), in the order they were sent.</summary>
    public ConcurrentQueue<(int Broker, int Lane, FetchRequestView Request)> Fetches { get; } = new();
    /// <summary>Runs as each Fetch arrives, on the caller's thread, before it is answered.</summary>
    public Action<FetchRequestView>? OnFetch { get; set; }
    public ConcurrentQueue<ListOffsetsQuery> OffsetQueries { get; } = new();
    public int MetadataCalls;
    /// <summary>Cuts every partition's data to this many bytes, like a Fetch v0-2 broker (0: no cut).</summary>
    public int TruncateTo { get; set; }

    /// <summary>As a broker does (KIP-74): a partition's first batch larger than the partition's limit is sent whole
    /// only as the first records of the answer; elsewhere the partition comes back without records.</summary>
    public bool WithholdOversizedBatches { get; set; }
    public Dictionary<TopicPartition, IReadOnlyList<AbortedTransaction>> Aborted { get; } = [];

    public void CreateTopic(string topic, int partitions, int brokers = 3)
    {
        lock (_gate)
        {
            _topics[topic] = partitions;
            for (var p = 0; p < partitions; p++)
            {
                var tp = new TopicPartition(topic, p);
                _logs[tp] = [];
                _leaders[tp] = p % brokers + 1;
                _epochs[tp] = 0;
            }
        }
    }

    public void Append(TopicPartition tp, byte[] set)
    {
        lock (_gate) _logs[tp].Add(set);
    }

    public void SetLeader(TopicPartition tp, int broker)
    {
        lock (_gate)
        {
            _leaders[tp] = broker;
            _epochs[tp]++;
        }
    }

    public void InjectError(TopicPartition tp, params short[] codes)
    {
        lock (_gate)
        {
            if (!_errors.TryGetValue(tp, out var q)) _errors[tp] = q = new Queue<short>();
            foreach (var c in codes) q.Enqueue(c);
        }
    }

    public void DeleteBefore(TopicPartition tp, long offset)
    {
        lock (_gate) _logs[tp].RemoveAll(set => LastOffset(set) < offset);
    }

    private static long FirstOffset(byte[] set) => BinaryPrimitives.ReadInt64BigEndian(set);

    private static long LastOffset(byte[] set)
    {
        // Like a broker, the fake does not check CRCs; a deliberately malformed set counts as one offset.
        var scan = Kiel.Protocol.Records.RecordSetScanner.Scan(set, 0, verifyCrc: false);
        return scan.Error is not null ? FirstOffset(set) : scan.NextOffset - 1;
    }

    private (long Start, long End) Bounds(TopicPartition tp)
    {
        var log = _logs[tp];
        if (log.Count == 0) return (0, 0);
        var first = log[0][16] >= 2 ? FirstOffset(log[0]) : FirstLegacyOffset(log[0]);
        return (first, LastOffset(log[^1]) + 1);
    }

    private static long FirstLegacyOffset(byte[] set) => FirstOffset(set);

    public ValueTask<IReadOnlyList<PartitionLeader>?> GetPartitionsAsync(string topic, bool refresh, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref MetadataCalls);
        lock (_gate)
        {
            if (!_topics.TryGetValue(topic, out var count)) return ValueTask.FromResult<IReadOnlyList<PartitionLeader>?>(null);
            IReadOnlyList<PartitionLeader> list = [.. Enumerable.Range(0, count).Select(p =>
            {
                var tp = new TopicPartition(topic, p);
                return new PartitionLeader(p, _leaders[tp], _epochs[tp]);
            })];
            return ValueTask.FromResult<IReadOnlyList<PartitionLeader>?>(list);
        }
    }

    /// <summary>When set, the fetches of this lane wait for <see cref="ReleaseHeldLane"/> before they are answered.</summary>
    public int? HoldLane { get; set; }

    public TaskCompletionSource ReleaseHeldLane { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask<FetchResponseView> FetchAsync(int brokerId, int lane, FetchRequestView request, CancellationToken cancellationToken)
    {
        var copy = new FetchRequestView { SessionId = request.SessionId, SessionEpoch = request.SessionEpoch, MaxWaitMs = request.MaxWaitMs };
        copy.Partitions.AddRange(request.Partitions);
        copy.Forgotten.AddRange(request.Forgotten);
        Fetches.Enqueue((brokerId, lane, copy));
        if (HoldLane == lane) await ReleaseHeldLane.Task.WaitAsync(cancellationToken);
        OnFetch?.Invoke(copy);
        if (DownBrokers.Contains(brokerId)) throw new IOException($"broker {brokerId} is down");
        var partitions = new List<FetchPartitionResponse>();
        int sessionId = 0;
        bool any = false;
        lock (_gate)
        {
            Dictionary<TopicPartition, long> wanted;
            if (SupportsSessions && request.SessionEpoch >= 0)
            {
                if (request.SessionId == 0)
                {
                    sessionId = _nextSession++;
                    _sessions[sessionId] = wanted = [];
                }
                else
                {
                    sessionId = request.SessionId;
                    wanted = _sessions[sessionId];
                }
                foreach (var f in request.Forgotten) wanted.Remove(f);
                foreach (var p in request.Partitions) wanted[p.TopicPartition] = p.FetchOffset;
            }
            else
            {
                wanted = request.Partitions.ToDictionary(p => p.TopicPartition, p => p.FetchOffset);
            }
            foreach (var (tp, offset) in wanted)
            {
                if (_errors.TryGetValue(tp, out var q) && q.Count > 0)
                {
                    partitions.Add(new FetchPartitionResponse { TopicPartition = tp, ErrorCode = q.Dequeue() });
                    any = true;
                    continue;
                }
                if (_leaders[tp] != brokerId)
                {
                    partitions.Add(new FetchPartitionResponse { TopicPartition = tp, ErrorCode = 6 });
                    any = true;
                    continue;
                }
                var (start, end) = Bounds(tp);
                if (offset < start || offset > end)
                {
                    partitions.Add(new FetchPartitionResponse { TopicPartition = tp, ErrorCode = 1 });
                    any = true;
                    continue;
                }
                var set = _logs[tp].FirstOrDefault(s => LastOffset(s) >= offset);
                if (set is null) continue;
                ReadOnlyMemory<byte> data = set;
                if (TruncateTo > 0 && data.Length > TruncateTo) data = data[..TruncateTo];
                var length = data.Length;
                if (WithholdOversizedBatches && partitions.Any(p => !p.Records.IsEmpty)
                    && request.Partitions.Any(p => p.TopicPartition == tp && length > p.MaxBytes))
                    data = ReadOnlyMemory<byte>.Empty;
                partitions.Add(new FetchPartitionResponse
                {
                    TopicPartition = tp,
                    HighWatermark = end,
                    LogStartOffset = start,
                    Records = data,
                    // Like a broker, list only the aborted transactions that start within the returned data.
                    AbortedTransactions = Aborted.GetValueOrDefault(tp)?.Where(a => a.FirstOffset >= FirstOffset(set) && a.FirstOffset <= LastOffset(set)).ToList(),
                });
                any = true;
            }
        }
        if (!any) await Task.Delay(Math.Min(request.MaxWaitMs, 20), cancellationToken);
        return new FetchResponseView(FetchVersion, 0, sessionId, partitions, null);
    }

    public ValueTask<IReadOnlyList<ListOffsetsAnswer>> ListOffsetsAsync(int brokerId, IReadOnlyList<ListOffsetsQuery> queries, IsolationLevel isolationLevel, CancellationToken cancellationToken)
    {
        if (DownBrokers.Contains(brokerId)) throw new IOException($"broker {brokerId} is down");
        var answers = new List<ListOffsetsAnswer>();
        lock (_gate)
        {
            foreach (var q in queries)
            {
                OffsetQueries.Enqueue(q);
                if (_leaders[q.TopicPartition] != brokerId)
                {
                    answers.Add(new ListOffsetsAnswer(q.TopicPartition, 6, -1));
                    continue;
                }
                var (start, end) = Bounds(q.TopicPartition);
                var offset = q.Timestamp switch
                {
                    -2 => start,
                    -1 => end,
                    _ => OffsetForTime(q.TopicPartition, q.Timestamp),
                };
                answers.Add(new ListOffsetsAnswer(q.TopicPartition, 0, offset));
            }
        }
        return ValueTask.FromResult<IReadOnlyList<ListOffsetsAnswer>>(answers);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
