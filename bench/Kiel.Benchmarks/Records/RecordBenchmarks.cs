using System.Buffers;
using BenchmarkDotNet.Attributes;
using Kiel.Protocol;
using Kiel.Protocol.Compression;
using Kiel.Protocol.Messages;
using Kiel.Protocol.Records;

namespace Kiel.Benchmarks.Records;

/// <summary>
/// Building and reading record batches: 1,000 records of 100 B per batch, and a 1 MiB record set (uncompressed
/// batches back to back) iterated record by record.
/// <c>dotnet run -c Release --project bench/Kiel.Benchmarks -- --filter '*RecordBenchmarks*' --job short</c>
/// </summary>
[MemoryDiagnoser]
public class RecordBenchmarks
{
    public const int RecordsPerBatch = 1000;
    public const int ValueSize = 100;

    private readonly byte[] _value = new byte[ValueSize];
    private readonly byte[] _key = "key-000000"u8.ToArray();
    private RecordBatchBuilder _builder = null!;
    private byte[] _recordSet = null!;
    private byte[] _fetchFrame = null!;
    private int _recordsInSet;
    private readonly ArrayBufferWriter<byte> _produceOutput = new(256 * 1024);

    [GlobalSetup]
    public void Setup()
    {
        new Random(1).NextBytes(_value);
        _builder = new RecordBatchBuilder(maxBatchBytes: int.MaxValue);

        // A 1 MiB set made of whole 1,000-record batches, then cut at 1 MiB as a broker would.
        var set = new List<byte>();
        long offset = 0;
        while (set.Count < 1 << 20)
        {
            _builder.Reset();
            for (var i = 0; i < RecordsPerBatch; i++) _builder.Append(1_700_000_000_000 + i, _key, _value);
            var batch = _builder.Seal().ToArray();
            RecordBatch.SetBaseOffset(batch, offset);
            offset += RecordsPerBatch;
            set.AddRange(batch);
        }
        _recordSet = set.Take(1 << 20).ToArray();
        var reader = new RecordSetReader(_recordSet);
        while (reader.MoveNext()) _recordsInSet++;
        reader.Dispose();

        var fetch = new FetchResponse
        {
            Responses =
            [
                new FetchResponse.FetchableTopicResponse
                {
                    Topic = "bench",
                    Partitions = [new FetchResponse.PartitionData { PartitionIndex = 0, HighWatermark = offset, Records = _recordSet }],
                },
            ],
        };
        var output = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(output);
        fetch.Write(ref writer, 11);
        writer.Flush();
        _fetchFrame = output.WrittenSpan.ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => _builder.Dispose();

    /// <summary>The number of records in the 1 MiB set (for per-record figures).</summary>
    public int RecordsInSet => _recordsInSet;

    [Benchmark(OperationsPerInvoke = RecordsPerBatch, Description = "build 1000x100B batch (per record)")]
    public int BuildBatch()
    {
        _builder.Reset();
        for (var i = 0; i < RecordsPerBatch; i++) _builder.Append(1_700_000_000_000 + i, _key, _value);
        return _builder.Seal().Length;
    }

    [Benchmark(Description = "encode ProduceRequest v9 with one 1000x100B batch")]
    public long EncodeProduceRequest()
    {
        _builder.Reset();
        for (var i = 0; i < RecordsPerBatch; i++) _builder.Append(1_700_000_000_000 + i, _key, _value);
        var request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 30_000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = "bench", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = _builder.Seal() }] }],
        };
        _produceOutput.ResetWrittenCount();
        var writer = new KafkaWriter(_produceOutput);
        request.Write(ref writer, 9);
        writer.Flush();
        return writer.BytesWritten;
    }

    [Benchmark(Description = "iterate 1 MiB record set (CRC checked)")]
    public long IterateRecordSet()
    {
        long sum = 0;
        var reader = new RecordSetReader(_recordSet);
        while (reader.MoveNext()) sum += reader.Current.Offset + reader.Current.Value.Length;
        reader.Dispose();
        return sum;
    }

    [Benchmark(Description = "iterate 1 MiB record set (CRC off)")]
    public long IterateRecordSetNoCrc()
    {
        long sum = 0;
        var reader = new RecordSetReader(_recordSet, options: NoCrc);
        while (reader.MoveNext()) sum += reader.Current.Offset + reader.Current.Value.Length;
        reader.Dispose();
        return sum;
    }

    [Benchmark(Description = "CRC-32C of 1 MiB")]
    public uint Crc32COfSet() => Crc32C.Compute(_recordSet);

    private static readonly RecordReaderOptions NoCrc = new() { VerifyCrc = false };

    [Benchmark(Description = "decode 1 MiB FetchResponse v11 + iterate")]
    public long DecodeFetchResponse()
    {
        var reader = new KafkaReader(_fetchFrame.AsMemory());
        var response = FetchResponse.Read(ref reader, 11);
        long sum = 0;
        foreach (var topic in response.Responses)
        foreach (var partition in topic.Partitions)
        {
            var records = new RecordSetReader(partition.Records!.Value.Span);
            while (records.MoveNext()) sum += records.Current.Offset;
            records.Dispose();
        }
        return sum;
    }
}

/// <summary>
/// Each codec on the records region of a 1,000 x 100 B batch whose values are half text, half noise.
/// <c>dotnet run -c Release --project bench/Kiel.Benchmarks -- --filter '*CodecBenchmarks*' --job short</c>
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private byte[] _plain = null!;
    private byte[] _compressed = null!;
    private readonly PooledBufferWriter _output = new(1 << 20);

    [Params(CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd)]
    public CompressionType Codec { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(2);
        using var builder = new RecordBatchBuilder(maxBatchBytes: int.MaxValue);
        var value = new byte[RecordBenchmarks.ValueSize];
        for (var i = 0; i < RecordBenchmarks.RecordsPerBatch; i++)
        {
            for (var j = 0; j < value.Length; j++) value[j] = j < 50 ? (byte)('a' + random.Next(8)) : (byte)random.Next(256);
            builder.Append(1_700_000_000_000 + i, "key"u8, value);
        }
        _plain = builder.Seal().Span[RecordBatchHeader.Size..].ToArray();
        _output.Clear();
        CompressionCodec.Compress(Codec, _plain, _output);
        _compressed = _output.WrittenSpan.ToArray();
    }

    /// <summary>Uncompressed bytes per operation, for MB/s.</summary>
    public int PlainBytes => _plain.Length;

    [Benchmark]
    public int Compress()
    {
        _output.Clear();
        CompressionCodec.Compress(Codec, _plain, _output);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int Decompress()
    {
        _output.Clear();
        return CompressionCodec.Decompress(Codec, _compressed, _output);
    }
}
