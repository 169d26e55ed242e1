namespace Kiel.Consuming;

/// <summary>
/// Settings of <see cref="KielConsumer{TKey, TValue}"/> and <see cref="SingleConsumer{T}"/>.
/// Every duration is sent to the broker in milliseconds. The bootstrap list, client id, request timeout, retry
/// backoff, logging and clock are in <see cref="KielClientOptions"/>.
/// </summary>
public sealed partial record KielConsumerOptions : KielClientOptions
{
    /// <summary>The most bytes one Fetch asks a broker for, over its partitions (Fetch v3+). A broker's partitions are
    /// fetched in two lanes, each with one Fetch of its own outstanding on a connection of its own. Default 50 MiB.
    /// A first batch larger than this is still returned by the broker, so no record is ever too large to consume.</summary>
    public int FetchMaxBytes { get; init; } = 50 * 1024 * 1024;

    /// <summary>The most bytes one Fetch asks for per partition (kiel's <c>max_bytes</c>). Default 1 MiB.
    /// On old Fetch versions that cut a too-large record short, the limit is doubled for that partition until it fits.
    /// While a broker's answers come fast (over 1 GB/s, as over loopback), a Fetch asks each partition for less: its
    /// share of 1.5 MiB per lane (at least 64 KiB), so that each answer is read while it is still in the CPU's cache; slower
    /// answers that keep the application waiting raise that share back up to this limit.</summary>
    public int MaxPartitionFetchBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// What the consumer does with a record the deserializer cannot read. Null (the default) is the client's own:
    /// <see cref="DeserializationErrorAction.Throw"/> for <see cref="KielConsumer{TKey, TValue}"/> (as Java's; seek past
    /// it to go on), <see cref="DeserializationErrorAction.Skip"/> for <see cref="SingleConsumer{T}"/> (kiel's: logged,
    /// counted, passed). A null value is never an error for a deserializer that maps null to null.
    /// </summary>
    public DeserializationErrorAction? OnDeserializationError { get; init; }

    /// <summary>Decides per record instead of <see cref="OnDeserializationError"/>, for example <see cref="DeadLetter.To"/>. Default none.</summary>
    public DeserializationErrorHandler? DeserializationErrorHandler { get; init; }

    /// <summary>
    /// For <see cref="SingleConsumer{T}"/>. False (the default, kiel's contract): transient trouble (a broker down,
    /// metadata or offsets that cannot be read yet, a retriable error) is logged and counted
    /// (<c>kiel.consumer.transient.errors</c>); <c>ConsumeAsync</c> returns what it has and the next call tries again.
    /// Non-retriable errors always throw. True lets transient trouble escape too. <see cref="KielConsumer{TKey, TValue}"/>
    /// ignores it: its fetches retry in the background and it throws only what will not pass.
    /// </summary>
    public bool ThrowOnTransientErrors { get; init; }

    /// <summary>
    /// kiel's split (spec §5): each partition of a fetch gets <see cref="MaxPartitionFetchBytes"/> divided by the number
    /// of partitions fetched from its leader (in both of the leader's fetch lanes, as kiel's one request to it held
    /// them all). Set by the kiel-shaped GroupedConsumer and SingleConsumer.
    /// </summary>
    internal bool SplitPartitionFetchBytesPerLeader { get; init; }

    /// <summary>The least bytes a broker gathers before answering a Fetch (kiel's <c>min_bytes</c>). Default 1.</summary>
    public int FetchMinBytes { get; init; } = 1;

    /// <summary>How long a broker may hold a Fetch waiting for <see cref="FetchMinBytes"/> (kiel's <c>max_wait_time</c>). Default 500 ms.</summary>
    public TimeSpan FetchMaxWait { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Which transactional records are returned. Default <see cref="IsolationLevel.ReadUncommitted"/>.</summary>
    public IsolationLevel IsolationLevel { get; init; } = IsolationLevel.ReadUncommitted;

    /// <summary>What happens when a position is out of range (OFFSET_OUT_OF_RANGE). Default <see cref="OffsetResetPolicy.Latest"/>.</summary>
    public OffsetResetPolicy AutoOffsetReset { get; init; } = OffsetResetPolicy.Latest;

    /// <summary>The most fetched bytes held in memory but not yet handed to the application. Default 64 MiB.
    /// Fetching pauses while the buffer is over this bound.</summary>
    public long MaxPrefetchBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>How long to wait for an unknown topic to appear in the metadata before failing. Default 10 s.</summary>
    public TimeSpan TopicMetadataTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Metadata older than this is refreshed (<c>metadata.max.age.ms</c>); it bounds how long a group leader takes to
    /// notice that a subscribed topic gained partitions (it then rejoins so that the new partitions get an owner).
    /// Default 5 minutes, as Java and librdkafka. Ignored when the consumer shares a client's cluster (the client's own
    /// setting applies).
    /// </summary>
    public TimeSpan MetadataMaxAge { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Whether to use incremental fetch sessions (KIP-227) where the broker offers them. Default true.</summary>
    public bool UseFetchSessions { get; init; } = true;

    /// <summary>
    /// Whether to check the CRC of every fetched batch (CRC-32C for record batches, CRC-32 for legacy messages), as the
    /// Java client's <c>check.crcs</c>. A mismatch raises <see cref="CorruptRecordException"/> and no record of that batch
    /// is handed out. Default true; turn it off only to read data known to be damaged.
    /// </summary>
    public bool CheckCrcs { get; init; } = true;

    /// <summary>
    /// The largest size one compressed batch (or legacy wrapper) may decompress to; a larger one is refused with a
    /// <see cref="KafkaProtocolException"/> before that memory is allocated. Default 64 MiB.
    /// </summary>
    public int MaxDecompressedBatchBytes { get; init; } = Kiel.Protocol.Compression.CompressionCodec.DefaultMaxDecompressedBytes;

    /// <summary>Checks every setting and throws one exception that lists what is wrong and how to fix it.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        var errors = new List<string>();
        foreach (var (setting, problem) in ClientSettingProblems()) errors.Add($"{setting} {problem}");
        if (FetchMaxBytes < 1)
            errors.Add($"FetchMaxBytes is {FetchMaxBytes}: it must be at least 1 (the default is 52428800).");
        if (MaxPartitionFetchBytes < 1)
            errors.Add($"MaxPartitionFetchBytes is {MaxPartitionFetchBytes}: it must be at least 1 (the default is 1048576).");
        if (FetchMinBytes < 0)
            errors.Add($"FetchMinBytes is {FetchMinBytes}: it must be 0 or more (the default is 1).");
        if (FetchMaxWait < TimeSpan.Zero || FetchMaxWait.TotalMilliseconds > int.MaxValue)
            errors.Add($"FetchMaxWait is {FetchMaxWait}: it must be between 0 and {int.MaxValue} ms (the default is 500 ms).");
        if (!Enum.IsDefined(IsolationLevel))
            errors.Add($"IsolationLevel {IsolationLevel} is not ReadUncommitted or ReadCommitted.");
        if (!Enum.IsDefined(AutoOffsetReset))
            errors.Add($"AutoOffsetReset {AutoOffsetReset} is not Earliest, Latest or Error.");
        if (MaxPrefetchBytes < 1)
            errors.Add($"MaxPrefetchBytes is {MaxPrefetchBytes}: it must be at least 1 (the default is 64 MiB).");
        if (TopicMetadataTimeout < TimeSpan.Zero)
            errors.Add($"TopicMetadataTimeout is {TopicMetadataTimeout}: it must not be negative.");
        if (MetadataMaxAge <= TimeSpan.Zero || MetadataMaxAge.TotalMilliseconds > int.MaxValue)
            errors.Add($"MetadataMaxAge is {MetadataMaxAge}: it must be positive and under 24 days (the default is 5 minutes).");
        if (RequestTimeout > TimeSpan.Zero && RequestTimeout <= FetchMaxWait)
            errors.Add($"RequestTimeout ({RequestTimeout.TotalMilliseconds} ms) must be longer than FetchMaxWait ({FetchMaxWait.TotalMilliseconds} ms), or every held Fetch would time out; raise RequestTimeout or lower FetchMaxWait.");
        if (MaxDecompressedBatchBytes < 1)
            errors.Add($"MaxDecompressedBatchBytes is {MaxDecompressedBatchBytes}: it must be at least 1 (the default is {Kiel.Protocol.Compression.CompressionCodec.DefaultMaxDecompressedBytes}, 64 MiB).");
        errors.AddRange(GroupSettingProblems());
        if (errors.Count > 0)
            throw new ArgumentException("Invalid KielConsumerOptions: " + string.Join(" ", errors));
    }

    internal int FetchMaxWaitMs => (int)FetchMaxWait.TotalMilliseconds;
}
