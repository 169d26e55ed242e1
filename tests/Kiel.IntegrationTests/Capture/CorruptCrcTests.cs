using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Kiel.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;
using Kiel.Protocol.Records;

namespace Kiel.IntegrationTests.Capture;

/// <summary>
/// A batch whose CRC-32C does not match its bytes, written to the embedded cluster with a raw ProduceRequest (the
/// librdkafka mock stores it without checking), is refused with <see cref="CorruptRecordException"/> by
/// <see cref="KielConsumer{TKey, TValue}"/>, <see cref="SingleConsumer{T}"/> and <see cref="GroupedConsumer"/>, and
/// <c>kiel consume</c> exits non-zero with that message; the good batch before it is read by all of them.
/// </summary>
[Trait("Category", "Groups")]
public sealed class CorruptCrcTests(GroupEnvironment env) : IClassFixture<GroupEnvironment>
{
    private static byte[] Batch(int from, int count)
    {
        using var builder = new RecordBatchBuilder();
        for (var i = from; i < from + count; i++)
            builder.Append(1_700_000_000_000 + i, Encoding.UTF8.GetBytes(i.ToString()), Encoding.UTF8.GetBytes($"{{\"n\": {i}}}"));
        return builder.Seal().ToArray();
    }

    /// <summary>Offsets 0-2 intact, 3-5 with one value byte flipped after the CRC was computed.</summary>
    private async Task<(string Topic, uint Stored, uint Actual)> CorruptTopicAsync()
    {
        var topic = GroupEnvironment.Unique("crc");
        env.Kafka.CreateTopic(topic, 1);
        env.Kafka.SetPartitionLeader(topic, 0, env.Kafka.BrokerIds[0]);
        var bad = Batch(3, 3);
        var stored = BinaryPrimitives.ReadUInt32BigEndian(bad.AsSpan(RecordBatchHeader.CrcOffset));
        bad[^3] ^= 0x01; // the digit of the last value: {"n": 5} becomes {"n": 4}
        var actual = Crc32C.Compute(bad.AsSpan(RecordBatchHeader.AttributesOffset));
        Assert.NotEqual(stored, actual);
        using var cts = TestTimeouts.After(30);
        Assert.Equal(0, await RawProduceClient.ProduceAsync(env.Brokers[0], topic, 0, Batch(0, 3), version: 7, cts.Token));
        Assert.Equal(3, await RawProduceClient.ProduceAsync(env.Brokers[0], topic, 0, bad, version: 7, cts.Token));
        return (topic, stored, actual);
    }

    private static void AssertNames(CorruptRecordException ex, string topic, uint stored, uint actual)
    {
        Assert.Equal((topic, 0, 3L, stored, actual), (ex.Topic, ex.Partition, ex.BaseOffset, ex.ExpectedCrc, ex.ActualCrc));
        Assert.Contains($"0x{stored:X8}", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"0x{actual:X8}", ex.Message, StringComparison.Ordinal);
    }

    private static int N(string? json) => JsonDocument.Parse(json!).RootElement.GetProperty("n").GetInt32();

    [Fact]
    public async Task KielConsumer_refuses_it_in_records_and_in_raw_batches()
    {
        var (topic, stored, actual) = await CorruptTopicAsync();
        var options = new KielConsumerOptions { BootstrapServers = env.Bootstrap, FetchMaxWait = TimeSpan.FromMilliseconds(100) };
        var tp = new TopicPartition(topic, 0);

        await using (var consumer = new KielConsumer<string?, string?>(options, Deserializers.Utf8, Deserializers.Utf8))
        {
            await consumer.AssignAsync(tp, StartPosition.Beginning);
            var read = new List<int>();
            using var cts = TestTimeouts.After(30);
            var ex = await Assert.ThrowsAsync<CorruptRecordException>(async () =>
            {
                await foreach (var r in consumer.ConsumeAsync(cts.Token)) read.Add(N(r.Value));
            });
            AssertNames(ex, topic, stored, actual);
            Assert.Equal([0, 1, 2], read);
        }

        await using (var consumer = new KielConsumer<string?, string?>(options, Deserializers.Utf8, Deserializers.Utf8))
        {
            await consumer.AssignAsync(tp, StartPosition.Beginning);
            var offsets = new List<long>();
            using var cts = TestTimeouts.After(30);
            var ex = await Assert.ThrowsAsync<CorruptRecordException>(async () =>
            {
                await foreach (var batch in consumer.ConsumeBatchesAsync(cts.Token))
                    using (batch)
                        while (batch.TryReadNext(out var r)) offsets.Add(r.Offset);
            });
            AssertNames(ex, topic, stored, actual);
            Assert.Equal([0L, 1, 2], offsets);
        }
    }

    [Fact]
    public async Task SingleConsumer_refuses_it()
    {
        var (topic, stored, actual) = await CorruptTopicAsync();
        await using var consumer = new SingleConsumer<string?>(
            new KielConsumerOptions { BootstrapServers = env.Bootstrap, FetchMaxWait = TimeSpan.FromMilliseconds(100) }, Deserializers.Utf8);
        var values = new List<int>();
        using var cts = TestTimeouts.After(30);
        var ex = await Assert.ThrowsAsync<CorruptRecordException>(async () =>
        {
            while (!cts.IsCancellationRequested) values.AddRange((await consumer.ConsumeAsync(topic, StartPosition.Beginning, cts.Token)).Select(N));
        });
        AssertNames(ex, topic, stored, actual);
        Assert.Equal([0, 1, 2], values);
    }

    [Fact]
    public async Task GroupedConsumer_refuses_it()
    {
        var (topic, stored, actual) = await CorruptTopicAsync();
        await using var consumer = new GroupedConsumer(env.Options(GroupEnvironment.Unique("g")));
        using var cts = TestTimeouts.After(60);
        await consumer.ConnectAsync(cts.Token);
        var values = new List<int>();
        var ex = await Assert.ThrowsAsync<CorruptRecordException>(async () =>
        {
            while (!cts.IsCancellationRequested)
                values.AddRange((await consumer.ConsumeAsync(topic, null, cts.Token)).Select(v => v.GetProperty("n").GetInt32()));
        });
        AssertNames(ex, topic, stored, actual);
        Assert.Equal([0, 1, 2], values);
    }

    [Fact]
    public async Task Kiel_consume_exits_non_zero_with_the_message()
    {
        var (topic, stored, actual) = await CorruptTopicAsync();
        var r = await ProcessRunner.RunAsync("dotnet", [KielCliProcess.KielDll(), "consume", topic, "-b", env.Bootstrap, "--from", "beginning", "--count", "6"],
            TimeSpan.FromSeconds(60));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"Corrupt record batch in {topic}[0] at base offset 3", r.StdErr, StringComparison.Ordinal);
        Assert.Contains($"0x{stored:X8}", r.StdErr, StringComparison.Ordinal);
        Assert.Contains($"0x{actual:X8}", r.StdErr, StringComparison.Ordinal);
        // The good batch was printed, and nothing of the corrupt one.
        Assert.Equal(3, r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [ToolFact("kcat", "kcat")]
    public async Task Kcat_with_check_crcs_refuses_the_same_bytes()
    {
        var (topic, _, _) = await CorruptTopicAsync();
        var kcat = ExternalTools.Require("kcat", "kcat");
        var r = await ProcessRunner.RunAsync(kcat, ["-C", "-b", env.Bootstrap, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-X", "check.crcs=true", "-f", "%o\\n"],
            TimeSpan.FromSeconds(60));
        Assert.Contains("CRC", r.StdErr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("5", r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}
