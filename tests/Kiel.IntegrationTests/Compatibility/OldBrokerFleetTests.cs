using System.Text.Json;
using Kiel.Consuming;
using Kiel.IntegrationTests.Capture;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Network;
using Kiel.Producing;
using Kiel.Protocol;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;

namespace Kiel.IntegrationTests.Compatibility;

/// <summary>
/// A kiel fleet's brokers, 0.8.2 and 0.9, with no setting anywhere: `kiel produce`, a KielProducer, a SingleConsumer and
/// GroupedConsumer members move records, commit and resume exactly; kafka-python pinned to 0.8.2 reads what Kiel wrote.
/// Two ways to be an old broker: the embedded cluster capped to the release's versions with ApiVersions removed, and
/// one broker behind a proxy that closes the connection on every API key the release does not know, as a real one does.
/// </summary>
[Trait("Category", "Compatibility")]
public sealed class OldBrokerFleetTests
{
    // Every API key the 2.16 mock serves (test-peers.md §4.1).
    private static readonly short[] MockKeys = [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18, 22, 23, 24, 25, 26, 28, 68, 71, 72, 76, 78, 79];

    private static IReadOnlyDictionary<ApiKey, ApiVersionRange> Release(string release) => BrokerVersionFallback.Get(release);

    /// <summary>Caps every API the mock serves to the release's range and removes the rest, ApiVersions included.</summary>
    private static void CapTo(EmbeddedKafkaCluster kafka, string release)
    {
        var table = Release(release);
        foreach (var key in MockKeys)
        {
            if (table.TryGetValue((ApiKey)key, out var range)) kafka.SetApiVersion(key, range.Min, range.Max);
            else kafka.RemoveApi(key);
        }
    }

    [ZooKeeperFact]
    public Task Capped_0_8_2_cluster_moves_commits_and_resumes_with_no_setting() => RunCappedAsync("0.8.2");

    [ZooKeeperFact]
    public Task Capped_0_9_cluster_moves_commits_and_resumes_with_no_setting() => RunCappedAsync("0.9.0");

    [ZooKeeperFact]
    public Task A_0_8_2_broker_that_closes_on_unknown_keys_moves_commits_and_resumes_with_no_setting() => RunBehindClosingProxyAsync("0.8.2");

    [ZooKeeperFact]
    public Task A_0_9_broker_that_closes_on_unknown_keys_moves_commits_and_resumes_with_no_setting() => RunBehindClosingProxyAsync("0.9.0");

    private static async Task RunCappedAsync(string release)
    {
        var zk = EmbeddedZooKeeper.StartAsync();
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        await using var zooKeeper = await zk;
        kafka.CreateTopic("legacy", 3);
        CapTo(kafka, release);
        await MoveCommitAndResumeAsync(kafka.BootstrapServers, zooKeeper.ConnectString, release);
    }

    private static async Task RunBehindClosingProxyAsync(string release)
    {
        var zk = EmbeddedZooKeeper.StartAsync();
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        await using var zooKeeper = await zk;
        kafka.CreateTopic("legacy", 3);
        CapTo(kafka, release);
        var known = Release(release);
        await using var proxy = RecordingProxy.Start(kafka.BootstrapServers, closesOn: key => !known.ContainsKey(key));
        await MoveCommitAndResumeAsync(proxy.BootstrapServers, zooKeeper.ConnectString, release);
        // The proxy saw Kiel ask for ApiVersions and the probe, and closed the connection on them.
        Assert.Contains(proxy.Frames, f => f.ApiKey == ApiKey.ApiVersions);
        Assert.Contains(proxy.Frames, f => f.ApiKey == ApiKey.Heartbeat && f.Direction == FrameDirection.Request);
        Assert.DoesNotContain(proxy.Frames, f => f.Direction == FrameDirection.Request && f.ApiKey != ApiKey.ApiVersions && f.ApiKey != ApiKey.Heartbeat
            && !known.ContainsKey(f.ApiKey));
    }

    private static async Task MoveCommitAndResumeAsync(string bootstrap, string zooKeeper, string release)
    {
        using var cts = TestTimeouts.After(150);
        var logs = new Kiel.Tests.ListLoggerFactory();

        // 1. kiel produce: 30 JSON lines, no setting.
        var file = Path.Combine(Path.GetTempPath(), $"kiel-old-{Guid.NewGuid():N}.txt");
        await File.WriteAllLinesAsync(file, Enumerable.Range(0, 30).Select(i => $"{{\"n\": {i}}}"), cts.Token);
        try
        {
            var produced = await ProcessRunner.RunAsync("dotnet", [KielCliProcess.KielDll(), "produce", "legacy", "-b", bootstrap, "--file", file], TimeSpan.FromSeconds(90));
            Assert.True(produced.ExitCode == 0, produced.StdErr);
            Assert.Contains("produced 30 record(s)", produced.StdErr);
        }
        finally
        {
            File.Delete(file);
        }

        // 2. A KielProducer with default options: idempotence is turned off with one warning.
        await using (var producer = new KielProducer<string, string>(new KielProducerOptions { BootstrapServers = bootstrap, LoggerFactory = logs }, Serializers.Utf8, Serializers.Utf8))
        {
            for (var i = 30; i < 60; i++)
            {
                var report = await producer.ProduceAsync("legacy", i.ToString(), $"{{\"n\": {i}}}", cancellationToken: cts.Token);
                Assert.True(report.IsDelivered, report.Error?.Message);
            }
        }
        Assert.Single(logs.Entries, e => e.EventId == Kiel.Diagnostics.LogEvents.ProducerIdempotenceUnsupported);
        var detected = logs.Entries.Where(e => e.EventId == Kiel.Diagnostics.LogEvents.OldBrokerDetected).ToList();
        Assert.NotEmpty(detected);
        Assert.All(detected, e => Assert.Contains("Kafka " + release, e.Message));

        // 3. A SingleConsumer reads all 60 from the beginning.
        var single = new List<int>();
        await using (var consumer = new SingleConsumer(bootstrap, maxWaitTime: 100))
        {
            while (single.Count < 60 && !cts.IsCancellationRequested)
            {
                var batch = await consumer.ConsumeAsync("legacy", single.Count == 0 ? StartPosition.Beginning : null, cts.Token);
                single.AddRange(batch.Select(N));
            }
        }
        Assert.Equal(Enumerable.Range(0, 60), single.Order());

        // 4. Two GroupedConsumer members share the partitions, read everything once and commit; a successor resumes exactly.
        var group = "fleet-" + Guid.NewGuid().ToString("N")[..8];
        GroupedConsumerOptions Options() => Groups.GroupEnvironment.MemberOptions(bootstrap, group, [zooKeeper], TimeSpan.FromSeconds(4));
        var grouped = new List<int>();
        await using (var a = new GroupedConsumer(Options()))
        await using (var b = new GroupedConsumer(Options()))
        {
            await a.ConnectAsync(cts.Token);
            await b.ConnectAsync(cts.Token);
            Assert.True(await TestTimeouts.WaitUntilAsync(
                () => a.Allocation.GetValueOrDefault("legacy", []).Count + b.Allocation.GetValueOrDefault("legacy", []).Count == 3
                      && a.Allocation.GetValueOrDefault("legacy", []).Count > 0 && b.Allocation.GetValueOrDefault("legacy", []).Count > 0,
                TimeSpan.FromSeconds(30)), "the two members did not split the three partitions");
            for (var round = 0; round < 400 && grouped.Count < 60 && !cts.IsCancellationRequested; round++)
            {
                grouped.AddRange((await a.ConsumeAsync("legacy", null, cts.Token)).Select(N));
                grouped.AddRange((await b.ConsumeAsync("legacy", null, cts.Token)).Select(N));
            }
        }
        Assert.Equal(Enumerable.Range(0, 60), grouped.Order());

        await using (var producer = new KielProducer<string, string>(new KielProducerOptions { BootstrapServers = bootstrap }, Serializers.Utf8, Serializers.Utf8))
        {
            for (var i = 60; i < 70; i++) Assert.True((await producer.ProduceAsync("legacy", i.ToString(), $"{{\"n\": {i}}}", cancellationToken: cts.Token)).IsDelivered);
        }
        var resumed = new List<int>();
        await using (var c = new GroupedConsumer(Options()))
        {
            await c.ConnectAsync(cts.Token);
            for (var round = 0; round < 200 && resumed.Count < 10 && !cts.IsCancellationRequested; round++)
                resumed.AddRange((await c.ConsumeAsync("legacy", null, cts.Token)).Select(N));
            // Nothing more arrives: the committed offsets were exact.
            resumed.AddRange((await c.ConsumeAsync("legacy", null, cts.Token)).Select(N));
        }
        Assert.Equal(Enumerable.Range(60, 10), resumed.Order());

        // 5. kafka-python pinned to 0.8.2 reads everything Kiel wrote.
        if (!File.Exists("/usr/bin/python3"))
        {
            Assert.False(ExternalTools.IsCi, "python3 is missing: apt-get install -y --no-install-recommends python3-kafka");
            return;
        }
        var script = $$"""
            import json
            from kafka import KafkaConsumer, TopicPartition
            c = KafkaConsumer(bootstrap_servers='{{bootstrap}}', api_version=(0, 8, 2), auto_offset_reset='earliest',
                              enable_auto_commit=False, consumer_timeout_ms=5000)
            parts = [TopicPartition('legacy', p) for p in range(3)]
            c.assign(parts)
            c.seek_to_beginning()
            seen = []
            for m in c:
                seen.append(json.loads(m.value.decode())['n'])
                if len(seen) >= 70:
                    break
            print(json.dumps(sorted(seen)))
            """;
        var python = await ProcessRunner.RunAsync("/usr/bin/python3", ["-c", script], TimeSpan.FromSeconds(60));
        Assert.True(python.ExitCode == 0, python.StdErr);
        Assert.Equal(Enumerable.Range(0, 70), JsonSerializer.Deserialize<int[]>(python.StdOut.Trim()));
    }

    private static int N(JsonElement e) => e.GetProperty("n").GetInt32();
}
