using Kiel.Producing;

namespace Kiel.Consuming;

/// <summary>What a consumer does with a record its deserializer cannot read.</summary>
public enum DeserializationErrorAction
{
    /// <summary>
    /// Throw <see cref="DeserializationException"/>; the record stays the partition's position (records before it are
    /// returned first). To go on, seek past it (<c>Seek(e.TopicPartition, e.Offset + 1)</c>) on the consumer.
    /// </summary>
    Throw,

    /// <summary>Log it (topic, partition, offset, the deserializer's message), count it, and go on; commits pass it.</summary>
    Skip,
}

/// <summary>Decides, per record, what to do with one that failed to deserialize; the raw record is in <paramref name="error"/>.</summary>
/// <param name="error">The failure, with the record's topic, partition, offset and raw key, value and headers.</param>
/// <returns><see cref="DeserializationErrorAction.Skip"/> to go on past it, <see cref="DeserializationErrorAction.Throw"/> to stop there.</returns>
public delegate DeserializationErrorAction DeserializationErrorHandler(DeserializationException error);

/// <summary>A ready-made <see cref="DeserializationErrorHandler"/> that puts records that cannot be read into a dead-letter topic.</summary>
public static class DeadLetter
{
    /// <summary>The header that carries the deserializer's message.</summary>
    public const string ErrorHeader = "kiel.error";

    /// <summary>The header that carries the record's origin as <c>topic:partition@offset</c>.</summary>
    public const string OriginHeader = "kiel.origin";

    /// <summary>
    /// A handler that produces each failed record, raw (key, value and headers as they were), with the error in the
    /// <see cref="ErrorHeader"/> and <see cref="OriginHeader"/> headers, to <paramref name="topic"/>, and skips it. The
    /// record is queued on <paramref name="producer"/> before the consumer goes on; a failed delivery is reported to
    /// <paramref name="onDelivery"/> when given. Flush or dispose the producer before the consumer commits for good.
    /// </summary>
    /// <param name="producer">A producer of raw bytes; the caller owns it.</param>
    /// <param name="topic">The dead-letter topic.</param>
    /// <param name="onDelivery">Told the outcome of each dead-letter record, or null.</param>
    public static DeserializationErrorHandler To(KielProducer<byte[]?, byte[]?> producer, string topic, DeliveryHandler? onDelivery = null)
    {
        ArgumentNullException.ThrowIfNull(producer);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        return error =>
        {
            var headers = new Headers();
            if (error.RecordHeaders is { } original) headers.AddRange(original);
            headers.Add(ErrorHeader, error.InnerException?.Message ?? error.Message);
            headers.Add(OriginHeader, $"{error.TopicPartition}@{error.Offset}");
            producer.Produce(topic, error.RecordKey, error.RecordValue, headers, onDelivery: onDelivery);
            return DeserializationErrorAction.Skip;
        };
    }
}
