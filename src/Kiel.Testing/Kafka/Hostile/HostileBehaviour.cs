namespace Kiel.Testing;

/// <summary>How a <see cref="HostileBroker"/> misbehaves in the responses it hits.</summary>
public enum HostileBehaviour
{
    /// <summary>Passes every response on unchanged.</summary>
    None,

    /// <summary>The response carries a correlation id that matches no request in flight.</summary>
    WrongCorrelationId,

    /// <summary>The response body is one of another API (an ApiVersions body for any other request; a Metadata body for ApiVersions).</summary>
    OtherApiResponse,

    /// <summary>The size prefix announces the whole response, half of it is sent, and the connection closes.</summary>
    TruncatedFrame,

    /// <summary>The size prefix announces far more than is sent: <see cref="int.MaxValue"/> bytes, or (seeded) 200 MiB and then a close.</summary>
    OversizedFrame,

    /// <summary>The first array count of the body (or the first 4 body bytes) says 2^31-1 elements.</summary>
    ImpossibleCount,

    /// <summary>Metadata names a leader (broker 4242) that is not among the brokers for every partition.</summary>
    MissingLeader,

    /// <summary>Every other Metadata response drops the upper half of each topic's partitions (a one-partition topic goes missing).</summary>
    FlappingPartitions,

    /// <summary>Every response that has a throttle time says three hours.</summary>
    HugeThrottle,

    /// <summary>Every Fetch response holds no records, with the high watermark unchanged, so there is always more to fetch.</summary>
    EndlessEmptyFetch,

    /// <summary>Every Metadata response moves every leader and the controller, and leaves one broker out: it never converges.</summary>
    DivergingMetadata,
}
