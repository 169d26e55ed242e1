using Kiel.Testing;
using Microsoft.Extensions.Logging;

namespace Kiel.Cli.Demo;

/// <summary>The embedded Kafka cluster that <c>kiel demo</c> and <c>kiel chaos</c> run against: three brokers and the run's topic.</summary>
internal static class EmbeddedStart
{
    /// <summary>Starts an embedded 3-broker cluster with <paramref name="topic"/> created.</summary>
    public static Task<EmbeddedKafkaCluster> KafkaAsync(string topic, int partitions, int replicationFactor, ILoggerFactory? loggerFactory, CancellationToken ct) =>
        EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions
        {
            Brokers = 3,
            Topics = [new EmbeddedTopic(topic, partitions, replicationFactor)],
            LoggerFactory = loggerFactory,
        }, ct);
}
