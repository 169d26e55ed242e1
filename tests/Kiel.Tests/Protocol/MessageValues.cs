using System.Collections;
using System.Reflection;
using Kiel.Protocol;
using Kiel.ProtocolGen;

namespace Kiel.Tests.Protocol;

/// <summary>Builds messages holding random values that fit the schema at one version (seeded, so failures repeat).</summary>
internal sealed class MessageValues(int seed)
{
    private readonly Random _rng = new(seed);

    public IKafkaMessage Create(MessageSpec spec, short version, bool unknownTags = true) =>
        (IKafkaMessage)CreateStruct(spec, spec.Top, Schemas.TypeOf(spec), version, 0, unknownTags);

    private object CreateStruct(MessageSpec spec, StructSpec s, Type type, short v, int depth, bool unknownTags)
    {
        var o = Activator.CreateInstance(type)!;
        var flexible = spec.FlexibleVersions.Contains(v);
        foreach (var f in s.Fields)
        {
            if (!f.Versions.Contains(v)) continue;
            if (f.IsTagged && !(flexible && f.TaggedVersions.Contains(v))) continue;
            if (_rng.Next(8) == 0) continue; // sometimes keep the default
            var p = type.GetProperty(f.Name)!;
            p.SetValue(o, Value(spec, f, p.PropertyType, v, depth, unknownTags));
        }
        if (flexible && unknownTags && _rng.Next(3) == 0)
        {
            var known = s.Fields.Where(f => f.Tag.HasValue).Select(f => f.Tag!.Value).DefaultIfEmpty(-1).Max();
            var list = new List<TaggedField>();
            var tag = (uint)(known + 1 + _rng.Next(3));
            for (var i = _rng.Next(1, 3); i > 0; i--)
            {
                list.Add(new TaggedField(tag, RandomBytes(6)));
                tag += (uint)_rng.Next(1, 1000);
            }
            type.GetProperty("UnknownTaggedFields")!.SetValue(o, list);
        }
        return o;
    }

    private object? Value(MessageSpec spec, FieldSpec f, Type propertyType, short v, int depth, bool unknownTags)
    {
        if (f.NullableVersions.Contains(v) && _rng.Next(5) == 0) return null;
        if (f.Type.IsArray)
        {
            var list = (IList)Activator.CreateInstance(propertyType)!;
            var elementType = propertyType.GetGenericArguments()[0];
            var count = _rng.Next(depth >= 2 ? 2 : 4);
            for (var i = 0; i < count; i++)
                list.Add(f.Struct is not null
                    ? CreateStruct(spec, f.Struct, elementType, v, depth + 1, unknownTags)
                    : Scalar(f.Type.Element!.Name));
            return list;
        }
        if (f.Struct is not null) return CreateStruct(spec, f.Struct, propertyType, v, depth + 1, unknownTags);
        return Scalar(f.Type.Name);
    }

    private static readonly string[] Words = ["", "a", "topic-1", "kiel", "ü", "日本", "x y", "__consumer_offsets"];

    private object Scalar(string type) => type switch
    {
        "bool" => _rng.Next(2) == 1,
        "int8" => (sbyte)_rng.Next(sbyte.MinValue, sbyte.MaxValue + 1),
        "int16" => (short)_rng.Next(short.MinValue, short.MaxValue + 1),
        "uint16" => (ushort)_rng.Next(0, ushort.MaxValue + 1),
        "uint32" => (uint)_rng.NextInt64(0, uint.MaxValue + 1L),
        "int32" => Pick(_rng.Next(int.MinValue, int.MaxValue), -1, 0, int.MaxValue, int.MinValue),
        "int64" => Pick(_rng.NextInt64(long.MinValue, long.MaxValue), -1L, 0L, long.MaxValue),
        "float64" => Math.Round(_rng.NextDouble() * 1000 - 500, 3),
        "uuid" => new Guid(RandomBytes(16).Span),
        "string" => _rng.Next(3) == 0 ? Words[_rng.Next(Words.Length)] : RandomAscii(),
        "bytes" or "records" => RandomBytes(24),
        _ => throw new InvalidOperationException(type),
    };

    private T Pick<T>(T random, params T[] specials) => _rng.Next(4) == 0 ? specials[_rng.Next(specials.Length)] : random;

    private string RandomAscii()
    {
        var chars = new char[_rng.Next(0, 12)];
        for (var i = 0; i < chars.Length; i++) chars[i] = (char)_rng.Next(0x20, 0x7F);
        return new string(chars);
    }

    private ReadOnlyMemory<byte> RandomBytes(int max)
    {
        var b = new byte[max == 16 ? 16 : _rng.Next(0, max + 1)];
        _rng.NextBytes(b);
        return b;
    }
}

/// <summary>Structural comparison of generated messages (no generated Equals, to keep the generated code small).</summary>
internal static class DeepEqual
{
    public static void Assert(object? expected, object? actual, string path = "")
    {
        if (expected is null || actual is null)
        {
            if (!(expected is null && actual is null)) Fail(path, expected, actual);
            return;
        }
        switch (expected)
        {
            case ReadOnlyMemory<byte> m:
                if (actual is not ReadOnlyMemory<byte> am || !m.Span.SequenceEqual(am.Span)) Fail(path, expected, actual);
                return;
            case TaggedField t:
                var at = (TaggedField)actual;
                if (t.Tag != at.Tag || !t.Value.Span.SequenceEqual(at.Value.Span)) Fail(path, t.Tag, at.Tag);
                return;
            case string or bool or sbyte or short or ushort or int or uint or long or double or Guid:
                if (!expected.Equals(actual)) Fail(path, expected, actual);
                return;
            case IList le:
                var la = (IList)actual;
                if (le.Count != la.Count) Fail(path + ".Count", le.Count, la.Count);
                for (var i = 0; i < le.Count; i++) Assert(le[i], la[i], $"{path}[{i}]");
                return;
        }
        var type = expected.GetType();
        Xunit.Assert.Equal(type, actual.GetType());
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0 || p.Name == "ApiKey") continue;
            Assert(p.GetValue(expected), p.GetValue(actual), path + "." + p.Name);
        }
    }

    private static void Fail(string path, object? expected, object? actual) =>
        throw new Xunit.Sdk.XunitException($"Differs at {path}: expected {expected ?? "null"}, got {actual ?? "null"}");
}
