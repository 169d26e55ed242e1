namespace Kiel;

/// <summary>
/// The group's committed offset for a partition could not be read (kiel's <c>NoOffsetsError</c>), or the group has
/// none and the reset policy is <see cref="OffsetResetPolicy.Error"/>.
/// </summary>
public sealed class NoOffsetsException : KielException
{
    /// <summary>Creates the exception.</summary>
    public NoOffsetsException(string group, string topic, int partition, short errorCode, string? detail = null)
        : this(group, topic, partition, errorCode, detail, null)
    {
    }

    /// <summary>Creates the exception with the error that caused it (a lost connection after the retries).</summary>
    internal NoOffsetsException(string group, string topic, int partition, short errorCode, string? detail, Exception? innerException)
        : base($"No offsets for group '{group}', {topic}:{partition}: " + (errorCode == 0 ? detail ?? "nothing committed and the reset policy is Error." : $"OffsetFetch failed with error {errorCode} ({Protocol.ErrorCodes.Info(errorCode).Name})" + (detail is null ? "." : $": {detail}")), innerException)
    {
        Group = group;
        Topic = topic;
        Partition = partition;
        ErrorCode = errorCode;
    }

    /// <summary>The group.</summary>
    public string Group { get; }

    /// <summary>The topic.</summary>
    public string Topic { get; }

    /// <summary>The partition.</summary>
    public int Partition { get; }

    /// <summary>The Kafka error code, or 0 when the group simply had no committed offset.</summary>
    public short ErrorCode { get; }
}
