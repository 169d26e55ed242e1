using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Kiel;

/// <summary>Ready-made serializers.</summary>
public static class Serializers
{
    /// <summary>UTF-8 text.</summary>
    public static ISerializer<string> Utf8 { get; } = new Utf8Serializer();

    /// <summary>Raw bytes, unchanged.</summary>
    public static ISerializer<byte[]> Bytes { get; } = new BytesSerializer();

    /// <summary>Raw bytes from memory, unchanged.</summary>
    public static ISerializer<ReadOnlyMemory<byte>> Memory { get; } = new MemorySerializer();

    /// <summary>JSON with System.Text.Json (kiel's default serializer was <c>json.dumps</c>).</summary>
    public static ISerializer<T> Json<T>(JsonSerializerOptions? options = null) => new JsonSerializer<T>(options);

    private sealed class Utf8Serializer : ISerializer<string>
    {
        public void Serialize(string value, IBufferWriter<byte> output, in SerializationContext context)
        {
            var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(value.Length));
            output.Advance(Encoding.UTF8.GetBytes(value, span));
        }
    }

    private sealed class BytesSerializer : ISerializer<byte[]>
    {
        public void Serialize(byte[] value, IBufferWriter<byte> output, in SerializationContext context) => output.Write(value);
    }

    private sealed class MemorySerializer : ISerializer<ReadOnlyMemory<byte>>
    {
        public void Serialize(ReadOnlyMemory<byte> value, IBufferWriter<byte> output, in SerializationContext context) => output.Write(value.Span);
    }

    private sealed class JsonSerializer<T>(JsonSerializerOptions? options) : ISerializer<T>
    {
        public void Serialize(T value, IBufferWriter<byte> output, in SerializationContext context)
        {
            using var writer = new Utf8JsonWriter(output);
            JsonSerializer.Serialize(writer, value, options);
        }
    }
}
