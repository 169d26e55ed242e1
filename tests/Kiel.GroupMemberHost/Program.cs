using System.Text.Json;
using Kiel;

// A group member in its own process, for tests that kill it, freeze it (SIGSTOP) or let it leave.
// Usage: Kiel.GroupMemberHost <brokers> <zk> <group> <topic> <sessionMs>
// Prints: READY <name> | ALLOC <t:p,...> | REC <partition> <offset> <monotonic ticks when returned> <when the call began> | COMMITTED <p:offset,...> | LEFT
// Reads commands from stdin: "leave" winds down and exits 0.
if (args.Length < 5)
{
    Console.Error.WriteLine("usage: Kiel.GroupMemberHost <brokers> <zk> <group> <topic> <sessionMs>");
    return 2;
}
var (brokers, zk, group, topic, sessionMs) = (args[0], args[1], args[2], args[3], int.Parse(args[4]));
var output = new object();
void Say(string line) { lock (output) { Console.Out.WriteLine(line); Console.Out.Flush(); } }

// "kafka-txn": consume-transform-produce in transactions (TransactionalMember); then args[5..] are the output topic, the
// transactional id, the records per transaction, the transaction to hang in, open (-1: none), and optionally where:
// "records" (default: after its records, before its offsets) or "offsets" (after its offsets too, before EndTxn).
if (zk == "kafka-txn")
    return await TransactionalMember.RunAsync(brokers, group, topic, sessionMs, args[5], args[6], int.Parse(args[7]), int.Parse(args[8]),
        args.Length > 9 && args[9] == "offsets", Say);

// "kafka" in place of the ZooKeeper address: a member of a Kafka consumer group (KielConsumer.Subscribe). A sixth
// argument lists its assignors (for example "roundrobin" or "cooperative-sticky"); a seventh its GroupInstanceId.
// "kafka-grouped": the GroupedConsumer below with Coordination = Kafka (a Kafka group, no ZooKeeper; sessionMs is its
// SessionTimeout).
var kafkaGrouped = zk == "kafka-grouped";
if (!kafkaGrouped && zk.StartsWith("kafka", StringComparison.Ordinal))
    return await KafkaGroupMember.RunAsync(brokers, group, topic, sessionMs, args.Length > 5 ? args[5] : "range,roundrobin", args.Length > 6 ? args[6] : null, Say);

var diag = DiagnosticLog.FromEnvironment();
var consumer = new GroupedConsumer(new GroupedConsumerOptions
{
    LoggerFactory = diag,
    BootstrapServers = brokers,
    Group = group,
    ZooKeeperHosts = kafkaGrouped ? ["127.0.0.1:2181"] : [zk],
    Coordination = kafkaGrouped ? GroupCoordination.Kafka : GroupCoordination.ZooKeeper,
    SessionTimeout = kafkaGrouped ? TimeSpan.FromMilliseconds(sessionMs) : TimeSpan.FromSeconds(45),
    HeartbeatInterval = kafkaGrouped ? TimeSpan.FromMilliseconds(Math.Max(100, sessionMs / 10)) : TimeSpan.FromSeconds(3),
    AutoOffsetReset = OffsetResetPolicy.Earliest,
    // Commits are explicit, after the records are printed, so that a test knows exactly what was committed.
    Autocommit = false,
    FetchMaxWait = TimeSpan.FromMilliseconds(100),
    ZooKeeperSessionTimeout = TimeSpan.FromMilliseconds(sessionMs),
    RetryBackoff = TimeSpan.FromMilliseconds(20),
    MetadataMaxAge = TimeSpan.FromSeconds(2),
});
consumer.AllocationChanged += e =>
{
    diag?.Write("ALLOC " + string.Join(",", e.Allocation.SelectMany(kv => kv.Value.Select(p => $"{kv.Key}:{p}"))));
    Say("ALLOC " + string.Join(",", e.Allocation.SelectMany(kv => kv.Value.Select(p => $"{kv.Key}:{p}"))));
    return Task.CompletedTask;
};
using var stop = new CancellationTokenSource();
_ = Task.Run(async () =>
{
    while (await Console.In.ReadLineAsync() is { } line)
        if (line.Trim() == "leave") break;
    stop.Cancel();
});

await consumer.ConnectAsync(stop.Token);
Say("READY " + consumer.Name);
try
{
    while (!stop.IsCancellationRequested)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var records = await consumer.ConsumeRecordsAsync(topic, null, stop.Token);
        if (records.Count == 0) continue;
        var at = System.Diagnostics.Stopwatch.GetTimestamp();
        diag?.Write($"BATCH {records.Count} at {at}: " + string.Join(",", records.GroupBy(r => r.Partition).Select(g => $"{g.Key}@{g.Min(r => r.Offset)}-{g.Max(r => r.Offset)}")));
        foreach (var r in records) Say($"REC {r.Partition} {r.Offset} {at} {started}");
        await consumer.CommitOffsetsAsync(null, stop.Token);
        var last = records.GroupBy(r => r.Partition).Select(g => $"{g.Key}:{g.Max(r => r.Offset) + 1}");
        Say("COMMITTED " + string.Join(",", last));
    }
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
}
// Leave cleanly: commit what was printed, then wind down.
await consumer.CommitOffsetsAsync();
await consumer.DisposeAsync();
Say("LEFT");
return 0;
