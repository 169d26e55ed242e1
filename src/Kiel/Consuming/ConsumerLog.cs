using Kiel.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kiel.Consuming;

/// <summary>Log messages of the consumers: event ids 7000-7099 of the consumer range in <see cref="Kiel.Diagnostics.LogEvents"/>.</summary>
internal static partial class ConsumerLog
{
    [LoggerMessage(EventId = LogEvents.ConsumerOffsetReset, Level = LogLevel.Warning, Message = "Offset {Offset} of {TopicPartition} is out of range; resetting to {NewOffset} by policy {Policy}")]
    public static partial void OffsetReset(ILogger logger, TopicPartition topicPartition, long offset, long newOffset, OffsetResetPolicy policy);

    [LoggerMessage(EventId = LogEvents.ConsumerOffsetOutOfRange, Level = LogLevel.Error, Message = "Offset {Offset} of {TopicPartition} is out of range and the reset policy is Error")]
    public static partial void OffsetOutOfRange(ILogger logger, TopicPartition topicPartition, long offset);

    [LoggerMessage(EventId = LogEvents.ConsumerPartitionError, Level = LogLevel.Information, Message = "{TopicPartition} fetch error {ErrorCode} from broker {BrokerId}; refreshing its leader and resuming at offset {Offset}")]
    public static partial void PartitionError(ILogger logger, TopicPartition topicPartition, short errorCode, int brokerId, long offset);

    [LoggerMessage(EventId = LogEvents.ConsumerFetchFailed, Level = LogLevel.Warning, Message = "Fetch from broker {BrokerId} failed; its partitions move to a refreshed leader")]
    public static partial void FetchFailed(ILogger logger, int brokerId, Exception exception);

    [LoggerMessage(EventId = LogEvents.ConsumerLeaderChanged, Level = LogLevel.Debug, Message = "{TopicPartition} now fetched from broker {BrokerId} (leader epoch {LeaderEpoch})")]
    public static partial void LeaderChanged(ILogger logger, TopicPartition topicPartition, int brokerId, int leaderEpoch);

    [LoggerMessage(EventId = LogEvents.ConsumerMetadataFailed, Level = LogLevel.Warning, Message = "Metadata refresh for topic {Topic} failed")]
    public static partial void MetadataFailed(ILogger logger, string topic, Exception exception);

    [LoggerMessage(EventId = LogEvents.ConsumerFetchSizeRaised, Level = LogLevel.Information, Message = "A record of {TopicPartition} at offset {Offset} is larger than the partition fetch size; raising it to {MaxBytes} bytes")]
    public static partial void FetchSizeRaised(ILogger logger, TopicPartition topicPartition, long offset, int maxBytes);

    [LoggerMessage(EventId = LogEvents.ConsumerSessionReset, Level = LogLevel.Debug, Message = "Fetch session with broker {BrokerId} reset after error {ErrorCode}")]
    public static partial void SessionReset(ILogger logger, int brokerId, short errorCode);

    [LoggerMessage(EventId = LogEvents.ConsumerResetFailed, Level = LogLevel.Warning, Message = "Offset reset of {TopicPartition} failed; retrying")]
    public static partial void ResetFailed(ILogger logger, TopicPartition topicPartition, Exception exception);

    [LoggerMessage(EventId = LogEvents.ConsumerTimestampNotFound, Level = LogLevel.Debug, Message = "No record of {TopicPartition} at or after {TimestampMs} ms; starting at the log end {Offset}")]
    public static partial void TimestampNotFound(ILogger logger, TopicPartition topicPartition, long timestampMs, long offset);

    [LoggerMessage(EventId = LogEvents.ConsumerFetchTopLevelError, Level = LogLevel.Warning, Message = "Fetch from broker {BrokerId} failed with error {ErrorCode}")]
    public static partial void FetchTopLevelError(ILogger logger, int brokerId, short errorCode);

    [LoggerMessage(EventId = LogEvents.ConsumerFetchState, Level = LogLevel.Debug, Message = "Fetch engine closing with {Count} partition(s) assigned: {State}")]
    public static partial void FetchState(ILogger logger, int count, string state);

    [LoggerMessage(EventId = LogEvents.ConsumerFetchLoopFault, Level = LogLevel.Error, Message = "The fetch loop of broker {BrokerId} met a fault it does not handle while {Stage}; its partitions are fetched again from their positions")]
    public static partial void FetchLoopFault(ILogger logger, int brokerId, string stage, Exception exception);

    [LoggerMessage(EventId = LogEvents.ConsumerTransientError, Level = LogLevel.Warning, Message = "Consuming {Topic} met transient trouble ({ErrorType}: {Problem}); returning what it has and trying again on the next call")]
    public static partial void TransientError(ILogger logger, string topic, string errorType, string problem);
}
