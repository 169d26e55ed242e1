namespace Kiel.Protocol.Records;

/// <summary>
/// Walks the batches and records of a record set (the <c>records</c> field of a Fetch or Produce) in place: magic-2
/// record batches and legacy magic-0/1 messages, compressed or not, in any mix. It is the span-based front of the
/// parser the consumer runs (the same cursor reads fetched partitions). Nothing is allocated per record; compressed
/// batches are decompressed into one pooled buffer that the reader reuses and returns on <see cref="Dispose"/>.
/// </summary>
/// <remarks>
/// Use <see cref="MoveNextBatch"/> and <see cref="MoveNextRecord"/> for batch-level control (transactions, offsets of
/// empty batches), or <see cref="MoveNext"/> / <c>foreach</c> for the records alone. Records below the minimum offset
/// are skipped, and an incomplete last batch (the broker's cut at the fetch size) ends the set quietly; see
/// <see cref="TruncatedTailBytes"/>. A checksum mismatch raises <see cref="CorruptRecordException"/>; any other damage
/// raises <see cref="KafkaProtocolException"/> naming the field.
/// </remarks>
internal ref struct RecordSetReader
{
    private readonly ReadOnlySpan<byte> _set;
    private readonly RecordSetCursor _cursor;
    private readonly bool _includeControlRecords;
    private Record _current;

    /// <summary>Reads <paramref name="recordSet"/>, skipping records below <paramref name="minOffset"/>.</summary>
    public RecordSetReader(ReadOnlySpan<byte> recordSet, long minOffset = long.MinValue, RecordReaderOptions? options = null)
    {
        options ??= RecordReaderOptions.Default;
        if (options.Validate() is { } problem) throw new ArgumentException(problem, nameof(options));
        _set = recordSet;
        _includeControlRecords = options.IncludeControlRecords;
        _cursor = new RecordSetCursor
        {
            VerifyBatchCrc = options.VerifyCrc,
            VerifyInnerCrc = options.VerifyCrc,
            MaxDecompressedBytes = options.MaxDecompressedBytes,
            AllowTruncatedTail = options.AllowTruncatedTail,
            MinOffset = minOffset,
        };
        _current = default;
    }

    /// <summary>The header of the current batch (synthesised for a legacy message).</summary>
    public readonly RecordBatchHeader CurrentBatch => _cursor.CurrentBatch;

    /// <summary>The current record.</summary>
    public readonly Record Current => _current;

    /// <summary>The bytes consumed from the set so far, whole batches only.</summary>
    public readonly int BytesConsumed => _cursor.BytesConsumed;

    /// <summary>
    /// The size of the incomplete batch that ended the set, or 0. A non-zero value with no complete batch read means
    /// the first batch is larger than the fetch size (grow it to make progress on old Fetch versions).
    /// </summary>
    public readonly int TruncatedTailBytes => _cursor.TruncatedTailBytes;

    /// <summary>Supports <c>foreach</c> over the records (the enumerator shares this reader's position).</summary>
    public readonly RecordSetReader GetEnumerator() => this;

    /// <summary>Moves to the next record in the set, across batches, skipping control batches unless asked not to.</summary>
    public bool MoveNext()
    {
        while (true)
        {
            if (_cursor.IsBatchOpen && _cursor.MoveNextRecord(_set, out _current)) return true;
            if (!_cursor.MoveNextBatch(_set)) return false;
            if (_cursor.CurrentBatch.IsControl && !_includeControlRecords) _cursor.CloseBatch();
        }
    }

    /// <summary>
    /// Moves to the next batch whose last offset is at least the minimum offset, including empty and control
    /// batches. Returns false at the end of the set or at an incomplete last batch.
    /// </summary>
    public bool MoveNextBatch() => _cursor.MoveNextBatch(_set);

    /// <summary>Moves to the next record of the current batch at or above the minimum offset.</summary>
    public bool MoveNextRecord() => _cursor.MoveNextRecord(_set, out _current);

    /// <summary>Returns the decompression buffer to the pool.</summary>
    public readonly void Dispose() => _cursor?.Dispose();
}
