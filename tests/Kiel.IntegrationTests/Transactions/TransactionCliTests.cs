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
