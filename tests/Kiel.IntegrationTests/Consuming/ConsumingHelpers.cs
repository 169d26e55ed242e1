using System.Text;
using Confluent.Kafka;
using Kiel.Consuming;

namespace Kiel.IntegrationTests.Consuming;

/// <summary>What both sides must agree on for one record.</summary>
internal sealed record Seen(int Partition, long Offset, string? Key, string? Value, long TimestampMs, string Headers);

internal static class ConsumingHelpers
{
    public static KielConsumerOptions Options(string bootstrap) => new()
    {
        BootstrapServers = bootstrap,
        FetchMaxWait = TimeSpan.FromMilliseconds(100),
        RetryBackoff = TimeSpan.FromMilliseconds(20),
        RequestTimeout = TimeSpan.FromSeconds(10),
        TopicMetadataTimeout = TimeSpan.FromSeconds(2),
        AutoOffsetReset = OffsetResetPolicy.Earliest,
    };

    public static KielConsumer<string?, string?> Consumer(string bootstrap, Func<KielConsumerOptions, KielConsumerOptions>? configure = null) =>
        new((configure ?? (o => o))(Options(bootstrap)), Deserializers.Utf8, Deserializers.Utf8);

    public static string Headers(Kiel.Headers headers) =>
        string.Join(";", headers.Select(h => $"{h.Key}={h.ValueAsString() ?? "<null>"}"));

    public static string Headers(Confluent.Kafka.Headers? headers) =>
        headers is null ? "" : string.Join(";", headers.Select(h => $"{h.Key}={(h.GetValueBytes() is { } b ? Encoding.UTF8.GetString(b) : "<null>")}"));

    public static Seen ToSeen(Kiel.Consuming.ConsumeResult<string?, string?> r) =>
        new(r.Partition, r.Offset, r.Key, r.Value, r.Timestamp.ToUnixTimeMilliseconds(), Headers(r.Headers));

    // The mock reports LogAppendTime 1234 in delivery reports but stores the producer's CreateTime, which the key encodes.
    public static Seen ToSeen(DeliveryResult<string, string> r) =>
        new(r.Partition.Value, r.Offset.Value, r.Message.Key, r.Message.Value, ProducedTimestamp(r.Message.Key), Headers(r.Message.Headers));

    public static long ProducedTimestamp(string key) => 1_700_000_000_000 + int.Parse(key["key-".Length..], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Reads until <paramref name="count"/> records arrived; fails after <paramref name="seconds"/>.</summary>
    public static async Task<List<Kiel.Consuming.ConsumeResult<string?, string?>>> ReadAsync(KielConsumer<string?, string?> consumer, int count, double seconds = 30)
    {
        var list = new List<Kiel.Consuming.ConsumeResult<string?, string?>>(count);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try
        {
            await foreach (var r in consumer.ConsumeAsync(cts.Token))
            {
                list.Add(r);
                if (list.Count >= count) break;
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"Only {list.Count} of {count} records arrived within {seconds} s.");
        }
        return list;
    }

    /// <summary>Produces with Confluent.Kafka and returns the delivery reports (with the broker's offsets).</summary>
    public static async Task<List<DeliveryResult<string, string>>> ProduceAsync(string bootstrap, string topic, int count,
        Confluent.Kafka.CompressionType compression = Confluent.Kafka.CompressionType.None, int? partition = null, Action<ProducerConfig>? configure = null)
    {
        var config = Fixtures.ConfluentClients.ProducerConfig(bootstrap);
        config.CompressionType = compression;
        configure?.Invoke(config);
        using var producer = new ProducerBuilder<string, string>(config).Build();
        var tasks = new List<Task<DeliveryResult<string, string>>>(count);
        for (var i = 0; i < count; i++)
        {
            var message = new Message<string, string>
            {
                Key = $"key-{i}",
                Value = i % 50 == 7 ? null! : $"value-{i}-{new string('x', i % 37)}",
                Timestamp = new Timestamp(1_700_000_000_000 + i, Confluent.Kafka.TimestampType.CreateTime),
                Headers = i % 3 == 0 ? null : new Confluent.Kafka.Headers { { "n", Encoding.UTF8.GetBytes(i.ToString()) }, { "empty", null } },
            };
            tasks.Add(partition is { } p
                ? producer.ProduceAsync(new Confluent.Kafka.TopicPartition(topic, p), message)
                : producer.ProduceAsync(topic, message));
        }
        var results = await Task.WhenAll(tasks);
        producer.Flush(TimeSpan.FromSeconds(10));
        return [.. results];
    }
}

internal static class ConfluentReader
{
    /// <summary>What Confluent.Kafka reads from the start of every partition, as the reference to compare Kiel with.</summary>
    public static List<Seen> ReadAll(string bootstrap, string topic, int partitions, int count, double seconds = 30)
    {
        using var consumer = Fixtures.ConfluentClients.Consumer(bootstrap, $"ref-{Guid.NewGuid():N}");
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var read = Fixtures.ConfluentClients.ConsumeCount(consumer, count, cts.Token);
        Assert.Equal(count, read.Count);
        return [.. read.Select(r => new Seen(r.Partition.Value, r.Offset.Value, r.Message.Key, r.Message.Value,
            r.Message.Timestamp.Type == Confluent.Kafka.TimestampType.NotAvailable ? -1 : r.Message.Timestamp.UnixTimestampMs,
            ConsumingHelpers.Headers(r.Message.Headers)))
            .OrderBy(s => s.Partition).ThenBy(s => s.Offset)];
    }
}
