using System.Globalization;
using System.Text.Json;

namespace Kiel.ProtocolGen;

/// <summary>An inclusive version range as written in the schemas ("3+", "0-4", "7", "none").</summary>
public readonly record struct Versions(short Low, short High)
{
    public static readonly Versions None = new(1, 0);
    public static readonly Versions All = new(0, short.MaxValue);

    public bool IsEmpty => Low > High;

    public bool Contains(int v) => v >= Low && v <= High;

    public Versions Intersect(Versions other)
    {
        if (IsEmpty || other.IsEmpty) return None;
        var r = new Versions(Math.Max(Low, other.Low), Math.Min(High, other.High));
        return r.IsEmpty ? None : r;
    }

    /// <summary>True when this range holds every version in <paramref name="other"/>.</summary>
    public bool Covers(Versions other) => other.IsEmpty || (!IsEmpty && Low <= other.Low && High >= other.High);

    public static Versions Parse(string? text, Versions ifMissing)
    {
        if (text is null) return ifMissing;
        text = text.Trim();
        if (text == "none") return None;
        if (text.EndsWith('+')) return new(short.Parse(text[..^1], CultureInfo.InvariantCulture), short.MaxValue);
        var dash = text.IndexOf('-');
        if (dash > 0)
            return new(short.Parse(text[..dash], CultureInfo.InvariantCulture), short.Parse(text[(dash + 1)..], CultureInfo.InvariantCulture));
        var v = short.Parse(text, CultureInfo.InvariantCulture);
        return new(v, v);
    }

    public override string ToString() => IsEmpty ? "none" : High == short.MaxValue ? $"{Low}+" : Low == High ? $"{Low}" : $"{Low}-{High}";
}

/// <summary>The wire type of a field.</summary>
public sealed record FieldType(string Name, bool IsArray, FieldType? Element)
{
    public static readonly HashSet<string> Primitives =
        ["bool", "int8", "int16", "uint16", "uint32", "int32", "int64", "float64", "uuid", "string", "bytes", "records"];

    public bool IsStruct => !IsArray && !Primitives.Contains(Name);
    public bool IsPrimitive => !IsArray && Primitives.Contains(Name);
    public bool IsString => Name == "string" && !IsArray;
    public bool IsBytes => (Name == "bytes" || Name == "records") && !IsArray;
    public bool IsRecords => Name == "records" && !IsArray;

    /// <summary>Fixed-size numeric types (and bool, uuid).</summary>
    public bool IsFixed => IsPrimitive && !IsString && !IsBytes;

    public static FieldType Parse(string text) =>
        text.StartsWith("[]", StringComparison.Ordinal)
            ? new FieldType(text, true, Parse(text[2..]))
            : new FieldType(text, false, null);
}

public sealed class FieldSpec
{
    public required string Name { get; init; }
    public required FieldType Type { get; init; }
    public required Versions Versions { get; init; }
    public required Versions NullableVersions { get; init; }
    public Versions TaggedVersions { get; init; } = Versions.None;
    public int? Tag { get; init; }
    public bool Ignorable { get; init; }
    public string? Default { get; init; }
    public string? About { get; init; }
    /// <summary>Field-level flexible override (only ClientId in RequestHeader uses it).</summary>
    public Versions? FlexibleVersions { get; init; }
    /// <summary>For struct or array-of-struct fields: the struct (inline or common).</summary>
    public StructSpec? Struct { get; set; }

    public bool IsTagged => Tag.HasValue;
}

public sealed class StructSpec
{
    public required string SchemaName { get; init; }
    /// <summary>The C# type name (the schema name, renamed when it would clash).</summary>
    public string TypeName { get; set; } = "";
    public required List<FieldSpec> Fields { get; init; }
    /// <summary>Versions in which this struct can appear (union of the versions of the fields that use it).</summary>
    public Versions Versions { get; set; } = Versions.None;
    public bool IsTop { get; init; }
    /// <summary>Used as a single (non-array) field: needs an IsDefault check.</summary>
    public bool NeedsIsDefault { get; set; }
}

public sealed class MessageSpec
{
    public required string FileName { get; init; }
    public required string Name { get; init; }
    public required string Type { get; init; }
    public short? ApiKey { get; init; }
    public required Versions ValidVersions { get; init; }
    public required Versions FlexibleVersions { get; init; }
    public bool LatestVersionUnstable { get; init; }
    public List<string> Listeners { get; init; } = [];
    public required StructSpec Top { get; init; }
    /// <summary>Every struct of this message except the top level, in declaration order.</summary>
    public List<StructSpec> Structs { get; } = [];

    public static MessageSpec Load(string path)
    {
        var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        using var doc = JsonDocument.Parse(File.ReadAllText(path), options);
        var root = doc.RootElement;
        var name = root.GetProperty("name").GetString()!;
        var valid = Versions.Parse(Str(root, "validVersions"), Versions.None);
        var msg = new MessageSpec
        {
            FileName = Path.GetFileName(path),
            Name = name,
            Type = root.GetProperty("type").GetString()!,
            ApiKey = root.TryGetProperty("apiKey", out var k) ? (k.ValueKind == JsonValueKind.String ? short.Parse(k.GetString()!, CultureInfo.InvariantCulture) : k.GetInt16()) : null,
            ValidVersions = valid,
            FlexibleVersions = Versions.Parse(Str(root, "flexibleVersions"), Versions.None),
            LatestVersionUnstable = root.TryGetProperty("latestVersionUnstable", out var u) && u.ValueKind == JsonValueKind.True,
            Listeners = root.TryGetProperty("listeners", out var l) ? l.EnumerateArray().Select(e => e.GetString()!).ToList() : [],
            Top = new StructSpec { SchemaName = name, TypeName = name, Fields = [], IsTop = true, Versions = valid },
        };

        var common = new Dictionary<string, StructSpec>(StringComparer.Ordinal);
        if (root.TryGetProperty("commonStructs", out var cs))
        {
            foreach (var c in cs.EnumerateArray())
            {
                var s = new StructSpec { SchemaName = c.GetProperty("name").GetString()!, Fields = [] };
                common.Add(s.SchemaName, s);
            }
            foreach (var c in cs.EnumerateArray())
            {
                var s = common[c.GetProperty("name").GetString()!];
                msg.Structs.Add(s);
                if (c.TryGetProperty("fields", out var cf))
                    foreach (var f in cf.EnumerateArray()) s.Fields.Add(ParseField(f, msg, common));
            }
        }
        if (root.TryGetProperty("fields", out var fields))
            foreach (var f in fields.EnumerateArray()) msg.Top.Fields.Add(ParseField(f, msg, common));

        // Resolve references to common structs, now that all are known.
        void Resolve(StructSpec s)
        {
            foreach (var f in s.Fields)
            {
                var t = f.Type.IsArray ? f.Type.Element! : f.Type;
                if (t.IsStruct && f.Struct is null)
                    f.Struct = common.TryGetValue(t.Name, out var c)
                        ? c
                        : throw new InvalidDataException($"{msg.FileName}: field {f.Name} has unknown type {t.Name}");
            }
        }
        Resolve(msg.Top);
        foreach (var s in msg.Structs) Resolve(s);

        // Versions in which each struct can occur, propagated from the top.
        void Propagate(StructSpec s, Versions within)
        {
            foreach (var f in s.Fields)
            {
                if (f.Struct is null) continue;
                var v = f.Versions.Intersect(within);
                if (v.IsEmpty) continue;
                var before = f.Struct.Versions;
                var merged = before.IsEmpty ? v : new Versions(Math.Min(before.Low, v.Low), Math.Max(before.High, v.High));
                if (!f.Type.IsArray) f.Struct.NeedsIsDefault = true;
                if (merged != before)
                {
                    f.Struct.Versions = merged;
                    Propagate(f.Struct, merged);
                }
            }
        }
        Propagate(msg.Top, valid);
        foreach (var s in msg.Structs.Where(s => s.Versions.IsEmpty)) s.Versions = valid; // unused common structs

        // A struct used as a single field (IsDefault) needs the check in its single-struct children too.
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var s in msg.Structs.Where(s => s.NeedsIsDefault))
                foreach (var f in s.Fields)
                    if (f.Struct is { NeedsIsDefault: false } c && !f.Type.IsArray) { c.NeedsIsDefault = true; changed = true; }
        }

        // C# forbids a nested type named like a member of its container or like one of its own members.
        var topNames = new HashSet<string>(msg.Top.Fields.Select(f => f.Name), StringComparer.Ordinal) { name, "ApiKey", "Write", "Read" };
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in msg.Structs)
        {
            var n = s.SchemaName;
            while (topNames.Contains(n) || s.Fields.Any(f => f.Name == n) || used.Contains(n)) n += "Data";
            s.TypeName = n;
            used.Add(n);
        }
        return msg;
    }

    private static FieldSpec ParseField(JsonElement e, MessageSpec msg, Dictionary<string, StructSpec> common)
    {
        var type = FieldType.Parse(e.GetProperty("type").GetString()!);
        var f = new FieldSpec
        {
            Name = e.GetProperty("name").GetString()!,
            Type = type,
            Versions = Versions.Parse(Str(e, "versions"), Versions.None),
            NullableVersions = Versions.Parse(Str(e, "nullableVersions"), Versions.None),
            TaggedVersions = Versions.Parse(Str(e, "taggedVersions"), Versions.None),
            Tag = e.TryGetProperty("tag", out var tag) ? (tag.ValueKind == JsonValueKind.String ? int.Parse(tag.GetString()!, CultureInfo.InvariantCulture) : tag.GetInt32()) : null,
            Ignorable = e.TryGetProperty("ignorable", out var ig) && ig.ValueKind == JsonValueKind.True,
            Default = e.TryGetProperty("default", out var d)
                ? d.ValueKind switch
                {
                    JsonValueKind.String => d.GetString(),
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    _ => d.GetRawText(),
                }
                : null,
            About = Str(e, "about"),
            FlexibleVersions = e.TryGetProperty("flexibleVersions", out var fv) ? Versions.Parse(fv.GetString(), Versions.None) : null,
        };
        if (f.IsTagged && f.TaggedVersions.IsEmpty) throw new InvalidDataException($"{msg.FileName}: tagged field {f.Name} without taggedVersions");
        // Upstream writes a varint presence marker for these; no schema has one yet, so refuse rather than guess.
        if (f.IsTagged && !type.IsArray && !f.NullableVersions.IsEmpty && !FieldType.Primitives.Contains(type.Name))
            throw new InvalidDataException($"{msg.FileName}: tagged nullable struct {f.Name} is not supported by the generator yet");
        if (f.IsTagged && type.IsRecords) throw new InvalidDataException($"{msg.FileName}: records field {f.Name} cannot be tagged");
        if (e.TryGetProperty("fields", out var inner))
        {
            var elem = type.IsArray ? type.Element! : type;
            var s = new StructSpec { SchemaName = elem.Name, Fields = [] };
            msg.Structs.Add(s);
            foreach (var x in inner.EnumerateArray()) s.Fields.Add(ParseField(x, msg, common));
            f.Struct = s;
        }
        return f;
    }

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var p) ? p.GetString() : null;
}
