namespace Kiel.Consuming;

/// <summary>Which transactional records a consumer sees.</summary>
public enum IsolationLevel : sbyte
{
    /// <summary>Every record, including those of open and aborted transactions (Kafka's default).</summary>
    ReadUncommitted = 0,

    /// <summary>Only non-transactional records and records of committed transactions, up to the last stable offset.</summary>
    ReadCommitted = 1,
}
