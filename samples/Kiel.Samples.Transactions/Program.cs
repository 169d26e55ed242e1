// Consume-transform-produce, exactly once: reads "orders", writes an upper-cased copy to "orders-upper", and commits
// the input offsets for the group in the same transaction as the output records. Run it against kiel cluster:
//   kiel cluster --topic orders:2 --topic orders-upper:2
//   kiel produce orders -b <bootstrap> < some-lines.txt
//   dotnet run --project samples/Kiel.Samples.Transactions -- <bootstrap> [transactional-id]
//   kiel consume orders-upper -b <bootstrap> --isolation read_committed
// The consumer is a member of the Kafka group "orders-upper": it starts at the offsets the transactions committed for
// the group (the beginning the first time). A second instance with the same transactional id fences the first and
// aborts the transaction it left open; it then resumes from the committed offsets, so each input record is in the
// output exactly once. (tests/Kiel.IntegrationTests/Transactions/ConsumeTransformProduceTests kills one mid-transaction.)
using System.Text;
using Kiel;
using Kiel.Consuming;
using Kiel.Producing;

var bootstrap = args.Length > 0 ? args[0] : "127.0.0.1:9092";
var transactionalId = args.Length > 1 ? args[1] : "orders-upper-1";
const string Input = "orders", Output = "orders-upper", Group = "orders-upper";
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };

await using var consumer = new KielConsumer<string?, string?>(
    new KielConsumerOptions
    {
        BootstrapServers = bootstrap,
        IsolationLevel = IsolationLevel.ReadCommitted,
        GroupId = Group,
        // The offsets are committed in the transactions (SendOffsetsToTransactionAsync), never by the consumer.
        EnableAutoCommit = false,
        AutoOffsetReset = OffsetResetPolicy.Earliest,
    },
    Deserializers.Utf8, Deserializers.Utf8);
await using var producer = new KielProducer<string, string>(new KielProducerOptions { BootstrapServers = bootstrap, TransactionalId = transactionalId });
await producer.InitTransactionsAsync(stop.Token);
consumer.Subscribe([Input]);

try
{
    while (!stop.IsCancellationRequested)
    {
        // One transaction per fetched batch of one input partition: its output records and its next input offset commit together.
        using var batch = await consumer.ConsumeBatchAsync(stop.Token);
        long first = -1, next = -1;
        producer.BeginTransaction();
        try
        {
            while (batch.TryReadNext(out var record))
            {
                if (first < 0) first = record.Offset;
                var key = record.KeyIsNull ? null : Encoding.UTF8.GetString(record.Key);
                var value = record.ValueIsNull ? "" : Encoding.UTF8.GetString(record.Value);
                producer.Produce(Output, key, value.ToUpperInvariant());
                next = record.Offset + 1;
            }
            if (next >= 0)
                await producer.SendOffsetsToTransactionAsync([new(batch.TopicPartition, next)], consumer.GroupMetadata!, stop.Token);
            await producer.CommitTransactionAsync(stop.Token);
            if (next >= 0) Console.WriteLine($"committed {batch.TopicPartition} up to offset {next}");
        }
        catch (TransactionException e) when (e.RequiresAbort)
        {
            // Nothing of this batch is visible to read_committed readers: process it again.
            await producer.AbortTransactionAsync(stop.Token);
            if (first >= 0) consumer.Seek(batch.TopicPartition, first);
        }
    }
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
}
catch (TransactionException e) when (e.IsFatal)
{
    Console.Error.WriteLine($"stopping: {e.Message}");
}
