using System.Buffers.Binary;

namespace Kiel.Protocol.Records;

/// <summary>Edits to a finished magic-2 batch in place: the fields a producer or broker fills in after building.</summary>
internal static class RecordBatch
{
    /// <summary>Computes the CRC-32C of a batch, over Attributes to the end.</summary>
    public static uint ComputeCrc(ReadOnlySpan<byte> batch)
    {
        CheckBatch(batch);
        return Crc32C.Compute(batch[RecordBatchHeader.AttributesOffset..]);
    }

    /// <summary>Recomputes and stores the CRC after header fields covered by it were changed.</summary>
    public static void UpdateCrc(Span<byte> batch) =>
        BinaryPrimitives.WriteUInt32BigEndian(batch[RecordBatchHeader.CrcOffset..], ComputeCrc(batch));

    /// <summary>
    /// Sets the idempotent producer fields (and the transactional bit) and updates the CRC. A producer calls this when
    /// it learns its id and epoch, or re-sequences a batch after an epoch bump (KIP-360).
    /// </summary>
    public static void SetProducerState(Span<byte> batch, long producerId, short producerEpoch, int baseSequence, bool transactional = false)
    {
        CheckBatch(batch);
        BinaryPrimitives.WriteInt64BigEndian(batch[RecordBatchHeader.ProducerIdOffset..], producerId);
        BinaryPrimitives.WriteInt16BigEndian(batch[RecordBatchHeader.ProducerEpochOffset..], producerEpoch);
        BinaryPrimitives.WriteInt32BigEndian(batch[RecordBatchHeader.BaseSequenceOffset..], baseSequence);
        var attributes = BinaryPrimitives.ReadInt16BigEndian(batch[RecordBatchHeader.AttributesOffset..]);
        attributes = transactional
            ? (short)(attributes | RecordBatchHeader.TransactionalFlag)
            : (short)(attributes & ~RecordBatchHeader.TransactionalFlag);
        BinaryPrimitives.WriteInt16BigEndian(batch[RecordBatchHeader.AttributesOffset..], attributes);
        UpdateCrc(batch);
    }

    /// <summary>Sets the base offset, which the CRC does not cover.</summary>
    public static void SetBaseOffset(Span<byte> batch, long baseOffset)
    {
        CheckBatch(batch);
        BinaryPrimitives.WriteInt64BigEndian(batch, baseOffset);
    }

    /// <summary>Sets the partition leader epoch, which the CRC does not cover.</summary>
    public static void SetPartitionLeaderEpoch(Span<byte> batch, int epoch)
    {
        CheckBatch(batch);
        BinaryPrimitives.WriteInt32BigEndian(batch[RecordBatchHeader.PartitionLeaderEpochOffset..], epoch);
    }

    private static void CheckBatch(ReadOnlySpan<byte> batch)
    {
        if (batch.Length < RecordBatchHeader.Size || batch[RecordBatchHeader.MagicOffset] != 2)
            throw new ArgumentException("Not a magic-2 record batch.", nameof(batch));
    }
}
