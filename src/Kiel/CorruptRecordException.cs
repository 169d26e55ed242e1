namespace Kiel;

/// <summary>
/// A fetched record batch (or legacy message) whose checksum does not match its bytes: the data was damaged on the
/// wire, on the broker's disk or by a faulty producer. None of its records is handed out. The consumer stops reading
/// the partition at that batch; <c>Seek</c> past <see cref="BaseOffset"/> to skip it deliberately, or turn
/// <c>CheckCrcs</c> off in the consumer options to read unchecked data.
/// </summary>
public sealed class CorruptRecordException : KielException
{
    internal CorruptRecordException(string? topic, int partition, long baseOffset, uint expectedCrc, uint actualCrc, string checksum)
        : base(Format(topic, partition, baseOffset, expectedCrc, actualCrc, checksum))
    {
        Topic = topic;
        Partition = partition;
        BaseOffset = baseOffset;
        ExpectedCrc = expectedCrc;
        ActualCrc = actualCrc;
    }

    /// <summary>The topic the batch was fetched from, or null when the records were not read from a partition.</summary>
    public string? Topic { get; }

    /// <summary>The partition the batch was fetched from, or -1 when unknown.</summary>
    public int Partition { get; }

    /// <summary>The base offset of the corrupt batch (the offset of a legacy message).</summary>
    public long BaseOffset { get; }

    /// <summary>The checksum stored in the batch (CRC-32C for record batches, CRC-32 for legacy messages).</summary>
    public uint ExpectedCrc { get; }

    /// <summary>The checksum computed over the batch's bytes.</summary>
    public uint ActualCrc { get; }

    private static string Format(string? topic, int partition, long baseOffset, uint expected, uint actual, string checksum) =>
        $"Corrupt record batch in {(topic is null ? "a record set" : $"{topic}[{partition}]")} at base offset {baseOffset}: " +
        $"stored {checksum} 0x{expected:X8} does not match the computed 0x{actual:X8}. No record of it was handed out; " +
        "seek past it to skip it, or set CheckCrcs = false to read unchecked data.";
}
