namespace Kiel;

/// <summary>What a record's timestamp means: the one enum of the consumer's results, the producer's delivery reports
/// and the record codec.</summary>
public enum TimestampType
{
    /// <summary>The record has no timestamp (magic 0 messages carry none).</summary>
    NotAvailable = -1,

    /// <summary>Set by the producer.</summary>
    CreateTime = 0,

    /// <summary>Set by the broker when it appended the batch.</summary>
    LogAppendTime = 1,
}
