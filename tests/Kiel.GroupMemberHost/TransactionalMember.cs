using System.Text;
using Kiel;
using Kiel.Consuming;
using Kiel.Producing;

/// <summary>
/// Consume-transform-produce in its own process: a member of a Kafka consumer group reads the input topic, writes each
/// value upper-cased to the same partition of the output topic in a transaction, and commits the input offsets with
/// SendOffsetsToTransactionAsync(offsets, consumer.GroupMetadata) in the same transaction. Prints READY, then
/// TXN &lt;n&gt; &lt;p:next,...&gt; per committed transaction. With stallAt = n, transaction n produces its records, waits for
/// their acknowledgements, prints OUT &lt;partition&gt; &lt;offset&gt; for each and OPEN, and then hangs with the transaction open
/// (before its offsets are sent), for a test to kill it there. With <c>afterOffsets</c> it first sends the transaction's
/// input offsets (AddOffsetsToTxn and TxnOffsetCommit) and prints OFFSETS &lt;p:next,...&gt;, then OPEN, and hangs before
/// EndTxn.
/// </summary>
internal static class TransactionalMember
{
    public static async Task<int> RunAsync(string brokers, string group, string input, int sessionMs, string output, string transactionalId,
        int perTransaction, int stallAt, bool afterOffsets, Action<string> say)
    {
        await using var producer = new KielProducer<string, string>(new KielProducerOptions
        {
            BootstrapServers = brokers,
            TransactionalId = transactionalId,
            Linger = TimeSpan.FromMilliseconds(1),
            RetryBackoff = TimeSpan.FromMilliseconds(20),
            RequestTimeout = TimeSpan.FromSeconds(5),
            DeliveryTimeout = TimeSpan.FromSeconds(20),
        });
        await using var consumer = new KielConsumer<string?, string?>(new KielConsumerOptions
        {
            BootstrapServers = brokers,
            GroupId = group,
            SessionTimeout = TimeSpan.FromMilliseconds(sessionMs),
            HeartbeatInterval = TimeSpan.FromMilliseconds(Math.Max(100, sessionMs / 10)),
            AutoOffsetReset = OffsetResetPolicy.Earliest,
            EnableAutoCommit = false,
            FetchMaxWait = TimeSpan.FromMilliseconds(100),
            RetryBackoff = TimeSpan.FromMilliseconds(20),
        }, Deserializers.Utf8, Deserializers.Utf8);
        using var stop = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            while (await Console.In.ReadLineAsync() is { } line)
                if (line.Trim() == "leave") break;
            stop.Cancel();
        });

        // Fences any older instance with this transactional id; a real coordinator also aborts the transaction it left open.
        await producer.InitTransactionsAsync(stop.Token);
        consumer.Subscribe([input]);
        say($"READY {transactionalId}");
        var transaction = 0;
        var next = new Dictionary<TopicPartition, long>();
        var sent = new List<ValueTask<DeliveryReport>>(perTransaction);
        try
        {
            await foreach (var r in consumer.ConsumeAsync(stop.Token))
            {
                if (sent.Count == 0) producer.BeginTransaction();
                sent.Add(producer.ProduceAsync(output, r.Key ?? "", (r.Value ?? "").ToUpperInvariant(), partition: r.Partition, cancellationToken: stop.Token));
                next[new TopicPartition(r.Topic, r.Partition)] = r.Offset + 1;
                if (sent.Count < perTransaction) continue;
                if (transaction == stallAt)
                {
                    var lines = new StringBuilder();
                    foreach (var s in sent)
                    {
                        var report = await s;
                        lines.Append($"OUT {report.Partition} {report.Offset}\n");
                    }
                    say(lines.ToString().TrimEnd('\n'));
                    if (afterOffsets)
                    {
                        await producer.SendOffsetsToTransactionAsync([.. next], consumer.GroupMetadata!, stop.Token);
                        say("OFFSETS " + string.Join(",", next.Select(kv => $"{kv.Key.Partition}:{kv.Value}")));
                    }
                    say("OPEN");
                    await Task.Delay(Timeout.Infinite, stop.Token);
                }
                await producer.SendOffsetsToTransactionAsync([.. next], consumer.GroupMetadata!, stop.Token);
                await producer.CommitTransactionAsync(stop.Token);
                foreach (var s in sent) await s;
                say($"TXN {transaction} " + string.Join(",", next.Select(kv => $"{kv.Key.Partition}:{kv.Value}")));
                transaction++;
                sent.Clear();
                next.Clear();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        say("LEFT");
        return 0;
    }
}
