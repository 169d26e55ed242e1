using System.Text;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Protocol.Records;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Capture;

/// <summary>A record as the test sent it and as Kiel must read it back.</summary>
public sealed record SentRecord(string? Key, string? Value, long? Timestamp, (string Key, string? Value)[] Headers);

/// <summary>What the capture tests send, and the helpers that capture and decode it.</summary>
internal static class CaptureScenario
{
    public const long T0 = 1_700_000_000_000;
    public const string Topic = "capture";

    /// <summary>Null and empty keys and values, a tombstone, headers with a null value and non-ASCII text, a compressible value.</summary>
    public static readonly SentRecord[] Records =
    [
        new("k0", "value-0", T0, [("h1", "v1")]),
        new(null, "value-1", T0 + 1000, []),
        new("k2", null, T0 + 2000, [("h1", null), ("h2", "x")]),
        new("k3", string.Concat(Enumerable.Range(0, 300).Select(i => (char)('a' + i % 26))), T0 + 3000, []),
        new("", "", T0 + 4000, [("ünïcode", "é")]),
    ];

    /// <summary>Runs <paramref name="produce"/> against a one-broker embedded cluster through a recording proxy.</summary>
    public static async Task<IReadOnlyList<CapturedFrame>> CaptureAsync(Func<string, Task> produce)
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        // The generated MetadataResponse stops at v12; keep clients from asking for v13 so the proxy can rewrite it.
        cluster.SetApiVersion(KafkaApiKeys.Metadata, 0, 12);
        cluster.CreateTopic(Topic, 1, 1);
        await using var proxy = RecordingProxy.Start(cluster.BootstrapServers);
        await produce(proxy.BootstrapServers);
        return proxy.Frames;
    }

    /// <summary>The Produce requests that carried records, decoded with the generated messages.</summary>
    public static List<(CapturedFrame Frame, RequestHeader Header, ProduceRequest Body)> ProduceRequests(IEnumerable<CapturedFrame> frames)
    {
        var list = new List<(CapturedFrame, RequestHeader, ProduceRequest)>();
        foreach (var f in frames.Where(f => f.Direction == FrameDirection.Request && f.ApiKey == ApiKey.Produce))
        {
            var reader = new KafkaReader(f.Frame.AsMemory());
            var header = KafkaHeaders.ReadRequestHeader(ref reader);
            var body = ProduceRequest.Read(ref reader, f.ApiVersion);
            Assert.True(reader.End, "bytes left after the ProduceRequest");
            list.Add((f, header, body));
        }
        return list;
    }

    /// <summary>Encodes a decoded request again, header included.</summary>
    public static byte[] Reencode(RequestHeader header, ProduceRequest body, short version)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(output);
        KafkaHeaders.WriteRequestHeader(ref writer, ApiKey.Produce, version, header.CorrelationId, header.ClientId);
        body.Write(ref writer, version);
        writer.Flush();
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Every record of every batch in the requests, with the format details of its batch.</summary>
    public static List<(SentRecord Record, long Offset, TimestampType TimestampType, byte Magic, Kiel.CompressionType Codec)> ReadRecords(
        IEnumerable<ProduceRequest> requests)
    {
        var list = new List<(SentRecord, long, TimestampType, byte, Kiel.CompressionType)>();
        foreach (var request in requests)
        foreach (var topic in request.TopicData)
        foreach (var partition in topic.PartitionData)
        {
            if (partition.Records is not { } records) continue;
            using var reader = new RecordSetReader(records.Span, options: new RecordReaderOptions { AllowTruncatedTail = false });
            while (reader.MoveNextBatch())
            while (reader.MoveNextRecord())
            {
                var r = reader.Current;
                var headers = new List<(string, string?)>();
                foreach (var h in r.Headers) headers.Add((h.KeyString, h.IsValueNull ? null : Encoding.UTF8.GetString(h.Value)));
                var sent = new SentRecord(
                    r.IsKeyNull ? null : Encoding.UTF8.GetString(r.Key),
                    r.IsValueNull ? null : Encoding.UTF8.GetString(r.Value),
                    r.TimestampType == TimestampType.NotAvailable ? null : r.Timestamp,
                    [.. headers]);
                list.Add((sent, r.Offset, r.TimestampType, reader.CurrentBatch.Magic, reader.CurrentBatch.Compression));
            }
        }
        return list;
    }

    public static void AssertSame(SentRecord expected, SentRecord actual)
    {
        Assert.Equal(expected.Key, actual.Key);
        Assert.Equal(expected.Value, actual.Value);
        Assert.Equal(expected.Timestamp, actual.Timestamp);
        Assert.Equal(expected.Headers, actual.Headers);
    }

    /// <summary>
    /// With <c>KIEL_WRITE_FIXTURES</c> set to a folder, saves a frame there (tests/Kiel.Tests/Fixtures holds the
    /// committed ones; its README says how they were made).
    /// </summary>
    public static void MaybeSaveFixture(string name, byte[] frame)
    {
        var folder = Environment.GetEnvironmentVariable("KIEL_WRITE_FIXTURES");
        if (string.IsNullOrEmpty(folder)) return;
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, name), frame);
    }

    /// <summary>Debian's Python, which sees python3-kafka (the pyenv one on PATH does not).</summary>
    public const string Python = "/usr/bin/python3";
}
