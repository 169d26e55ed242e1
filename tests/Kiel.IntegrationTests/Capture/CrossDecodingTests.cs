using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Protocol.Records;
using Kiel.Testing;
using static Kiel.IntegrationTests.Capture.CaptureScenario;
using KielCodec = Kiel.CompressionType;

namespace Kiel.IntegrationTests.Capture;


/// <summary>
/// Batches that Kiel builds are read by the peers: written with a raw Produce request into the embedded cluster
/// and consumed by Confluent.Kafka and kcat, and decoded from files by kafka-python's own record readers.
/// </summary>
public class CrossDecodingTests
{
    public static TheoryData<KielCodec> AllCodecs => new() { KielCodec.None, KielCodec.Gzip, KielCodec.Snappy, KielCodec.Lz4, KielCodec.Zstd };

    private static byte[] Utf8(string? s) => s is null ? null! : Encoding.UTF8.GetBytes(s);

    private static ReadOnlyMemory<byte> BuildKielBatch(KielCodec codec)
    {
        using var builder = new RecordBatchBuilder(codec);
        foreach (var r in Records)
        {
            var headers = r.Headers.Select(h => new RecordHeader(h.Key, h.Value is null ? null : Utf8(h.Value))).ToArray();
            builder.Append(r.Timestamp!.Value, r.Key is null ? default : Utf8(r.Key), r.Value is null ? default : Utf8(r.Value), headers, r.Key is null, r.Value is null);
        }
        return builder.Seal().ToArray();
    }

    private static ReadOnlyMemory<byte> BuildKielLegacy(byte magic, KielCodec codec)
    {
        using var builder = new LegacyMessageSetBuilder(magic, codec);
        foreach (var r in Records)
            builder.Append(r.Timestamp!.Value, r.Key is null ? default : Utf8(r.Key), r.Value is null ? default : Utf8(r.Value), r.Key is null, r.Value is null);
        return builder.Seal().ToArray();
    }

    private static async Task<EmbeddedKafkaCluster> OneBrokerAsync()
    {
        var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        cluster.CreateTopic(Topic, 1, 1);
        return cluster;
    }

    private static List<ConsumeResult<byte[]?, byte[]?>> ConsumeAll(string bootstrap, int count)
    {
        var config = ConfluentClients.ConsumerConfig(bootstrap, "cross-" + Guid.NewGuid().ToString("N"));
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).Build();
        consumer.Assign(new TopicPartitionOffset(Topic, 0, Offset.Beginning));
        var results = new List<ConsumeResult<byte[]?, byte[]?>>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (results.Count < count && DateTime.UtcNow < deadline)
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } r) results.Add(r);
        consumer.Close();
        return results;
    }

    private static void AssertConfluentSees(IReadOnlyList<ConsumeResult<byte[]?, byte[]?>> results, byte magic)
    {
        Assert.Equal(Records.Length, results.Count);
        for (var i = 0; i < Records.Length; i++)
        {
            var (m, expected) = (results[i].Message, Records[i]);
            Assert.Equal(i, results[i].Offset.Value);
            Assert.Equal(expected.Key, m.Key is null ? null : Encoding.UTF8.GetString(m.Key));
            Assert.Equal(expected.Value, m.Value is null ? null : Encoding.UTF8.GetString(m.Value));
            if (magic >= 1) Assert.Equal(expected.Timestamp, m.Timestamp.UnixTimestampMs);
            var headers = (m.Headers ?? []).Select(h => (h.Key, h.GetValueBytes() is { } v ? Encoding.UTF8.GetString(v) : null)).ToArray();
            Assert.Equal(magic == 2 ? expected.Headers : [], headers);
        }
    }

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public async Task ConfluentKafkaReadsKielBatches(KielCodec codec)
    {
        await using var cluster = await OneBrokerAsync();
        Assert.Equal(0, await RawProduceClient.ProduceAsync(cluster.BootstrapServers, Topic, 0, BuildKielBatch(codec), version: 7));
        AssertConfluentSees(ConsumeAll(cluster.BootstrapServers, Records.Length), 2);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task ConfluentKafkaReadsKielLegacyMessageSets(byte magic)
    {
        // The mock stores uncompressed magic 0/1 sets (it refuses compressed wrappers), and serves them verbatim.
        await using var cluster = await OneBrokerAsync();
        await RawProduceClient.ProduceAsync(cluster.BootstrapServers, Topic, 0, BuildKielLegacy(magic, KielCodec.None), version: magic == 0 ? (short)0 : (short)2);
        AssertConfluentSees(ConsumeAll(cluster.BootstrapServers, Records.Length), magic);
    }

    [ToolFact("kcat", "kcat")]
    public async Task KcatReadsKielBatchesInEveryCodec()
    {
        foreach (var codec in new[] { KielCodec.None, KielCodec.Gzip, KielCodec.Snappy, KielCodec.Lz4, KielCodec.Zstd })
        {
            await using var cluster = await OneBrokerAsync();
            await RawProduceClient.ProduceAsync(cluster.BootstrapServers, Topic, 0, BuildKielBatch(codec), version: 7);
            var result = await ProcessRunner.RunAsync("kcat",
                ["-C", "-b", cluster.BootstrapServers, "-t", Topic, "-p", "0", "-o", "beginning", "-e", "-u", "-q",
                 "-f", "%o|%k|%s|%T|%h\\n", "-Z"],
                TimeSpan.FromSeconds(30));
            Assert.True(result.ExitCode == 0, result.StdErr);
            var lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(Records.Length, lines.Length);
            for (var i = 0; i < Records.Length; i++)
            {
                var fields = lines[i].Split('|');
                Assert.Equal(i.ToString(), fields[0]);
                // kcat -Z prints NULL for a null field, and librdkafka hands it an empty one as null too.
                Assert.Equal(string.IsNullOrEmpty(Records[i].Key) ? "NULL" : Records[i].Key, fields[1]);
                Assert.Equal(string.IsNullOrEmpty(Records[i].Value) ? "NULL" : Records[i].Value, fields[2]);
                Assert.Equal(Records[i].Timestamp.ToString(), fields[3]);
            }
        }
    }

    public static TheoryData<byte, KielCodec> PythonCases => new()
    {
        { 2, KielCodec.None }, { 2, KielCodec.Gzip },
        { 1, KielCodec.None }, { 1, KielCodec.Gzip },
        { 0, KielCodec.None }, { 0, KielCodec.Gzip },
    };

    [Theory]
    [MemberData(nameof(PythonCases))]
    public async Task KafkaPythonDecodesKielFiles(byte magic, KielCodec codec)
    {
        // kafka-python here has no snappy, lz4 or zstd module; gzip and none are what it can check.
        var bytes = magic == 2 ? BuildKielBatch(codec) : BuildKielLegacy(magic, codec);
        var file = Path.Combine(Path.GetTempPath(), $"kiel-cross-{Guid.NewGuid():N}.bin");
        await File.WriteAllBytesAsync(file, bytes.ToArray());
        try
        {
            var script = Path.Combine(AppContext.BaseDirectory, "Capture", "kafka_python_decode.py");
            var result = await ProcessRunner.RunAsync(Python, [script, file], TimeSpan.FromSeconds(30));
            Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
            var rows = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(Records.Length, rows.Count);
            for (var i = 0; i < Records.Length; i++)
            {
                var row = rows[i];
                Assert.Equal(magic, row.GetProperty("magic").GetInt32());
                Assert.Equal(i, row.GetProperty("offset").GetInt64());
                Assert.Equal(Hex(Records[i].Key), row.GetProperty("key").GetString());
                Assert.Equal(Hex(Records[i].Value), row.GetProperty("value").GetString());
                if (magic >= 1) Assert.Equal(Records[i].Timestamp, row.GetProperty("timestamp").GetInt64());
                var headers = row.GetProperty("headers").EnumerateArray().Select(h => (h[0].GetString()!, h[1].GetString())).ToArray();
                Assert.Equal(magic == 2 ? Records[i].Headers.Select(h => (h.Key, Hex(h.Value))).ToArray() : [], headers);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string? Hex(string? s) => s is null ? null : Convert.ToHexString(Encoding.UTF8.GetBytes(s)).ToLowerInvariant();
}
