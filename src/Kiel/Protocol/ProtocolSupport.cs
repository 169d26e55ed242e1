using System.Runtime.CompilerServices;

namespace Kiel.Protocol;

/// <summary>
/// The codec steps that generated messages share. Keeping them here, rather than inlined per field, keeps the
/// generated code small enough to compile quickly and makes every hostile-input check live in one place.
/// </summary>
internal static class ProtocolSupport
{
    // ---------- writing ----------

    public static KafkaEncodeException UnsupportedVersion(string message, short version, short low, short high) =>
        new(message, version, null, $"the version is outside the range {low}-{high} that the message defines");

    public static KafkaEncodeException NonDefault(string message, string field, short version) =>
        new(message, version, field, "the field holds a non-default value but does not exist at this version");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static KafkaEncodeException NullNotAllowed(string field, short version) =>
        new(null, version, field, "null is not allowed at this version");

    public static void WriteString(ref KafkaWriter writer, string? value, bool compact, bool nullable, string field, short version)
    {
        if (value is null && !nullable) throw NullNotAllowed(field, version);
        writer.WriteString(value, compact);
    }

    public static void WriteBytes(ref KafkaWriter writer, ReadOnlyMemory<byte>? value, bool compact, bool nullable, string field, short version)
    {
        if (value is null && !nullable) throw NullNotAllowed(field, version);
        writer.WriteNullableBytes(value, compact);
    }

    /// <summary>Writes a null marker, and returns false, when <paramref name="list"/> is null.</summary>
    private static bool WriteCount<T>(ref KafkaWriter writer, List<T>? list, bool compact, bool nullable, string field, short version)
    {
        if (list is null)
        {
            if (!nullable) throw NullNotAllowed(field, version);
            writer.WriteArrayLength(-1, compact);
            return false;
        }
        writer.WriteArrayLength(list.Count, compact);
        return true;
    }

    public static void WriteStructs<T>(ref KafkaWriter writer, List<T>? list, bool compact, bool nullable, string field, short version)
        where T : class, IProtocolStruct<T>
    {
        if (!WriteCount(ref writer, list, compact, nullable, field, version)) return;
        foreach (var item in list!)
        {
            if (item is null) throw NullNotAllowed(field + "[]", version);
            item.Write(ref writer, version);
        }
    }

    public static void WriteStruct<T>(ref KafkaWriter writer, T? value, string field, short version)
        where T : class, IProtocolStruct<T>
    {
        if (value is null) throw NullNotAllowed(field, version);
        value.Write(ref writer, version);
    }

    public static void WriteNullableStruct<T>(ref KafkaWriter writer, T? value, bool nullable, string field, short version)
        where T : class, IProtocolStruct<T>
    {
        if (nullable)
        {
            // Nullable structs carry an int8 marker: -1 null, 1 present.
            writer.WriteInt8(value is null ? (sbyte)-1 : (sbyte)1);
            value?.Write(ref writer, version);
            return;
        }
        WriteStruct(ref writer, value, field, version);
    }

    public static void WriteInt8s(ref KafkaWriter writer, List<sbyte>? list, bool compact, bool nullable, string field, short version)
    {
        if (!WriteCount(ref writer, list, compact, nullable, field, version)) return;
        foreach (var x in list!) writer.WriteInt8(x);
    }

    public static void WriteInt16s(ref KafkaWriter writer, List<short>? list, bool compact, bool nullable, string field, short version)
    {
        if (!WriteCount(ref writer, list, compact, nullable, field, version)) return;
        foreach (var x in list!) writer.WriteInt16(x);
    }

    public static void WriteInt32s(ref KafkaWriter writer, List<int>? list, bool compact, bool nullable, string field, short version)
    {
        if (!WriteCount(ref writer, list, compact, nullable, field, version)) return;
        foreach (var x in list!) writer.WriteInt32(x);
    }

    public static void WriteInt64s(ref KafkaWriter writer, List<long>? list, bool compact, bool nullable, string field, short version)
    {
        if (!WriteCount(ref writer, list, compact, nullable, field, version)) return;
        foreach (var x in list!) writer.WriteInt64(x);
    }

    public static void WriteUuids(ref KafkaWriter writer, List<Guid>? list, bool compact, bool nullable, string field, short version)
    {
        if (!WriteCount(ref writer, list, compact, nullable, field, version)) return;
        foreach (var x in list!) writer.WriteUuid(x);
    }

    public static void WriteStrings(ref KafkaWriter writer, List<string>? list, bool compact, bool nullable, string field, short version)
    {
        if (!WriteCount(ref writer, list, compact, nullable, field, version)) return;
        foreach (var x in list!) WriteString(ref writer, x, compact, false, field + "[]", version);
    }

    /// <summary>Writes a tagged section holding only the unknown fields (a struct with no known tags).</summary>
    public static void WriteTaggedFields(ref KafkaWriter writer, List<TaggedField>? unknown)
    {
        writer.WriteUnsignedVarInt((uint)(unknown?.Count ?? 0));
        if (unknown is null) return;
        foreach (var t in unknown) WriteTag(ref writer, t.Tag, t.Value.Span);
    }

    /// <summary>Writes the unknown fields whose tag is below <paramref name="limit"/>, so tags stay in ascending order.</summary>
    public static void WriteUnknownTagsBefore(ref KafkaWriter writer, List<TaggedField>? unknown, ref int index, uint limit)
    {
        if (unknown is null) return;
        while (index < unknown.Count && (unknown[index].Tag < limit || limit == uint.MaxValue))
        {
            var t = unknown[index++];
            WriteTag(ref writer, t.Tag, t.Value.Span);
        }
    }

    public static void WriteTag(ref KafkaWriter writer, uint tag, ReadOnlySpan<byte> value)
    {
        writer.WriteUnsignedVarInt(tag);
        writer.WriteUnsignedVarInt((uint)value.Length);
        writer.WriteRaw(value);
    }

    // ---------- reading ----------

    public static void FailVersion(ref KafkaReader reader, short low, short high) =>
        reader.Fail($"version {reader.Version} is outside the range {low}-{high} that the message defines");

    public static string? ReadString(ref KafkaReader reader, bool compact, bool nullable) =>
        nullable ? reader.ReadNullableString(compact) : reader.ReadString(compact);

    public static ReadOnlyMemory<byte>? ReadBytes(ref KafkaReader reader, bool compact, bool nullable) =>
        nullable ? reader.ReadNullableBytes(compact) : reader.ReadBytes(compact);

    /// <summary>Reads an array count; -1 means null, which is refused where the field is not nullable.</summary>
    private static int ReadCount(ref KafkaReader reader, bool compact, bool nullable, int minElementSize)
    {
        var count = reader.ReadArrayLength(compact, minElementSize);
        if (count < 0 && !nullable) reader.Fail("null array where the field is not nullable");
        return count;
    }

    public static List<T>? ReadStructs<T>(ref KafkaReader reader, bool compact, bool nullable, int minElementSize, short version)
        where T : class, IProtocolStruct<T>
    {
        var count = ReadCount(ref reader, compact, nullable, minElementSize);
        if (count < 0) return null;
        var field = reader.Field;
        var list = new List<T>(count);
        for (var i = 0; i < count; i++)
        {
            list.Add(T.Read(ref reader, version));
            reader.Field = field;
        }
        return list;
    }

    public static T ReadStruct<T>(ref KafkaReader reader, short version) where T : class, IProtocolStruct<T> =>
        T.Read(ref reader, version);

    public static T? ReadNullableStruct<T>(ref KafkaReader reader, bool nullable, short version)
        where T : class, IProtocolStruct<T>
    {
        if (nullable && reader.ReadInt8() < 0) return null;
        return T.Read(ref reader, version);
    }

    public static List<sbyte>? ReadInt8s(ref KafkaReader reader, bool compact, bool nullable)
    {
        var count = ReadCount(ref reader, compact, nullable, 1);
        if (count < 0) return null;
        var list = new List<sbyte>(count);
        for (var i = 0; i < count; i++) list.Add(reader.ReadInt8());
        return list;
    }

    public static List<short>? ReadInt16s(ref KafkaReader reader, bool compact, bool nullable)
    {
        var count = ReadCount(ref reader, compact, nullable, 2);
        if (count < 0) return null;
        var list = new List<short>(count);
        for (var i = 0; i < count; i++) list.Add(reader.ReadInt16());
        return list;
    }

    public static List<int>? ReadInt32s(ref KafkaReader reader, bool compact, bool nullable)
    {
        var count = ReadCount(ref reader, compact, nullable, 4);
        if (count < 0) return null;
        var list = new List<int>(count);
        for (var i = 0; i < count; i++) list.Add(reader.ReadInt32());
        return list;
    }

    public static List<long>? ReadInt64s(ref KafkaReader reader, bool compact, bool nullable)
    {
        var count = ReadCount(ref reader, compact, nullable, 8);
        if (count < 0) return null;
        var list = new List<long>(count);
        for (var i = 0; i < count; i++) list.Add(reader.ReadInt64());
        return list;
    }

    public static List<Guid>? ReadUuids(ref KafkaReader reader, bool compact, bool nullable)
    {
        var count = ReadCount(ref reader, compact, nullable, 16);
        if (count < 0) return null;
        var list = new List<Guid>(count);
        for (var i = 0; i < count; i++) list.Add(reader.ReadUuid());
        return list;
    }

    public static List<string>? ReadStrings(ref KafkaReader reader, bool compact, bool nullable)
    {
        var count = ReadCount(ref reader, compact, nullable, compact ? 1 : 2);
        if (count < 0) return null;
        var list = new List<string>(count);
        for (var i = 0; i < count; i++) list.Add(reader.ReadString(compact));
        return list;
    }

    /// <summary>Skips a tagged section whose fields the caller does not need, checking its count and sizes as
    /// <see cref="ReadTaggedFields"/> does, without keeping them.</summary>
    public static void SkipTaggedFields(ref KafkaReader reader)
    {
        var field = reader.Field;
        reader.Field = "(tagged fields)";
        var count = reader.ReadTaggedFieldCount();
        for (var i = 0; i < count; i++)
        {
            reader.ReadUnsignedVarInt();
            reader.Skip(ReadTagSize(ref reader));
        }
        reader.Field = field;
    }

    /// <summary>Reads a tagged section where no tag is known: every field is kept raw.</summary>
    public static List<TaggedField>? ReadTaggedFields(ref KafkaReader reader)
    {
        var field = reader.Field;
        reader.Field = "(tagged fields)";
        var count = reader.ReadTaggedFieldCount();
        List<TaggedField>? result = null;
        for (var i = 0; i < count; i++)
        {
            var tag = reader.ReadUnsignedVarInt();
            var size = ReadTagSize(ref reader);
            (result ??= new List<TaggedField>(Math.Min(count, 16))).Add(new TaggedField(tag, reader.ReadTaggedFieldValue(size)));
        }
        reader.Field = field;
        return result;
    }

    public static int ReadTagSize(ref KafkaReader reader)
    {
        var size = reader.ReadUnsignedVarInt();
        if (size > (uint)reader.Remaining) reader.Fail($"tagged field size {size} exceeds the {reader.Remaining} remaining byte(s)");
        return (int)size;
    }

    /// <summary>A known tagged field must fill exactly the size its header gave.</summary>
    public static void EndTag(ref KafkaReader tagReader)
    {
        if (!tagReader.End) tagReader.Fail($"tagged field has {tagReader.Remaining} byte(s) left over after its value");
    }
}
