using System.Buffers.Binary;

namespace Kiel.Protocol.Records;

/// <summary>Reads the key and value of control records (transaction markers).</summary>
internal static class ControlRecord
{
    /// <summary>The size of a control key: version int16 and type int16.</summary>
    public const int KeySize = 4;

    /// <summary>The size of an end-transaction marker value: version int16 and coordinator epoch int32.</summary>
    public const int EndTransactionMarkerSize = 6;

    /// <summary>Reads the type from a control record's key. Unknown types are returned as they are, to be skipped.</summary>
    public static ControlRecordType ReadType(ReadOnlySpan<byte> key)
    {
        if (key.Length < KeySize)
            throw new KafkaProtocolException("ControlRecord", -1, "Key", $"a control key needs {KeySize} bytes but has {key.Length}");
        var version = BinaryPrimitives.ReadInt16BigEndian(key);
        if (version < 0) throw new KafkaProtocolException("ControlRecord", version, "Key.Version", "negative control key version");
        return (ControlRecordType)BinaryPrimitives.ReadInt16BigEndian(key[2..]);
    }

    /// <summary>Reads the coordinator epoch from an ABORT or COMMIT marker's value.</summary>
    public static int ReadCoordinatorEpoch(ReadOnlySpan<byte> value)
    {
        if (value.Length < EndTransactionMarkerSize)
            throw new KafkaProtocolException("EndTransactionMarker", -1, "Value", $"a transaction marker needs {EndTransactionMarkerSize} bytes but has {value.Length}");
        return BinaryPrimitives.ReadInt32BigEndian(value[2..]);
    }

    /// <summary>Writes a control key (version 0).</summary>
    public static void WriteKey(Span<byte> destination, ControlRecordType type)
    {
        BinaryPrimitives.WriteInt16BigEndian(destination, 0);
        BinaryPrimitives.WriteInt16BigEndian(destination[2..], (short)type);
    }

    /// <summary>Writes an end-transaction marker value (version 0).</summary>
    public static void WriteEndTransactionMarker(Span<byte> destination, int coordinatorEpoch)
    {
        BinaryPrimitives.WriteInt16BigEndian(destination, 0);
        BinaryPrimitives.WriteInt32BigEndian(destination[2..], coordinatorEpoch);
    }
}
