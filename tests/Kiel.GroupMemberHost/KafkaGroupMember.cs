using Kiel;
using Kiel.Consuming;

/// <summary>A Kiel member of a Kafka consumer group, speaking the same lines as the ZooKeeper member:
/// READY, ALLOC, REC, COMMITTED, LEFT. Commits are explicit, after the records are printed.</summary>
internal static class KafkaGroupMember
{
    public static async Task<int> RunAsync(string brokers, string group, string topic, int sessionMs, string assignors, string? instanceId, Action<string> say)
    {
        var all = new Dictionary<string, PartitionAssignor>(StringComparer.Ordinal)
        {
            ["range"] = PartitionAssignor.Range,
            ["roundrobin"] = PartitionAssignor.RoundRobin,
            ["cooperative-sticky"] = PartitionAssignor.CooperativeSticky,
        };
        var owned = new HashSet<TopicPartition>();
        var consumer = new KielConsumer<byte[]?, byte[]?>(new KielConsumerOptions
        {
            BootstrapServers = brokers,
            GroupId = group,
            GroupInstanceId = instanceId,
            SessionTimeout = TimeSpan.FromMilliseconds(sessionMs),
            HeartbeatInterval = TimeSpan.FromMilliseconds(Math.Max(100, sessionMs / 10)),
            PartitionAssignmentStrategy = [.. assignors.Split(',').Select(a => all[a])],
            AutoOffsetReset = OffsetResetPolicy.Earliest,
            EnableAutoCommit = false,
            FetchMaxWait = TimeSpan.FromMilliseconds(100),
            RetryBackoff = TimeSpan.FromMilliseconds(20),
        }, Deserializers.Bytes, Deserializers.Bytes);
        var pending = new Dictionary<int, long>();
        void Alloc()
        {
            lock (owned) say("ALLOC " + string.Join(",", owned.Order().Select(tp => $"{tp.Topic}:{tp.Partition}")));
        }
        consumer.PartitionsAssignedHandler = (parts, _) =>
        {
            lock (owned) owned.UnionWith(parts);
            Alloc();
            return ValueTask.CompletedTask;
        };
        consumer.PartitionsRevokedHandler = async (parts, ct) =>
        {
            await CommitAsync(consumer, topic, pending, say, ct);
            lock (owned) owned.ExceptWith(parts);
            Alloc();
        };
        consumer.PartitionsLostHandler = (parts, _) =>
        {
            lock (owned) owned.ExceptWith(parts);
            lock (pending) pending.Clear();
            Alloc();
            return ValueTask.CompletedTask;
        };
        using var stop = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            while (await Console.In.ReadLineAsync() is { } line)
                if (line.Trim() == "leave") break;
            stop.Cancel();
        });
        consumer.Subscribe([topic]);
        say("READY " + (instanceId ?? $"kiel-{Environment.ProcessId}"));
        try
        {
            var sinceCommit = 0;
            await foreach (var r in consumer.ConsumeAsync(stop.Token))
            {
                say($"REC {r.Partition} {r.Offset} {System.Diagnostics.Stopwatch.GetTimestamp()}");
                lock (pending) pending[r.Partition] = r.Offset + 1;
                if (++sinceCommit >= 100)
                {
                    sinceCommit = 0;
                    await CommitAsync(consumer, topic, pending, say, stop.Token);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        await CommitAsync(consumer, topic, pending, say, CancellationToken.None);
        await consumer.DisposeAsync();
        say("LEFT");
        return 0;
    }

    private static async Task CommitAsync(KielConsumer<byte[]?, byte[]?> consumer, string topic, Dictionary<int, long> pending, Action<string> say, CancellationToken ct)
    {
        Dictionary<int, long> copy;
        lock (pending)
        {
            copy = new(pending);
            pending.Clear();
        }
        if (copy.Count == 0) return;
        try
        {
            await consumer.CommitAsync(copy.Select(kv => KeyValuePair.Create(new TopicPartition(topic, kv.Key), kv.Value)), ct);
            say("COMMITTED " + string.Join(",", copy.Select(kv => $"{kv.Key}:{kv.Value}")));
        }
        catch (Exception e) when (e is KielException)
        {
            Console.Error.WriteLine($"commit failed: {e.Message}");
        }
    }
}
