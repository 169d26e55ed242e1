using System.Buffers;
using Kiel.Protocol.Records;

namespace Kiel.Producing.Internal;

/// <summary>
/// The records of one partition that travel together, with the completion of each. Built by caller threads under
/// the partition's lock; sent, retried and completed by the sender.
/// </summary>
internal sealed class ProducerBatch : IDisposable
{
    private RecordCompletion[]? _completions;

    public ProducerBatch(PartitionState owner, int capacity, long createdMs, int minimumCapacity = int.MaxValue)
    {
        Owner = owner;
        Arena = new RecordArena(capacity, minimumCapacity);
        CreatedMs = createdMs;
    }

    public PartitionState Owner { get; private set; }
    public RecordArena Arena { get; }
    public int Count { get; private set; }
    public long CreatedMs { get; private set; }
    /// <summary>When the batch was opened, as a timestamp of the producer's clock: its linger ends that long after it, to the tick.</summary>
    public long CreatedTimestamp { get; set; }
    /// <summary>Bytes reserved from the producer's buffer memory for this batch.</summary>
    public long ReservedBytes { get; set; }
    public int Attempts { get; set; }
    public Exception? LastError { get; set; }

    /// <summary>
    /// A compressed batch's or an older format's wire encoding; null while the batch is sent from <see cref="Arena"/>
    /// itself (uncompressed, magic 2).
    /// </summary>
    public RecordArena? Wire { get; set; }

    /// <summary>The bytes sent for the batch once encoded for <see cref="WireMagic"/>.</summary>
    public RecordArena WireArena => Wire ?? Arena;

    // The wire arena's object between sends (its buffer returned): reused by the next encoding.
    private RecordArena? _spareWire;

    /// <summary>An arena for the wire encoding, reusing this batch's former one.</summary>
    public RecordArena NewWire(int capacity)
    {
        if (_spareWire is not { } spare) return new RecordArena(capacity);
        _spareWire = null;
        spare.Reopen(capacity);
        return spare;
    }

    /// <summary>Drops the wire encoding (its buffer goes back to the pool) and keeps the arena's object for the next one.</summary>
    public void ReleaseWire()
    {
        WireMagic = 255;
        if (Wire is not { } wire) return;
        Wire = null;
        wire.Dispose();
        _spareWire = wire;
    }

    /// <summary>
    /// Makes a delivered, disposed batch taken from the engine's pool an empty one for <paramref name="owner"/>: the
    /// objects are reused, the buffers are rented anew. Only a batch that nothing refers to any more is reused.
    /// </summary>
    public void Reuse(PartitionState owner, int capacity, long createdMs, int minimumCapacity = int.MaxValue)
    {
        Owner = owner;
        CreatedMs = createdMs;
        Arena.Reopen(capacity, minimumCapacity);
        Count = 0;
        ReservedBytes = 0;
        Attempts = 0;
        LastError = null;
        WireMagic = 255;
        StampedAs = ProducerIdentity.None;
        BaseSequence = -1;
        Ordinal = 0;
        SplitOffset = 0;
        SentInOrder = false;
        SentTo = -1;
        HasHandlers = false;
        FinishedOnAnswer = false;
        Reusable = false;
        Volatile.Write(ref _reported, 0);
        Volatile.Write(ref _finished, 0);
    }
    public byte WireMagic { get; set; } = 255;
    public ProducerIdentity StampedAs { get; set; } = ProducerIdentity.None;
    public int BaseSequence { get; set; } = -1;

    /// <summary>
    /// True when the batch's current request reached the broker's connection as it was started (see
    /// <see cref="IProducerTransport.OrderedSendCapacity"/>): a later batch of the partition may then follow it at once.
    /// </summary>
    public bool SentInOrder { get; set; }

    /// <summary>The broker the batch's current request went to.</summary>
    public int SentTo { get; set; } = -1;

    /// <summary>The order in which the partition's batches were sealed; the halves of a split batch share it.</summary>
    public long Ordinal { get; set; }

    /// <summary>
    /// Where the batch's first record stood in the batch that was sealed (0 unless the batch is a split half): with
    /// <see cref="Ordinal"/>, the batch's place in send order, so halves of halves keep their records' order.
    /// </summary>
    public int SplitOffset { get; set; }

    /// <summary>True when this batch goes to the broker after <paramref name="other"/> (it was sealed later, or is a later part of the same sealed batch).</summary>
    public bool SendsAfter(ProducerBatch other) =>
        Ordinal != other.Ordinal ? Ordinal > other.Ordinal : SplitOffset > other.SplitOffset;

    public bool HasCompletions => _completions is not null;

    /// <summary>True when a record of the batch is reported to a <see cref="DeliveryHandler"/> (user code, which the sender thread runs in order).</summary>
    public bool HasHandlers { get; private set; }

    /// <summary>
    /// True when the batch was reported delivered where its answer was read (see <c>ProducerEngine.ReportDeliveredOnAnswer</c>);
    /// the sender then only does its bookkeeping. Set before the outcome is queued for the sender.
    /// </summary>
    public bool FinishedOnAnswer { get; set; }

    /// <summary>True once reported delivered: nothing refers to the batch once the sender has taken it out of its partition, so its objects may be reused.</summary>
    public bool Reusable { get; set; }

    private int _reported;

    /// <summary>True once every record's report has been made (set after <see cref="Complete"/>): a later batch of the partition may then be reported.</summary>
    public bool IsReported => Volatile.Read(ref _reported) != 0;

    /// <summary>Marks the reports made (after <see cref="Complete"/>).</summary>
    public void MarkReported() => Volatile.Write(ref _reported, 1);

    private int _finished;

    /// <summary>True once reported or replaced; guards against a late answer reporting twice.</summary>
    public bool IsFinished => Volatile.Read(ref _finished) != 0;

    /// <summary>Marks the batch finished; false when it already was.</summary>
    public bool MarkFinished() => Interlocked.Exchange(ref _finished, 1) == 0;

    /// <summary>Counts the entry just written to <see cref="Arena"/> and remembers how to report it.</summary>
    public void AddRecord(object? completion, long timestamp)
    {
        if (completion is DeliveryHandler) HasHandlers = true;
        if (completion is not null && _completions is null)
        {
            // Only batches that hold an awaited or called-back record pay for the array.
            _completions = ArrayPool<RecordCompletion>.Shared.Rent(Math.Max(16, Count + 1));
            _completions.AsSpan(0, Count).Clear();
        }
        if (_completions is not null)
        {
            if (_completions.Length <= Count)
            {
                var bigger = ArrayPool<RecordCompletion>.Shared.Rent(_completions.Length * 2);
                _completions.AsSpan(0, Count).CopyTo(bigger);
                ArrayPool<RecordCompletion>.Shared.Return(_completions, clearArray: true);
                _completions = bigger;
            }
            _completions[Count] = new RecordCompletion(completion, timestamp);
        }
        Count++;
    }

    public RecordCompletion CompletionAt(int index) => _completions is { } c && index < c.Length ? c[index] : default;

    /// <summary>Reports every record: delivered at <paramref name="baseOffset"/> + index, or failed with <paramref name="error"/>.</summary>
    public void Complete(long baseOffset, long logAppendTimeMs, ProduceException? error, Action<Exception>? onCallbackError)
    {
        var completions = _completions;
        if (completions is null) return;
        var topic = Owner.Topic;
        var partition = Owner.Partition;
        for (var i = 0; i < Count; i++)
        {
            var c = completions[i];
            if (c.Target is null) continue;
            var (ts, type) = logAppendTimeMs >= 0 && error is null
                ? (logAppendTimeMs, TimestampType.LogAppendTime)
                : (c.Timestamp, TimestampType.CreateTime);
            var report = new DeliveryReport(topic, partition,
                error is null && baseOffset >= 0 ? baseOffset + i : -1,
                DateTimeOffset.FromUnixTimeMilliseconds(ts), type, error);
            try
            {
                if (c.Target is DeliveryPromise p) p.Complete(report);
                else ((DeliveryHandler)c.Target)(report);
            }
            catch (Exception ex)
            {
                onCallbackError?.Invoke(ex);
            }
        }
    }

    /// <summary>Splits the records into two new batches (MESSAGE_TOO_LARGE), moving their completions.</summary>
    public (ProducerBatch First, ProducerBatch Second) Split()
    {
        var half = Count / 2;
        var a = new ProducerBatch(Owner, Arena.Length / 2 + 64, CreatedMs);
        var b = new ProducerBatch(Owner, Arena.Length / 2 + 64, CreatedMs);
        var span = Arena.Span;
        var baseTs = BatchEncoder.BaseTimestamp(span);
        var pos = BatchEncoder.FirstRecord;
        for (var i = 0; i < Count; i++)
        {
            // Each half is a batch of its own: offset deltas from 0, timestamp deltas from its first record.
            pos = BatchEncoder.ReadRecord(span, pos, out var e);
            var target = i < half ? a : b;
            var timestamp = baseTs + e.TimestampDelta;
            BatchEncoder.CopyRecord(target.Arena, target.Count, timestamp, e.Rest);
            target.AddRecord(CompletionAt(i).Target, timestamp);
        }
        a.Attempts = b.Attempts = Attempts;
        a.Ordinal = b.Ordinal = Ordinal;
        a.SplitOffset = SplitOffset;
        b.SplitOffset = SplitOffset + half;
        a.LastError = b.LastError = LastError;
        a.ReservedBytes = ReservedBytes / 2;
        b.ReservedBytes = ReservedBytes - a.ReservedBytes;
        ReservedBytes = 0;
        return (a, b);
    }

    public void Dispose()
    {
        Arena.Dispose();
        ReleaseWire();
        if (_completions is { } c)
        {
            _completions = null;
            ArrayPool<RecordCompletion>.Shared.Return(c, clearArray: true);
        }
    }
}

/// <summary>How to report one record: a <see cref="DeliveryPromise"/> or a <see cref="DeliveryHandler"/>, and its create time.</summary>
internal readonly record struct RecordCompletion(object? Target, long Timestamp);
