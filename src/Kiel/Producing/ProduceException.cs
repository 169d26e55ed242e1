namespace Kiel.Producing;

/// <summary>A record was not delivered. <see cref="ErrorCode"/> is the broker's error code when the broker refused it.</summary>
public class ProduceException : KielException
{
    /// <summary>Creates the exception.</summary>
    public ProduceException(string message, short errorCode = -1, string? errorName = null, bool retriable = false, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        ErrorName = errorName ?? Kiel.Protocol.ErrorCodes.Info(errorCode).Name;
        _retriable = retriable;
    }

    private readonly bool _retriable;

    /// <summary>The Kafka error code, or -1 when the failure was not a broker error (timeout, connection, serializer...).</summary>
    public short ErrorCode { get; }

    /// <summary>Kafka's name for <see cref="ErrorCode"/>, for example <c>UNKNOWN_TOPIC_OR_PARTITION</c>.</summary>
    public string ErrorName { get; }

    /// <inheritdoc />
    public override bool IsRetriable => _retriable;
}

/// <summary>The record is larger than <see cref="KielProducerOptions.MaxRecordBytes"/> or than the broker accepts.</summary>
public sealed class RecordTooLargeException(string message) : ProduceException(message, 10, "MESSAGE_TOO_LARGE");

/// <summary>The producer's buffer (<see cref="KielProducerOptions.BufferMemory"/>) is full.</summary>
public sealed class ProducerQueueFullException(string message) : ProduceException(message, -1, "QUEUE_FULL", retriable: true);

/// <summary>The record was not acknowledged within <see cref="KielProducerOptions.DeliveryTimeout"/>.</summary>
public sealed class DeliveryTimeoutException(string message, Exception? lastError)
    : ProduceException(message, -1, "DELIVERY_TIMEOUT", retriable: true, lastError);
