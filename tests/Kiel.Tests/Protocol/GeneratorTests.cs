using Kiel.Protocol;
using Kiel.ProtocolGen;

namespace Kiel.Tests.Protocol;

public class GeneratorTests
{
    [Fact]
    public void CommittedOutputMatchesAFreshGeneration()
    {
        var fresh = ProtocolGenerator.Generate(Schemas.MessageDir);
        var stale = new List<string>();
        foreach (var (name, text) in fresh)
        {
            var path = Path.Combine(Schemas.OutputDir, name);
            if (!File.Exists(path)) stale.Add($"{name} is missing");
            else if (File.ReadAllText(path).ReplaceLineEndings("\n") != text) stale.Add($"{name} differs");
        }
        foreach (var path in Directory.GetFiles(Schemas.OutputDir, "*.g.cs"))
            if (!fresh.ContainsKey(Path.GetFileName(path))) stale.Add($"{Path.GetFileName(path)} is not generated any more");
        Assert.True(stale.Count == 0,
            "Generated protocol code is stale; run `dotnet run --project tools/Kiel.ProtocolGen` and commit:\n" + string.Join("\n", stale.Take(20)));
    }

    [Fact]
    public void EverySchemaFileIsGenerated()
    {
        var files = Directory.GetFiles(Schemas.MessageDir, "*.json");
        Assert.Equal(186, files.Length);
        Assert.Equal(files.Length, Schemas.Specs.Count);
        foreach (var spec in Schemas.Specs) Assert.NotNull(Schemas.TypeOf(spec));
    }

    [Fact]
    public void ApiTableHasEveryApiWithItsRangeAndFirstFlexibleVersion()
    {
        var requests = Schemas.Specs.Where(s => s.Type == "request").ToList();
        Assert.Equal(88, requests.Count);
        Assert.Equal(88, Enum.GetValues<ApiKey>().Length);
        Assert.Equal(88, ApiKeys.All.Count);
        foreach (var spec in requests)
        {
            var info = ApiKeys.Info((ApiKey)spec.ApiKey!.Value);
            Assert.Equal(spec.Name, info.Name + "Request");
            Assert.Equal(spec.ValidVersions.Low, info.MinVersion);
            Assert.Equal(spec.ValidVersions.High, info.MaxVersion);
            Assert.Equal(spec.FlexibleVersions.IsEmpty ? -1 : spec.FlexibleVersions.Low, info.FirstFlexibleVersion);
            Assert.Equal(spec.LatestVersionUnstable, info.LatestVersionUnstable);
        }
        Assert.False(ApiKeys.TryGetInfo((ApiKey)9999, out _));
        Assert.False(ApiKeys.TryGetInfo((ApiKey)(-1), out _));
    }

    /// <summary>Every (API, version) pair in the JSON has a generated encode and decode path, reachable by key.</summary>
    [Fact]
    public void EveryApiVersionPairHasAGeneratedPath()
    {
        var missing = new List<string>();
        foreach (var spec in Schemas.Specs)
        {
            var type = Schemas.TypeOf(spec);
            Assert.Equal(spec.ValidVersions.Low, (short)type.GetField("LowestSupportedVersion")!.GetValue(null)!);
            Assert.Equal(spec.ValidVersions.High, (short)type.GetField("HighestSupportedVersion")!.GetValue(null)!);
            foreach (var v in Schemas.VersionsOf(spec))
            {
                try
                {
                    IKafkaMessage message = spec.Type switch
                    {
                        "request" => MessageReaders.CreateRequest((ApiKey)spec.ApiKey!.Value),
                        "response" => MessageReaders.CreateResponse((ApiKey)spec.ApiKey!.Value),
                        _ => (IKafkaMessage)Activator.CreateInstance(type)!,
                    };
                    Assert.IsType(type, message);
                    var bytes = Schemas.Encode(message, v);
                    var reader = new KafkaReader(bytes.AsMemory());
                    IKafkaMessage decoded = spec.Type switch
                    {
                        "request" => MessageReaders.ReadRequest((ApiKey)spec.ApiKey!.Value, ref reader, v),
                        "response" => MessageReaders.ReadResponse((ApiKey)spec.ApiKey!.Value, ref reader, v),
                        _ => Schemas.ReaderOf(type)(ref reader, v),
                    };
                    Assert.IsType(type, decoded);
                    Assert.True(reader.End, "bytes left over");
                    Assert.Equal(bytes, Schemas.Encode(decoded, v));
                }
                catch (Exception e)
                {
                    missing.Add($"{spec.Name} v{v}: {e.Message}");
                }
            }
            var instance = (IKafkaMessage)Activator.CreateInstance(type)!;
            Assert.Throws<KafkaEncodeException>(() => Schemas.Encode(instance, (short)(spec.ValidVersions.High + 1)));
            Assert.Throws<KafkaEncodeException>(() => Schemas.Encode(instance, (short)(spec.ValidVersions.Low - 1)));
        }
        Assert.True(missing.Count == 0, string.Join("\n", missing.Take(30)));
    }
}
