using Kiel.Protocol;
using Kiel.ProtocolGen;

namespace Kiel.Tests.Protocol;

/// <summary>Every message at every version: random values → encode → decode → equal values and identical re-encoding.</summary>
public class RoundTripTests
{
    public static TheoryData<string> MessageNames()
    {
        var data = new TheoryData<string>();
        foreach (var spec in Schemas.Specs) data.Add(spec.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void EveryVersionRoundTripsWithRandomValues(string name)
    {
        var spec = Schemas.Spec(name);
        var type = Schemas.TypeOf(spec);
        foreach (var version in Schemas.VersionsOf(spec))
        {
            for (var seed = 0; seed < 25; seed++)
            {
                var original = new MessageValues(seed * 7919 + version).Create(spec, version);
                var bytes = Schemas.Encode(original, version);
                var decoded = Schemas.Decode(type, bytes, version, out var remaining);
                var context = $"{name} v{version} seed {seed}";
                Assert.True(remaining == 0, $"{context}: {remaining} byte(s) left unread");
                try
                {
                    DeepEqual.Assert(original, decoded);
                }
                catch (Exception e)
                {
                    throw new Xunit.Sdk.XunitException($"{context}: {e.Message}");
                }
                Assert.True(bytes.AsSpan().SequenceEqual(Schemas.Encode(decoded, version)), $"{context}: re-encoding differs");

                // Decoding from a plain span (copies instead of slices) gives the same message.
                var spanReader = new KafkaReader(bytes.AsSpan());
                var fromSpan = Schemas.ReaderOf(type)(ref spanReader, version);
                Assert.True(spanReader.End);
                Assert.True(bytes.AsSpan().SequenceEqual(Schemas.Encode(fromSpan, version)), $"{context}: span decoding differs");
            }
        }
    }

    [Fact]
    public void UnknownTaggedFieldsSurviveARoundTripAtEveryFlexibleVersion()
    {
        var checkedAny = 0;
        foreach (var spec in Schemas.Specs.Where(s => !s.FlexibleVersions.IsEmpty))
        {
            var type = Schemas.TypeOf(spec);
            var version = spec.ValidVersions.High;
            var message = (IKafkaMessage)Activator.CreateInstance(type)!;
            var unknown = new List<TaggedField> { new(90, new byte[] { 1, 2, 3 }), new(70000, ReadOnlyMemory<byte>.Empty) };
            type.GetProperty("UnknownTaggedFields")!.SetValue(message, unknown);
            var bytes = Schemas.Encode(message, version);
            var decoded = Schemas.Decode(type, bytes, version, out _);
            DeepEqual.Assert(unknown, type.GetProperty("UnknownTaggedFields")!.GetValue(decoded));
            Assert.Equal(bytes, Schemas.Encode(decoded, version));
            checkedAny++;
        }
        Assert.True(checkedAny > 150);
    }
}
