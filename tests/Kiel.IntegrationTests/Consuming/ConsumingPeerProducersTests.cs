using System.Text;
using Kiel.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Consuming;

/// <summary>Kiel reads what kcat and kafka-python (magic 0 and 1) produced, exactly as Confluent.Kafka reads it.</summary>
public sealed class ConsumingPeerProducersTests(KafkaClusterFixture fixture) : IClassFixture<KafkaClusterFixture>
{
    private EmbeddedKafkaCluster Cluster => fixture.Cluster;

    private async Task<List<Seen>> ReadWithKielAsync(string topic, int count)
    {
        await using var consumer = ConsumingHelpers.Consumer(fixture.BootstrapServers);
        await consumer.AssignTopicAsync(topic, StartPosition.Beginning);
        var read = await ConsumingHelpers.ReadAsync(consumer, count);
        return [.. read.Select(r => ConsumingHelpers.ToSeen(r) with
        {
            TimestampMs = r.TimestampType == TimestampType.NotAvailable ? -1 : r.Timestamp.ToUnixTimeMilliseconds(),
        }).OrderBy(s => s.Partition).ThenBy(s => s.Offset)];
    }

    [Theory]
    [InlineData("none")]
    [InlineData("gzip")]
    [InlineData("snappy")]
    [InlineData("lz4")]
    [InlineData("zstd")]
    public async Task Reads_what_kcat_produced(string codec)
    {
        var kcat = ExternalTools.Find("kcat");
        if (kcat is null)
        {
            Assert.False(ExternalTools.IsCi, "kcat is missing: apt-get install -y --no-install-recommends kcat");
            return;
        }
        var topic = KafkaClusterFixture.UniqueTopic("kcat");
        Cluster.CreateTopic(topic, partitions: 2);
        var input = Path.GetTempFileName();
        try
        {
            await File.WriteAllLinesAsync(input, Enumerable.Range(0, 200).Select(i => $"key{i}:value {i} {new string('z', i % 29)}"));
            var result = await ProcessRunner.RunAsync(kcat, ["-b", fixture.BootstrapServers, "-t", topic, "-P", "-K:", "-z", codec,
                "-H", "origin=kcat", "-X", "linger.ms=20", "-l", input], TimeSpan.FromSeconds(30));
            Assert.True(result.ExitCode == 0, result.StdErr);
        }
        finally
        {
            File.Delete(input);
        }
        var reference = ConfluentReader.ReadAll(fixture.BootstrapServers, topic, 2, 200);
        var kiel = await ReadWithKielAsync(topic, 200);
        Assert.Equal(reference, kiel);
        Assert.All(kiel, s => Assert.Equal("origin=kcat", s.Headers));
    }

    [Theory]
    [InlineData("0,8,2", -1L)]
    [InlineData("0,10", 1L)]
    public async Task Reads_what_kafka_python_produced_with_old_message_formats(string apiVersion, long timestampKind)
    {
        const string python = "/usr/bin/python3";
        if (!File.Exists(python))
        {
            Assert.False(ExternalTools.IsCi, "python3 is missing: apt-get install -y --no-install-recommends python3-kafka");
            return;
        }
        var topic = KafkaClusterFixture.UniqueTopic("kpy");
        Cluster.CreateTopic(topic, partitions: 2);
        var script = $$"""
            import sys
            from kafka import KafkaProducer
            p = KafkaProducer(bootstrap_servers='{{fixture.BootstrapServers}}', api_version=({{apiVersion}}), linger_ms=5)
            for i in range(120):
                p.send('{{topic}}', key=('k%d' % i).encode(), value=None if i == 5 else ('v%d' % i).encode(), partition=i % 2,
                       timestamp_ms=1600000000000 + i)
            p.flush(20)
            p.close(5)
            """;
        var result = await ProcessRunner.RunAsync(python, ["-c", script], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.StdErr);

        var reference = ConfluentReader.ReadAll(fixture.BootstrapServers, topic, 2, 120);
        var kiel = await ReadWithKielAsync(topic, 120);
        Assert.Equal(reference, kiel);
        Assert.Contains(kiel, s => s.Key == "k5" && s.Value is null);
        if (timestampKind < 0) Assert.All(kiel, s => Assert.Equal(-1, s.TimestampMs));
        else Assert.Contains(kiel, s => s.TimestampMs == 1_600_000_000_007);
    }
}
