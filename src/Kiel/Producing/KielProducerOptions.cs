using Kiel.Protocol.Compression;

namespace Kiel.Producing;

/// <summary>Settings of a Kiel producer. Immutable; check them with <see cref="Validate"/>.</summary>
/// <remarks>The bootstrap list, client id, request timeout, retry backoff, logging and clock are in <see cref="KielClientOptions"/>.</remarks>
public sealed record KielProducerOptions : KielClientOptions
{
    /// <summary>Acknowledgement level. Default <see cref="Acks.All"/>.</summary>
    public Acks Acks { get; init; } = Acks.All;

    /// <summary>How long a partition's batch may wait for more records before it is sent. Default 5 ms.</summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>The size in bytes at which a partition's batch is sealed and sent without waiting for <see cref="Linger"/>. Default 256 KiB.</summary>
    public int BatchSize { get; init; } = 256 * 1024;

    /// <summary>Produce requests in flight per broker. Default 5. With idempotence (the default) a partition has up to min(5, MaxInFlight) batches in flight, kept in order by their sequence numbers (a retried batch goes again before the ones behind it); without it, one, which keeps order without relying on the broker.</summary>
    public int MaxInFlight { get; init; } = 5;

    /// <summary>Compression of record batches. Default none.</summary>
    public CompressionType Compression { get; init; } = CompressionType.None;

    /// <summary>Codec level (gzip 0–9, lz4 0–17, zstd -131072–22), or null for the codec's default.</summary>
    public int? CompressionLevel { get; init; }

    /// <summary>How long a record may take from the produce call to its acknowledgement, retries included. Default 120 s.
    /// After that it is reported failed (a <see cref="DeliveryTimeoutException"/> with the last error), also when its batch
    /// is in flight: a Produce request is abandoned at the earliest deadline of its batches (its own timeout is capped by
    /// what remains), so every report comes by this deadline, plus the time a record waited for its topic's first metadata
    /// (at most <see cref="MaxBlock"/>). A record failed in flight may still have been written; its partition goes on under
    /// a new producer epoch. Must be at least <see cref="Linger"/> + <see cref="KielClientOptions.RequestTimeout"/>.</summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Idempotent produce (producer id and sequence numbers, no duplicates on retry). Default true; needs <see cref="Acks.All"/>.
    /// Left at its default, it is turned off with one warning where the brokers do not support InitProducerId (before
    /// Kafka 0.11, such as 0.8.2 and 0.9 brokers). Set explicitly, such brokers fail every record with an error that
    /// says so.</summary>
    public bool EnableIdempotence { get => _enableIdempotence ?? true; init => _enableIdempotence = value; }

    private readonly bool? _enableIdempotence;

    /// <summary>True when <see cref="EnableIdempotence"/> was set rather than left at its default.</summary>
    internal bool EnableIdempotenceIsExplicit => _enableIdempotence is not null;

    /// <summary>Bytes of records that may wait in the producer (queued and in flight). Default 64 MiB.</summary>
    public long BufferMemory { get; init; } = 64L * 1024 * 1024;

    /// <summary>What a produce call does while <see cref="BufferMemory"/> is full. Default <see cref="BackpressureMode.Wait"/>.</summary>
    public BackpressureMode Backpressure { get; init; } = BackpressureMode.Wait;

    /// <summary>The longest a produce call waits for room in the buffer or for the topic's metadata. Default 60 s.</summary>
    public TimeSpan MaxBlock { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The largest record (key, value and headers serialized) accepted; larger ones fail at once.
    /// Match it to the broker's <c>message.max.bytes</c>. Default 1,048,576.</summary>
    public int MaxRecordBytes { get; init; } = 1024 * 1024;

    /// <summary>The most bytes of record batches one Produce request carries; a broker's further batches go in its next
    /// requests (up to <see cref="MaxInFlight"/>). A single batch larger than this still goes, alone. Bounds the memory
    /// and the time one request takes with many partitions; keep it under the broker's <c>socket.request.max.bytes</c>
    /// (100 MiB by default). Default 1,048,576.</summary>
    public int MaxRequestBytes { get; init; } = 1024 * 1024;

    /// <summary>How long flushing at dispose may take before what is left is failed. Default 30 s. Records still waiting
    /// for their topic's metadata then fail at once, whatever <see cref="MaxBlock"/> is.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Chooses the partition of records that name none. Default <see cref="Partitioners.Default"/> (murmur2, sticky for keyless).</summary>
    public IPartitioner? Partitioner { get; init; }

    /// <summary>The transactional id that makes this a transactional producer (exactly-once with read_committed consumers), or null.
    /// Implies idempotence. Call <see cref="KielProducer{TKey, TValue}.InitTransactionsAsync"/> once before the first transaction;
    /// a newer producer with the same id fences this one.</summary>
    public string? TransactionalId { get; init; }

    /// <summary>How long the transaction coordinator lets a transaction stay open before it aborts it. Default 60 s;
    /// the broker caps it at its <c>transaction.max.timeout.ms</c>.</summary>
    public TimeSpan TransactionTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Checks the settings and throws an <see cref="ArgumentException"/> that says what is wrong and how to fix it.</summary>
    public void Validate()
    {
        static void Fail(string name, string message) => throw new ArgumentException($"KielProducerOptions.{name}: {message}", name);
        foreach (var (setting, problem) in ClientSettingProblems()) Fail(setting, problem);
        if (!Enum.IsDefined(Acks)) Fail(nameof(Acks), $"{(short)Acks} is not an acks level; use Acks.None (0), Acks.Leader (1) or Acks.All (-1).");
        if (Linger < TimeSpan.Zero || Linger > TimeSpan.FromMinutes(15)) Fail(nameof(Linger), $"{Linger} is out of range; use 0 to 15 minutes (5 ms is a good default).");
        if (BatchSize < 1024 || BatchSize > 64 * 1024 * 1024) Fail(nameof(BatchSize), $"{BatchSize} is out of range; use 1 KiB to 64 MiB.");
        if (MaxInFlight is < 1 or > 1000) Fail(nameof(MaxInFlight), $"{MaxInFlight} is out of range; use 1 to 1000 (default 5).");
        if (!Enum.IsDefined(Compression)) Fail(nameof(Compression), $"{(int)Compression} is not a codec; use None, Gzip, Snappy, Lz4 or Zstd.");
        if (CompressionLevel is { } level)
        {
            if (Compression is CompressionType.None or CompressionType.Snappy)
                Fail(nameof(CompressionLevel), $"{Compression} has no levels; leave CompressionLevel null.");
            if (CompressionCodec.ValidateLevel(Compression, level) is { } problem) Fail(nameof(CompressionLevel), problem);
        }
        if (DeliveryTimeout <= TimeSpan.Zero) Fail(nameof(DeliveryTimeout), $"{DeliveryTimeout} must be positive (default 120 s).");
        if (DeliveryTimeout < Linger + RequestTimeout)
            Fail(nameof(DeliveryTimeout), $"{DeliveryTimeout} is shorter than Linger + RequestTimeout ({Linger + RequestTimeout}); raise it or lower RequestTimeout, or records could expire before their first attempt is answered.");
        if (EnableIdempotence && Acks != Acks.All)
            Fail(nameof(EnableIdempotence), $"idempotence needs Acks.All (got Acks.{Acks}); set Acks = Acks.All or EnableIdempotence = false.");
        if (BufferMemory < BatchSize) Fail(nameof(BufferMemory), $"{BufferMemory} is smaller than BatchSize ({BatchSize}); raise it (default 64 MiB).");
        if (!Enum.IsDefined(Backpressure)) Fail(nameof(Backpressure), "use BackpressureMode.Wait or BackpressureMode.Throw.");
        if (MaxBlock < TimeSpan.Zero) Fail(nameof(MaxBlock), "must not be negative.");
        if (MaxRequestBytes < 1024) Fail(nameof(MaxRequestBytes), $"{MaxRequestBytes} is too small; use at least 1,024 bytes (default 1,048,576).");
        if (MaxRecordBytes < 64) Fail(nameof(MaxRecordBytes), $"{MaxRecordBytes} is too small; use the broker's message.max.bytes (default 1,048,576).");
        if (CloseTimeout < TimeSpan.Zero) Fail(nameof(CloseTimeout), "must not be negative.");
        if (TransactionalId is not null)
        {
            if (TransactionalId.Length == 0 || TransactionalId.Length > short.MaxValue)
                Fail(nameof(TransactionalId), "must be null (no transactions) or a non-empty id of at most 32,767 characters.");
            if (!EnableIdempotence)
                Fail(nameof(EnableIdempotence), "a transactional producer is idempotent; remove EnableIdempotence = false or set TransactionalId = null.");
        }
        if (TransactionTimeout < TimeSpan.FromMilliseconds(1) || TransactionTimeout.TotalMilliseconds > int.MaxValue)
            Fail(nameof(TransactionTimeout), $"{TransactionTimeout} is out of range; use 1 ms to 24 days (default 60 s, within the broker's transaction.max.timeout.ms).");
    }
}
