using System.Diagnostics;
using Confluent.Kafka;
using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.Benchmarks.Transactions;

/// <summary>
/// Transactions per second (10 records of 100 B each) and records per second in transactions, Kiel vs Confluent.Kafka
/// 2.16, on one embedded 3-broker cluster that this process hosts; each client runs in its own child process
/// (<c>txn-client</c>), so neither shares a runtime, a GC or a thread pool with the other or with the cluster.
/// <c>dotnet run -c Release --project bench/Kiel.Benchmarks -- txn [--transactions N] [--records R] [--reps K]</c>
/// </summary>
public static class TransactionRunner
{
    [BenchRunner("txn")]
    public static async Task<int> Run(string[] args)
    {
        var transactions = RunnerArgs.Int(args, "--transactions", 2_000);
        var records = RunnerArgs.Int(args, "--records", 10);
        var reps = RunnerArgs.Int(args, "--reps", 3);
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        Console.WriteLine($"# txn: {transactions:N0} transactions of {records} records (100 B) per run, {reps} interleaved repetitions, " +
                          $"3 brokers, 6 partitions, each client in its own process, {Environment.ProcessorCount} cores");
        Console.WriteLine("# CPU is the client process alone (the mock cluster runs in the parent)");
        Console.WriteLine("| client | transactions/s | records/s | CPU µs/transaction |");
        Console.WriteLine("|---|---|---|---|");
        // Untimed warm-up of both clients (first process start, JIT, cluster state).
        await RunChildAsync(cluster, "kiel", 200, records);
        await RunChildAsync(cluster, "confluent", 200, records);
        var kiel = new List<Sample>();
        var confluent = new List<Sample>();
        for (var r = 0; r < reps; r++)
        {
            kiel.Add(await RunChildAsync(cluster, "kiel", transactions, records));
            confluent.Add(await RunChildAsync(cluster, "confluent", transactions, records));
        }
        foreach (var (name, samples) in new[] { ("Kiel", kiel), ("Confluent.Kafka 2.16", confluent) })
        {
            var m = Sample.Median(samples);
            Console.WriteLine($"| {name} | {m.MsgPerSec:N0} | {m.MsgPerSec * records:N0} | {m.CpuUsPerMsg:F0} |");
        }
        Console.WriteLine($"# Kiel / Confluent (transactions/s): {Sample.Median(kiel).MsgPerSec / Sample.Median(confluent).MsgPerSec:F2}");
        return 0;
    }

    private static async Task<Sample> RunChildAsync(EmbeddedKafkaCluster cluster, string client, int transactions, int records)
    {
        var topic = "bench-txn-" + Guid.NewGuid().ToString("N")[..12];
        cluster.CreateTopic(topic, 6, 1);
        var self = typeof(TransactionRunner).Assembly.Location;
        var host = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") psi.ArgumentList.Add(self);
        foreach (var a in new[] { "txn-client", client, cluster.BootstrapServers, topic, transactions.ToString(), records.ToString() }) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        if (process.ExitCode != 0) throw new InvalidOperationException($"{client} run failed ({process.ExitCode}): {await stderr}");
        var f = stdout.Trim().Split('\n')[^1].Split(' ');
        return new Sample(double.Parse(f[0], System.Globalization.CultureInfo.InvariantCulture), double.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture), 0);
    }

    /// <summary>One client's run in this process; prints "transactions/s CPU-µs/transaction".</summary>
    [BenchRunner("txn-client")]
    public static async Task<int> RunClient(string[] args)
    {
        var (client, bootstrap, topic, transactions, records) = (args[0], args[1], args[2], int.Parse(args[3]), int.Parse(args[4]));
        var value = new byte[100];
        Random.Shared.NextBytes(value);
        var id = "bench-" + Guid.NewGuid().ToString("N")[..8];
        Sample sample;
        if (client == "kiel")
        {
            await using var producer = new KielProducer<byte[], byte[]>(new KielProducerOptions
            {
                BootstrapServers = bootstrap,
                TransactionalId = id,
                Linger = TimeSpan.FromMilliseconds(5),
            });
            await producer.InitTransactionsAsync();
            async Task One()
            {
                producer.BeginTransaction();
                for (var i = 0; i < records; i++) producer.Produce(topic, null, value);
                await producer.CommitTransactionAsync();
            }
            await One();
            sample = await Sample.Measure(transactions, async () =>
            {
                for (var t = 0; t < transactions; t++) await One();
            });
            if (producer.FailedCount > 0 || producer.DeliveredCount < (transactions + 1L) * records)
                throw new InvalidOperationException($"Kiel reported {producer.FailedCount} failed and {producer.DeliveredCount} delivered.");
        }
        else
        {
            RdKafkaNative.PinAssembly(typeof(Library).Assembly);
            using var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig
            {
                BootstrapServers = bootstrap,
                TransactionalId = id,
                LingerMs = 5,
            }).Build();
            producer.InitTransactions(TimeSpan.FromSeconds(30));
            void One()
            {
                producer.BeginTransaction();
                for (var i = 0; i < records; i++) producer.Produce(topic, new Message<Null, byte[]> { Value = value });
                producer.CommitTransaction();
            }
            One();
            sample = await Sample.Measure(transactions, () =>
            {
                for (var t = 0; t < transactions; t++) One();
                return Task.CompletedTask;
            });
        }
        Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{sample.MsgPerSec} {sample.CpuUsPerMsg}"));
        return 0;
    }
}
