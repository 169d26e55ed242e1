using Kiel.IntegrationTests.Fixtures;

namespace Kiel.IntegrationTests.Transactions;

/// <summary>
/// <c>kiel produce --transactional-id</c> (commit, and <c>--abort</c>) and <c>kiel consume --isolation</c> as processes.
/// The consumer goes through the proxy that lists the aborted transaction and gives the mock's markers their CRC.
/// </summary>
public sealed class TransactionCliTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static Task<ProcessRunner.Result> Kiel(params string[] args)
        => ProcessRunner.RunAsync("dotnet", [KielCliProcess.KielDll(), .. args], Bound);

    private static async Task<ProcessRunner.Result> KielWithInput(string input, params string[] args)
    {
        var file = Path.Combine(Path.GetTempPath(), $"kiel-cli-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(file, input);
        try { return await Kiel([.. args, "--file", file]); }
        finally { File.Delete(file); }
    }

    [Fact]
    public async Task Produce_as_one_transaction_commit_or_abort_and_consume_read_committed_or_uncommitted()
    {
        await using var cluster = await TransactionCluster.StartAsync();
        cluster.Injector.FixMarkerCrcs = true;
        var topic = KafkaClusterFixture.UniqueTopic("txn-cli");
        cluster.Cluster.CreateTopic(topic, 1);

        var committed = await KielWithInput("one\ntwo\nthree\n", "produce", topic, "-b", cluster.Bootstrap, "--transactional-id", "cli-txn");
        Assert.True(committed.ExitCode == 0, committed.StdErr);
        Assert.Contains("committed as one transaction (cli-txn)", committed.StdErr);
        var aborted = await KielWithInput("four\nfive\n", "produce", topic, "-b", cluster.Bootstrap, "--transactional-id", "cli-txn", "--abort");
        Assert.True(aborted.ExitCode == 0, aborted.StdErr);
        Assert.Contains("the transaction was aborted (--abort)", aborted.StdErr);
        // Offsets 0-2 and the COMMIT marker at 3; the aborted records at 4-5 and the ABORT marker at 6.
        cluster.Injector.AddAborted(topic, 0, 4, 6);
        var more = await KielWithInput("six\n", "produce", topic, "-b", cluster.Bootstrap, "--transactional-id", "cli-txn");
        Assert.Equal(0, more.ExitCode);

        var readCommitted = await Kiel("consume", topic, "-b", cluster.ProxyBootstrap, "--count", "4", "--isolation", "read_committed");
        Assert.True(readCommitted.ExitCode == 0, readCommitted.StdErr);
        Assert.Equal(["one", "two", "three", "six"], readCommitted.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var everything = await Kiel("consume", topic, "-b", cluster.ProxyBootstrap, "--count", "6", "--isolation", "read_uncommitted");
        Assert.True(everything.ExitCode == 0, everything.StdErr);
        Assert.Equal(["one", "two", "three", "four", "five", "six"], everything.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var bad = await Kiel("produce", topic, "-b", cluster.Bootstrap, "--abort");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--abort needs --transactional-id", bad.StdErr);
    }
}

/// <summary>
/// A transactional producer process killed (SIGKILL) in the middle of a transaction, and a restarted one with the same
/// transactional id that sends the input again as one transaction: read_committed holds each input record exactly once.
/// The killed process is a <c>kiel produce --transactional-id</c> fed through stdin; its requests go through a
/// recording proxy so the test knows its producer id. A real coordinator aborts the dead instance's transaction when
/// the new one initializes (or at the transaction timeout); the mock writes no marker for it, so the reader's proxy
/// lists that producer's batches as aborted, as a broker would.
/// </summary>
public sealed class TransactionCrashTests
{
    [Fact]
    public async Task A_producer_killed_mid_transaction_leaves_nothing_and_the_restarted_one_commits_each_record_once()
    {
        await using var cluster = await TransactionCluster.StartAsync();
        cluster.Injector.FixMarkerCrcs = true;
        var topic = KafkaClusterFixture.UniqueTopic("txn-kill");
        cluster.Cluster.CreateTopic(topic, 1);
        var input = Enumerable.Range(0, 20).Select(i => $"record-{i}").ToList();

        await using var killedProxy = Capture.RecordingProxy.Start(cluster.Bootstrap);
        await using (var killed = KielCliProcess.Start("produce", topic, "-b", killedProxy.BootstrapServers, "--transactional-id", "crash-txn"))
        {
            foreach (var line in input.Take(12)) await killed.StandardInput.WriteLineAsync(line);
            await killed.StandardInput.FlushAsync();
            // Wait until some of its records are in the log, inside its open transaction.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (Capture.CaptureScenario.ProduceRequests(killedProxy.Frames).Count == 0 && DateTime.UtcNow < deadline)
                await Task.Delay(50);
            var produced = Capture.CaptureScenario.ProduceRequests(killedProxy.Frames);
            Assert.NotEmpty(produced);
            foreach (var (_, _, body) in produced)
                foreach (var t in body.TopicData)
                    foreach (var part in t.PartitionData)
                    {
                        var records = new Kiel.Protocol.Records.RecordSetReader(part.Records!.Value.Span);
                        while (records.MoveNextBatch()) cluster.Injector.AbandonedProducerIds[records.CurrentBatch.ProducerId] = true;
                    }
            System.Diagnostics.Process.GetProcessById(killed.Pid).Kill(); // SIGKILL: no abort, no close
            Assert.True(await killed.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            Assert.DoesNotContain("committed", killed.StdErr);
        }

        var file = Path.Combine(Path.GetTempPath(), $"kiel-cli-{Guid.NewGuid():N}.txt");
        await File.WriteAllLinesAsync(file, input);
        try
        {
            var restarted = await ProcessRunner.RunAsync("dotnet",
                [KielCliProcess.KielDll(), "produce", topic, "-b", cluster.Bootstrap, "--transactional-id", "crash-txn", "--file", file], TimeSpan.FromSeconds(60));
            Assert.True(restarted.ExitCode == 0, restarted.StdErr);
            Assert.Contains("committed as one transaction", restarted.StdErr);
        }
        finally
        {
            File.Delete(file);
        }

        await using var reader = TransactionKit.ReadCommitted(cluster.ProxyBootstrap);
        await reader.AssignTopicAsync(topic, StartPosition.Beginning);
        var read = await Consuming.ConsumingHelpers.ReadAsync(reader, input.Count);
        Assert.Equal(input, read.Select(r => r.Value!).ToList());
        Assert.True(cluster.Injector.Injected > 0, "the killed producer's records were not in the log");
    }
}
