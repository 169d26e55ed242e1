using Kiel.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kiel.Producing;

/// <summary>The producer's log messages. Event ids 6000–6099 belong to the producer.</summary>
internal static partial class ProducerLog
{
    [LoggerMessage(LogEvents.ProducerIdempotenceUnsupported, LogLevel.Warning, "Idempotent produce is off: the brokers do not support InitProducerId (Kafka before 0.11); records may be duplicated on retry. Set EnableIdempotence = false to silence this")]
    public static partial void IdempotenceUnsupported(ILogger logger);

    [LoggerMessage(LogEvents.ProducerIdAssigned, LogLevel.Debug, "Producer id {ProducerId} epoch {Epoch}")]
    public static partial void ProducerIdAssigned(ILogger logger, long producerId, short epoch);

    [LoggerMessage(LogEvents.ProducerRetrying, LogLevel.Warning, "Produce to {Topic}:{Partition} failed with {Error}; retrying (attempt {Attempt})")]
    public static partial void Retrying(ILogger logger, string topic, int partition, string error, int attempt);

    [LoggerMessage(LogEvents.ProducerBatchFailed, LogLevel.Error, "Produce to {Topic}:{Partition} failed: {Error}; {Count} records reported failed")]
    public static partial void BatchFailed(ILogger logger, string topic, int partition, string error, int count);

    [LoggerMessage(LogEvents.ProducerRequestFailed, LogLevel.Warning, "Produce request to broker {Broker} failed: {Error}")]
    public static partial void RequestFailed(ILogger logger, int broker, string error);

    [LoggerMessage(LogEvents.ProducerEpochBump, LogLevel.Warning, "Bumping the producer epoch after {Error} on {Topic}:{Partition} (KIP-360)")]
    public static partial void EpochBump(ILogger logger, string error, string topic, int partition);

    [LoggerMessage(LogEvents.ProducerSplitting, LogLevel.Information, "Splitting a batch of {Count} records for {Topic}:{Partition} after MESSAGE_TOO_LARGE")]
    public static partial void Splitting(ILogger logger, int count, string topic, int partition);

    [LoggerMessage(LogEvents.ProducerMetadataFailed, LogLevel.Warning, "Metadata refresh for {Topic} failed: {Error}")]
    public static partial void MetadataFailed(ILogger logger, string topic, string error);

    [LoggerMessage(LogEvents.ProducerCallbackThrew, LogLevel.Error, "A delivery callback threw")]
    public static partial void CallbackThrew(ILogger logger, Exception exception);

    [LoggerMessage(LogEvents.ProducerClosingFailedRecords, LogLevel.Warning, "Closing: {Count} records were not delivered within the close timeout and are reported failed")]
    public static partial void ClosingFailedRecords(ILogger logger, long count);

    [LoggerMessage(LogEvents.ProducerInitProducerIdFailed, LogLevel.Warning, "Getting a producer id failed: {Error}; retrying")]
    public static partial void InitProducerIdFailed(ILogger logger, string error);

    [LoggerMessage(LogEvents.ProducerHeadersDropped, LogLevel.Debug, "Headers dropped for {Topic}:{Partition}: the leader only takes message format {Magic}, which has no headers")]
    public static partial void HeadersDropped(ILogger logger, string topic, int partition, int magic);

    [LoggerMessage(LogEvents.ProducerEpochBumpRefused, LogLevel.Warning, "The cluster refused to bump the epoch of producer id {ProducerId} (epoch {Epoch}) with {Error}; taking a fresh producer id")]
    public static partial void EpochBumpRefused(ILogger logger, string error, long producerId, short epoch);

    [LoggerMessage(LogEvents.ProducerRequestAbandoned, LogLevel.Warning, "Abandoned a Produce request to broker {Broker} with {Batches} batches after {ElapsedMs} ms: a batch in it reached its delivery deadline (DeliveryTimeout); its records may or may not have been written")]
    public static partial void RequestAbandonedAtDeliveryDeadline(ILogger logger, int broker, int batches, long elapsedMs);
}
