using Confluent.Kafka;

namespace Kiel.IntegrationTests.Fixtures;

/// <summary>Confluent.Kafka clients with settings that suit the embedded cluster and short tests.</summary>
public static class ConfluentClients
{
    /// <summary>Session timeout for group tests: the mock waits (session timeout - 1 s) for old members on a rebalance.</summary>
    public const int SessionTimeoutMs = 6000;

    /// <summary>Producer config: acks=all, short message timeout, quick retries.</summary>
    public static ProducerConfig ProducerConfig(string bootstrap, int messageTimeoutMs = 10_000) => new()
    {
        BootstrapServers = bootstrap,
        Acks = Acks.All,
        MessageTimeoutMs = messageTimeoutMs,
        LingerMs = 5,
        RetryBackoffMs = 50,
        RetryBackoffMaxMs = 200,
        ReconnectBackoffMs = 50,
        ReconnectBackoffMaxMs = 500,
        SocketTimeoutMs = 5000,
        TopicMetadataRefreshIntervalMs = 1000,
    };

    /// <summary>Consumer config: from the beginning, no auto-commit, 6 s session, 10 ms fetch wait.</summary>
    public static ConsumerConfig ConsumerConfig(string bootstrap, string groupId) => new()
    {
        BootstrapServers = bootstrap,
        GroupId = groupId,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = false,
        SessionTimeoutMs = SessionTimeoutMs,
        HeartbeatIntervalMs = 500,
        FetchWaitMaxMs = 10,
        ReconnectBackoffMs = 50,
        ReconnectBackoffMaxMs = 500,
        TopicMetadataRefreshIntervalMs = 1000,
    };

    /// <summary>A byte-keyed string producer.</summary>
    public static IProducer<string, string> Producer(string bootstrap, Action<ProducerConfig>? configure = null)
    {
        var config = ProducerConfig(bootstrap);
        configure?.Invoke(config);
        return new ProducerBuilder<string, string>(config).Build();
    }

    /// <summary>A string consumer in <paramref name="groupId"/>, with optional assignment callbacks.</summary>
    public static IConsumer<string, string> Consumer(string bootstrap, string groupId, Action<ConsumerConfig>? configure = null, Action<ConsumerBuilder<string, string>>? build = null)
    {
        var config = ConsumerConfig(bootstrap, groupId);
        configure?.Invoke(config);
        var builder = new ConsumerBuilder<string, string>(config);
        build?.Invoke(builder);
        return builder.Build();
    }

    /// <summary>Consumes until <paramref name="count"/> records arrived or the token fires; returns what arrived.</summary>
    public static List<ConsumeResult<string, string>> ConsumeCount(IConsumer<string, string> consumer, int count, CancellationToken cancellationToken)
    {
        var results = new List<ConsumeResult<string, string>>(count);
        while (results.Count < count && !cancellationToken.IsCancellationRequested)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is { IsPartitionEOF: false, Message: not null })
            {
                results.Add(r);
            }
        }

        return results;
    }
}
