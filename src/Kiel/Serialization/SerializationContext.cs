namespace Kiel;

/// <summary>Which part of a record is being (de)serialized.</summary>
public enum RecordComponent
{
    /// <summary>The record key.</summary>
    Key,
    /// <summary>The record value.</summary>
    Value,
}

/// <summary>Where a (de)serializer is being used: the topic, the partition when known, and which part of the record.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Component">Key or value.</param>
/// <param name="Partition">The partition, or -1 when not yet known (producing).</param>
/// <param name="Offset">The offset, or -1 when not known (producing).</param>
public readonly record struct SerializationContext(string Topic, RecordComponent Component, int Partition = -1, long Offset = -1);

/// <summary>Turns a value into bytes. Null values are handled by the caller (they become null on the wire).</summary>
/// <typeparam name="T">The value type.</typeparam>
public interface ISerializer<in T>
{
    /// <summary>Writes <paramref name="value"/> (never null) into <paramref name="output"/>.</summary>
    void Serialize(T value, System.Buffers.IBufferWriter<byte> output, in SerializationContext context);
}

/// <summary>Turns bytes into a value.</summary>
/// <typeparam name="T">The value type.</typeparam>
public interface IDeserializer<out T>
{
    /// <summary>Reads a value. <paramref name="isNull"/> is true for a null key or value on the wire (then <paramref name="data"/> is empty).</summary>
    T Deserialize(ReadOnlySpan<byte> data, bool isNull, in SerializationContext context);
}
