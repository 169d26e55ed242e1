using System.Text;
using System.Text.Json;

namespace Kiel;

/// <summary>Ready-made deserializers.</summary>
public static class Deserializers
{
    /// <summary>UTF-8 text; a null value gives null.</summary>
    public static IDeserializer<string?> Utf8 { get; } = new Utf8Deserializer();

    /// <summary>A copy of the raw bytes; a null value gives null.</summary>
    public static IDeserializer<byte[]?> Bytes { get; } = new BytesDeserializer();

    /// <summary>Kiel's default, as kiel's <c>json.loads</c>: the value parsed as a JSON document. A null value gives a JSON null.</summary>
    public static IDeserializer<JsonElement> JsonElement { get; } = new JsonElementDeserializer();

    /// <summary>JSON into <typeparamref name="T"/> with System.Text.Json; a null value gives default.</summary>
    public static IDeserializer<T?> Json<T>(JsonSerializerOptions? options = null) => new JsonDeserializer<T>(options);

    /// <summary>Ignores the bytes and gives default; for keys a consumer does not need.</summary>
    public static IDeserializer<T?> Ignore<T>() => IgnoreDeserializer<T>.Instance;

    private static readonly JsonElement JsonNull = JsonDocument.Parse("null").RootElement.Clone();

    private sealed class Utf8Deserializer : IDeserializer<string?>
    {
        public string? Deserialize(ReadOnlySpan<byte> data, bool isNull, in SerializationContext context) => isNull ? null : Encoding.UTF8.GetString(data);
    }

    private sealed class BytesDeserializer : IDeserializer<byte[]?>
    {
        public byte[]? Deserialize(ReadOnlySpan<byte> data, bool isNull, in SerializationContext context) => isNull ? null : ByteArrays.CopyOf(data);
    }

    private sealed class JsonElementDeserializer : IDeserializer<JsonElement>
    {
        public JsonElement Deserialize(ReadOnlySpan<byte> data, bool isNull, in SerializationContext context)
        {
            if (isNull) return JsonNull;
            var reader = new Utf8JsonReader(data);
            return System.Text.Json.JsonElement.ParseValue(ref reader);
        }
    }

    private sealed class JsonDeserializer<T>(JsonSerializerOptions? options) : IDeserializer<T?>
    {
        public T? Deserialize(ReadOnlySpan<byte> data, bool isNull, in SerializationContext context)
            => isNull ? default : JsonSerializer.Deserialize<T>(data, options);
    }

    private sealed class IgnoreDeserializer<T> : IDeserializer<T?>
    {
        public static readonly IgnoreDeserializer<T> Instance = new();

        public T? Deserialize(ReadOnlySpan<byte> data, bool isNull, in SerializationContext context) => default;
    }
}
