namespace Kiel.Protocol.Records;

/// <summary>What a record's timestamp means.</summary>
public enum TimestampType : sbyte
{
    /// <summary>No timestamp: magic 0 messages carry none.</summary>
    NotAvailable = -1,

    /// <summary>Set by the producer.</summary>
    CreateTime = 0,

    /// <summary>Set by the broker when it appended the batch.</summary>
    LogAppendTime = 1,
}
