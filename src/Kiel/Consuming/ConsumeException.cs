namespace Kiel.Consuming;

/// <summary>A record could not be deserialized. With <see cref="DeserializationErrorAction.Throw"/> the consumer stops
/// at that record instead of skipping it: seek past <see cref="Offset"/> (<see cref="KielConsumer{TKey, TValue}.Seek"/>,
/// <c>GroupedConsumer.Seek</c>, <c>SingleConsumer.Seek</c>) to go on.</summary>
public sealed class DeserializationException : KielException
{
    /// <summary>Creates the exception.</summary>
    public DeserializationException(TopicPartition topicPartition, long offset, RecordComponent component, Exception innerException)
        : base($"Could not deserialize the {component.ToString().ToLowerInvariant()} of the record at {topicPartition} offset {offset}: {innerException.Message} "
               + "The record was not skipped; seek past it to go on.", innerException)
    {
        TopicPartition = topicPartition;
        Offset = offset;
        Component = component;
    }

    /// <summary>The record's partition.</summary>
    public TopicPartition TopicPartition { get; }

    /// <summary>The record's offset.</summary>
    public long Offset { get; }

    /// <summary>Whether the key or the value failed.</summary>
    public RecordComponent Component { get; }

    /// <summary>The record's raw key (null for a null key), for a dead-letter topic or a closer look.</summary>
    public byte[]? RecordKey { get; init; }

    /// <summary>The record's raw value (null for a null value).</summary>
    public byte[]? RecordValue { get; init; }

    /// <summary>The record's headers, or null when it has none.</summary>
    public Headers? RecordHeaders { get; init; }
}

/// <summary>A position is out of range and the reset policy is <see cref="OffsetResetPolicy.Error"/>.</summary>
public sealed class OffsetOutOfRangeException : KielException
{
    /// <summary>Creates the exception.</summary>
    public OffsetOutOfRangeException(TopicPartition topicPartition, long offset)
        : base($"Offset {offset} of {topicPartition} is out of range and AutoOffsetReset is Error: seek to a valid offset to go on.")
    {
        TopicPartition = topicPartition;
        Offset = offset;
    }

    /// <summary>The partition.</summary>
    public TopicPartition TopicPartition { get; }

    /// <summary>The offset that was out of range.</summary>
    public long Offset { get; }
}

/// <summary>A topic did not appear in the cluster's metadata within the allowed time.</summary>
public sealed class UnknownTopicException : KielException
{
    /// <summary>Creates the exception.</summary>
    public UnknownTopicException(string topic, TimeSpan waited, Exception? lastError = null)
        : base($"Topic '{topic}' does not exist: it was not in the cluster's metadata after waiting {waited.TotalMilliseconds:0} ms. "
               + "Create it first, or raise TopicMetadataTimeout." + (lastError is null ? "" : $" The last metadata request failed: {lastError.Message}"), lastError)
    {
        Topic = topic;
    }

    /// <summary>The topic.</summary>
    public string Topic { get; }

    /// <inheritdoc />
    public override bool IsRetriable => true;
}
