namespace Kiel.Producing;

/// <summary>How many replicas must have a record before the broker acknowledges it.</summary>
public enum Acks : short
{
    /// <summary>No acknowledgement: a record counts as delivered once written to the socket; its offset is unknown (-1).</summary>
    None = 0,
    /// <summary>The partition leader has written the record.</summary>
    Leader = 1,
    /// <summary>Every in-sync replica has the record (Kafka's <c>acks=all</c>, <c>-1</c> on the wire).</summary>
    All = -1,
}
