using Microsoft.Extensions.Logging;

namespace Kiel.Testing;

/// <summary>Settings for <see cref="EmbeddedKafkaCluster"/>.</summary>
public sealed record EmbeddedKafkaOptions
{
    /// <summary>Number of brokers, with ids 1..N on 127.0.0.1 and kernel-chosen ports. Default 3.</summary>
    public int Brokers { get; init; } = 3;

    /// <summary>
    /// The brokers' <c>group.initial.rebalance.delay.ms</c>. Default 0, so a group's first join
    /// completes at once instead of after the mock's 3 s default; set 3000 to mimic a real broker.
    /// </summary>
    public int InitialRebalanceDelayMs { get; init; }

    /// <summary>Topics to create at start; see <see cref="EmbeddedTopic"/>.</summary>
    public IReadOnlyList<EmbeddedTopic> Topics { get; init; } = [];

    /// <summary>
    /// librdkafka's <c>log_level</c> for the handle that hosts the mock (syslog levels, 0–7).
    /// Default 3 (errors), which keeps the mock quiet on stderr in normal operation.
    /// </summary>
    public int NativeLogLevel { get; init; } = 3;

    /// <summary>
    /// A TLS and/or SASL front for the brokers (see <see cref="EmbeddedSecurityOptions"/>); null (the default) serves
    /// plaintext only. With it, <see cref="EmbeddedKafkaCluster.BootstrapServers"/> lists the secured listeners and
    /// <see cref="EmbeddedKafkaCluster.Security"/> tells clients how to connect.
    /// </summary>
    public EmbeddedSecurityOptions? Security { get; init; }

    /// <summary>Logs start, stop and injected faults; null logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message says which and what is allowed.</exception>
    public void Validate()
    {
        if (Brokers is < 1 or > 64)
        {
            throw new ArgumentException($"Brokers must be between 1 and 64 (was {Brokers}).", nameof(Brokers));
        }

        if (InitialRebalanceDelayMs < 0)
        {
            throw new ArgumentException($"InitialRebalanceDelayMs must be 0 or more (was {InitialRebalanceDelayMs}).", nameof(InitialRebalanceDelayMs));
        }

        if (NativeLogLevel is < 0 or > 7)
        {
            throw new ArgumentException($"NativeLogLevel must be a syslog level between 0 and 7 (was {NativeLogLevel}).", nameof(NativeLogLevel));
        }

        Security?.Validate();
        ArgumentNullException.ThrowIfNull(Topics, nameof(Topics));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var topic in Topics)
        {
            topic.Validate();
            if (!seen.Add(topic.Name))
            {
                throw new ArgumentException($"Topic '{topic.Name}' is listed twice.", nameof(Topics));
            }
        }
    }
}
