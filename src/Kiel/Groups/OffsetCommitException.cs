namespace Kiel;

/// <summary>A commit of the group's offsets failed with a non-retriable error, or kept failing past the retry bound (kiel only logged it).</summary>
public sealed class OffsetCommitException : KielException
{
    /// <summary>Creates the exception.</summary>
    public OffsetCommitException(string group, string topic, int partition, short errorCode, bool retriesExhausted, Exception? innerException = null)
        : base($"Committing offsets of group '{group}' failed for {topic}:{partition}" + (errorCode != 0 ? $" with error {errorCode} ({Protocol.ErrorCodes.Info(errorCode).Name})" : "")
            + (retriesExhausted ? " after every retry." : "."), innerException)
    {
        Group = group;
        Topic = topic;
        Partition = partition;
        ErrorCode = errorCode;
        RetriesExhausted = retriesExhausted;
    }

    /// <summary>The group.</summary>
    public string Group { get; }

    /// <summary>The first partition that failed.</summary>
    public string Topic { get; }

    /// <summary>The first partition that failed.</summary>
    public int Partition { get; }

    /// <summary>The Kafka error code, or 0 for a connection failure.</summary>
    public short ErrorCode { get; }

    /// <summary>True when the error was retriable but the retry bound was reached.</summary>
    public bool RetriesExhausted { get; }

    /// <inheritdoc />
    public override bool IsRetriable => RetriesExhausted;
}
