using System.Buffers;
using BenchmarkDotNet.Attributes;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Benchmarks.Protocol;

/// <summary>
/// Encoding and decoding a Metadata response of a mid-sized cluster (6 brokers, 50 topics × 12 partitions, RF 3)
/// at v1 (classic) and v12 (flexible, topic ids).
/// Run: dotnet run -c Release --project bench/Kiel.Benchmarks -- --filter '*MetadataResponseBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class MetadataResponseBenchmarks
{
    private MetadataResponse _response = null!;
    private byte[] _encoded = null!;
    private readonly ArrayBufferWriter<byte> _buffer = new(1 << 20);

    [Params((short)1, (short)12)]
    public short Version { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var response = new MetadataResponse { ClusterId = "kiel-bench", ControllerId = 1 };
        for (var b = 0; b < 6; b++)
            response.Brokers.Add(new() { NodeId = b, Host = $"broker-{b}.example.internal", Port = 9092, Rack = "rack-" + (b % 3) });
        for (var t = 0; t < 50; t++)
        {
            var topic = new MetadataResponse.MetadataResponseTopic { Name = $"orders.events.{t:D3}", TopicId = Guid.NewGuid() };
            for (var p = 0; p < 12; p++)
            {
                topic.Partitions.Add(new()
                {
                    PartitionIndex = p, LeaderId = p % 6, LeaderEpoch = 7,
                    ReplicaNodes = [p % 6, (p + 1) % 6, (p + 2) % 6], IsrNodes = [p % 6, (p + 1) % 6, (p + 2) % 6],
                });
            }
            response.Topics.Add(topic);
        }
        if (Version < 5) foreach (var t in response.Topics) foreach (var p in t.Partitions) p.OfflineReplicas.Clear();
        if (Version < 7) foreach (var t in response.Topics) foreach (var p in t.Partitions) p.LeaderEpoch = -1;
        if (Version < 10) foreach (var t in response.Topics) t.TopicId = Guid.Empty;
        _response = response;
        _buffer.Clear();
        var writer = new KafkaWriter(_buffer);
        response.Write(ref writer, Version);
        writer.Flush();
        _encoded = _buffer.WrittenSpan.ToArray();
    }

    /// <summary>Size of the encoded response, for MB/s: bytes / mean time.</summary>
    public int EncodedBytes => _encoded.Length;

    [Benchmark]
    public long Encode()
    {
        _buffer.ResetWrittenCount();
        var writer = new KafkaWriter(_buffer);
        _response.Write(ref writer, Version);
        writer.Flush();
        return writer.BytesWritten;
    }

    [Benchmark]
    public int Decode()
    {
        var reader = new KafkaReader(_encoded.AsMemory());
        return MetadataResponse.Read(ref reader, Version).Topics.Count;
    }
}
