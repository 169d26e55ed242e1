namespace Kiel.Testing;

/// <summary>A mock-cluster call failed; carries librdkafka's error code and name.</summary>
public sealed class EmbeddedKafkaException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was attempted and what to do about it.</param>
    /// <param name="errorCode">librdkafka's <c>rd_kafka_resp_err_t</c> (Kafka codes are positive, local ones negative).</param>
    /// <param name="errorName">librdkafka's name for the code, e.g. <c>UNKNOWN_TOPIC_OR_PART</c>.</param>
    public EmbeddedKafkaException(string message, int errorCode = 0, string? errorName = null)
        : base(message)
    {
        ErrorCode = errorCode;
        ErrorName = errorName;
    }

    /// <summary>librdkafka's error code, 0 when the failure has none.</summary>
    public int ErrorCode { get; }

    /// <summary>librdkafka's name for <see cref="ErrorCode"/>, or null.</summary>
    public string? ErrorName { get; }
}
