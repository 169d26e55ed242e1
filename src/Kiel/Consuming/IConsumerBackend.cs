namespace Kiel.Consuming;

/// <summary>
/// What the fetch engine needs from the layers below (cluster metadata, Fetch, ListOffsets), kept narrow so
/// that the engine is tested against a scripted backend and runs against <see cref="ClusterConsumerBackend"/>.
/// Implementations throw on a failed request (connection lost, timeout); broker error codes come back as data.
/// </summary>
internal interface IConsumerBackend : IAsyncDisposable
{
    /// <summary>The partitions of <paramref name="topic"/> with their leaders, or null when the topic is not in the metadata.
    /// <paramref name="refresh"/> asks for fresh metadata instead of the cache.</summary>
    ValueTask<IReadOnlyList<PartitionLeader>?> GetPartitionsAsync(string topic, bool refresh, CancellationToken cancellationToken);

    /// <summary>Sends one Fetch to <paramref name="brokerId"/> on the connection of fetch lane <paramref name="lane"/> (0 or 1,
    /// see <see cref="BrokerFetchSource"/>). The caller disposes the response, which releases its receive buffer.</summary>
    ValueTask<FetchResponseView> FetchAsync(int brokerId, int lane, FetchRequestView request, CancellationToken cancellationToken);

    /// <summary>Sends one ListOffsets to <paramref name="brokerId"/> (timestamps in milliseconds; -2 earliest, -1 latest).</summary>
    ValueTask<IReadOnlyList<ListOffsetsAnswer>> ListOffsetsAsync(int brokerId, IReadOnlyList<ListOffsetsQuery> queries, IsolationLevel isolationLevel, CancellationToken cancellationToken);
}

/// <summary>A partition's leader as the metadata says. <paramref name="LeaderId"/> is -1 when there is none.</summary>
internal readonly record struct PartitionLeader(int Partition, int LeaderId, int LeaderEpoch);

/// <summary>One partition of a Fetch.</summary>
internal readonly record struct FetchPartitionRequest(TopicPartition TopicPartition, long FetchOffset, int CurrentLeaderEpoch, int MaxBytes);

/// <summary>A Fetch as the engine builds it; the backend chooses the version and encodes it.
/// For a full fetch <see cref="Partitions"/> lists every partition; for an incremental one (KIP-227) only the changed ones.</summary>
internal sealed class FetchRequestView
{
    public int MaxWaitMs { get; set; }
    public int MinBytes { get; set; }
    public int MaxBytes { get; set; }
    public IsolationLevel IsolationLevel { get; set; }
    /// <summary>0 with epoch 0 asks for a new session; 0 with epoch -1 fetches without one.</summary>
    public int SessionId { get; set; }
    public int SessionEpoch { get; set; } = -1;
    public List<FetchPartitionRequest> Partitions { get; } = [];
    public List<TopicPartition> Forgotten { get; } = [];
    /// <summary>The backend's reusable request objects for this view (one Fetch outstanding per view).</summary>
    internal FetchRequestWire? Wire { get; set; }

    public void Clear()
    {
        Partitions.Clear();
        Forgotten.Clear();
    }
}

/// <summary>An aborted transaction in a Fetch response (Fetch v4+).</summary>
internal readonly record struct AbortedTransaction(long ProducerId, long FirstOffset);

/// <summary>One partition of a Fetch response. <see cref="Records"/> points into the response's receive buffer.
/// A struct: a Fetch answer's partitions are one array, not an object each.</summary>
internal readonly struct FetchPartitionResponse
{
    public FetchPartitionResponse()
    {
    }

    public TopicPartition TopicPartition { get; init; }
    public short ErrorCode { get; init; }
    public long HighWatermark { get; init; } = -1;
    public long LastStableOffset { get; init; } = -1;
    public long LogStartOffset { get; init; } = -1;
    public IReadOnlyList<AbortedTransaction>? AbortedTransactions { get; init; }
    public ReadOnlyMemory<byte> Records { get; init; }
    public int CurrentLeaderId { get; init; } = -1;
    public int CurrentLeaderEpoch { get; init; } = -1;
}

/// <summary>A decoded Fetch response. Disposing it releases the receive buffer its records point into.</summary>
internal sealed class FetchResponseView(short version, short errorCode, int sessionId, List<FetchPartitionResponse> partitions, Network.ResponseFrame? frame) : IDisposable
{
    private Network.ResponseFrame? _frame = frame;

    public short Version { get; } = version;
    public short ErrorCode { get; } = errorCode;
    public int SessionId { get; } = sessionId;
    public List<FetchPartitionResponse> Partitions { get; } = partitions;

    /// <summary>Releases the receive buffer. The view holds the only reference to its response frame, so the frame
    /// goes back to its connection's pool (<see cref="Network.ResponseFrame.Recycle"/>).</summary>
    public void Dispose() => Interlocked.Exchange(ref _frame, null)?.Recycle();
}

/// <summary>One partition of a ListOffsets: <paramref name="Timestamp"/> in ms, or -2 (earliest) / -1 (latest).</summary>
internal readonly record struct ListOffsetsQuery(TopicPartition TopicPartition, long Timestamp, int CurrentLeaderEpoch = -1);

/// <summary>One partition of a ListOffsets response; <paramref name="Offset"/> is -1 when no record matches the time.</summary>
internal readonly record struct ListOffsetsAnswer(TopicPartition TopicPartition, short ErrorCode, long Offset, long Timestamp = -1, int LeaderEpoch = -1);
