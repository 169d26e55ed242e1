using BenchmarkDotNet.Attributes;
using Kiel.ZooKeeper.Protocol;

namespace Kiel.Benchmarks.ZooKeeper;

/// <summary>Encoding a getData request frame and decoding a getData reply (100-byte data and a stat).</summary>
[MemoryDiagnoser]
public class JuteBenchmarks
{
    private readonly JuteWriter _writer = new(256);
    private byte[] _reply = [];

    [GlobalSetup]
    public void Setup()
    {
        using var w = new JuteWriter(256);
        w.WriteBuffer(new byte[100]);
        for (var i = 0; i < 4; i++) w.WriteLong(i);
        for (var i = 0; i < 3; i++) w.WriteInt(i);
        w.WriteLong(0); w.WriteInt(100); w.WriteInt(0); w.WriteLong(9);
        _reply = w.WrittenSpan.ToArray();
    }

    [Benchmark]
    public int EncodeGetDataRequest()
    {
        _writer.Reset();
        _writer.BeginFrame();
        _writer.WriteInt(17);
        _writer.WriteInt((int)OpCode.GetData);
        _writer.WriteString("/kiel/groups/g/partitions");
        _writer.WriteBool(true);
        _writer.FinishFrame();
        return _writer.Length;
    }

    [Benchmark]
    public int DecodeGetDataReply()
    {
        var r = new JuteReader(_reply, "GetDataResponse");
        var data = r.ReadBuffer("data");
        var stat = r.ReadStat();
        return data!.Length + stat.Version;
    }
}
