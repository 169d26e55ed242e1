using System.Buffers.Binary;
using Kiel.Protocol.Compression;

namespace Kiel.Protocol.Records;

/// <summary>
/// The 61-byte header of a record batch (magic 2), every field as it is on the wire. For a legacy (magic 0 or 1)
/// message the reader fills the fields that have a meaning there and leaves the producer fields at -1.
/// </summary>
internal readonly record struct RecordBatchHeader
{
    /// <summary>The size of a magic-2 batch header.</summary>
    public const int Size = 61;

    /// <summary>The bytes before BatchLength's end: BaseOffset int64 and BatchLength int32.</summary>
    public const int LogOverhead = 12;

    /// <summary>The position of BatchLength (a legacy entry's MessageSize).</summary>
    public const int BatchLengthOffset = 8;

    /// <summary>The position of the partition leader epoch (a legacy message's CRC-32).</summary>
    public const int PartitionLeaderEpochOffset = 12;

    /// <summary>The position of the magic byte, the same in every format.</summary>
    public const int MagicOffset = 16;

    /// <summary>The position of the CRC.</summary>
    public const int CrcOffset = 17;

    /// <summary>The position of the attributes, where the CRC's coverage starts.</summary>
    public const int AttributesOffset = 21;

    /// <summary>The position of LastOffsetDelta.</summary>
    public const int LastOffsetDeltaOffset = 23;

    /// <summary>The position of BaseTimestamp.</summary>
    public const int BaseTimestampOffset = 27;

    /// <summary>The position of MaxTimestamp.</summary>
    public const int MaxTimestampOffset = 35;

    /// <summary>The position of ProducerId.</summary>
    public const int ProducerIdOffset = 43;

    /// <summary>The position of ProducerEpoch.</summary>
    public const int ProducerEpochOffset = 51;

    /// <summary>The position of BaseSequence.</summary>
    public const int BaseSequenceOffset = 53;

    /// <summary>The position of the record count.</summary>
    public const int RecordCountOffset = 57;

    /// <summary>The smallest BatchLength of a magic-2 batch (the header after BatchLength).</summary>
    public const int MinBatchLength = Size - LogOverhead;

    /// <summary>A legacy message's CRC-32 position in its log entry.</summary>
    public const int LegacyCrcOffset = 12;

    /// <summary>A legacy message's attributes position in its log entry.</summary>
    public const int LegacyAttributesOffset = 17;

    /// <summary>Where a legacy message's fields after the attributes start (magic 1: the timestamp).</summary>
    public const int LegacyBodyOffset = 18;

    /// <summary>The smallest legacy MessageSize (magic 0: CRC, magic, attributes, key and value lengths).</summary>
    public const int LegacyMinMessageSize = 14;

    /// <summary>Attribute bits 0-2: the codec.</summary>
    public const short CompressionMask = 0x07;

    /// <summary>Attribute bit 3: LogAppendTime.</summary>
    public const short TimestampTypeFlag = 0x08;

    /// <summary>Attribute bit 4: transactional.</summary>
    public const short TransactionalFlag = 0x10;

    /// <summary>Attribute bit 5: control batch.</summary>
    public const short ControlFlag = 0x20;

    /// <summary>Attribute bit 6: BaseTimestamp holds the delete horizon (KIP-534).</summary>
    public const short DeleteHorizonFlag = 0x40;

    /// <summary>The offset of the first record (the producer writes 0; the broker assigns).</summary>
    public long BaseOffset { get; init; }

    /// <summary>The bytes after this field.</summary>
    public int BatchLength { get; init; }

    /// <summary>The leader epoch when the batch was appended (not covered by the CRC).</summary>
    public int PartitionLeaderEpoch { get; init; }

    /// <summary>The format: 2 for record batches, 0 or 1 for a legacy message.</summary>
    public byte Magic { get; init; }

    /// <summary>The stored checksum: CRC-32C for magic 2, CRC-32 for legacy messages.</summary>
    public uint Crc { get; init; }

    /// <summary>The raw attributes (a legacy message's int8 attributes widened).</summary>
    public short Attributes { get; init; }

    /// <summary>The offset delta of the last record.</summary>
    public int LastOffsetDelta { get; init; }

    /// <summary>The first record's timestamp, or the delete horizon when <see cref="HasDeleteHorizon"/>.</summary>
    public long BaseTimestamp { get; init; }

    /// <summary>The largest timestamp, or the append time for LogAppendTime.</summary>
    public long MaxTimestamp { get; init; }

    /// <summary>The idempotent producer's id, or -1.</summary>
    public long ProducerId { get; init; }

    /// <summary>The producer's epoch, or -1.</summary>
    public short ProducerEpoch { get; init; }

    /// <summary>The sequence number of the first record, or -1.</summary>
    public int BaseSequence { get; init; }

    /// <summary>The number of records.</summary>
    public int RecordCount { get; init; }

    /// <summary>The codec of the records.</summary>
    public CompressionType Compression => (CompressionType)(Attributes & CompressionMask);

    /// <summary>The meaning of the record timestamps.</summary>
    public TimestampType TimestampType =>
        Magic == 0 ? TimestampType.NotAvailable : (Attributes & TimestampTypeFlag) != 0 ? TimestampType.LogAppendTime : TimestampType.CreateTime;

    /// <summary>True for a transactional batch.</summary>
    public bool IsTransactional => Magic >= 2 && (Attributes & TransactionalFlag) != 0;

    /// <summary>True for a control batch (transaction markers).</summary>
    public bool IsControl => Magic >= 2 && (Attributes & ControlFlag) != 0;

    /// <summary>True when BaseTimestamp holds the delete horizon.</summary>
    public bool HasDeleteHorizon => Magic >= 2 && (Attributes & DeleteHorizonFlag) != 0;

    /// <summary>True when a producer id is set (idempotent or transactional).</summary>
    public bool HasProducerId => ProducerId >= 0;

    /// <summary>The offset of the last record, which stays after compaction.</summary>
    public long LastOffset => BaseOffset + LastOffsetDelta;

    /// <summary>The offset after this batch: where the next fetch continues.</summary>
    public long NextOffset => LastOffset + 1;

    /// <summary>The whole size of the batch on the wire.</summary>
    public int TotalSize => LogOverhead + BatchLength;

    /// <summary>Reads the fixed header of a magic-2 batch. The caller has checked that 61 bytes are present.</summary>
    public static RecordBatchHeader Read(ReadOnlySpan<byte> s) => new()
    {
        BaseOffset = BinaryPrimitives.ReadInt64BigEndian(s),
        BatchLength = BinaryPrimitives.ReadInt32BigEndian(s[BatchLengthOffset..]),
        PartitionLeaderEpoch = BinaryPrimitives.ReadInt32BigEndian(s[PartitionLeaderEpochOffset..]),
        Magic = s[MagicOffset],
        Crc = BinaryPrimitives.ReadUInt32BigEndian(s[CrcOffset..]),
        Attributes = BinaryPrimitives.ReadInt16BigEndian(s[AttributesOffset..]),
        LastOffsetDelta = BinaryPrimitives.ReadInt32BigEndian(s[LastOffsetDeltaOffset..]),
        BaseTimestamp = BinaryPrimitives.ReadInt64BigEndian(s[BaseTimestampOffset..]),
        MaxTimestamp = BinaryPrimitives.ReadInt64BigEndian(s[MaxTimestampOffset..]),
        ProducerId = BinaryPrimitives.ReadInt64BigEndian(s[ProducerIdOffset..]),
        ProducerEpoch = BinaryPrimitives.ReadInt16BigEndian(s[ProducerEpochOffset..]),
        BaseSequence = BinaryPrimitives.ReadInt32BigEndian(s[BaseSequenceOffset..]),
        RecordCount = BinaryPrimitives.ReadInt32BigEndian(s[RecordCountOffset..]),
    };

    /// <summary>Writes the 61 header bytes as they are, CRC included; see <see cref="RecordBatch.UpdateCrc"/>.</summary>
    public void Write(Span<byte> s)
    {
        BinaryPrimitives.WriteInt64BigEndian(s, BaseOffset);
        BinaryPrimitives.WriteInt32BigEndian(s[BatchLengthOffset..], BatchLength);
        BinaryPrimitives.WriteInt32BigEndian(s[PartitionLeaderEpochOffset..], PartitionLeaderEpoch);
        s[MagicOffset] = Magic;
        BinaryPrimitives.WriteUInt32BigEndian(s[CrcOffset..], Crc);
        BinaryPrimitives.WriteInt16BigEndian(s[AttributesOffset..], Attributes);
        BinaryPrimitives.WriteInt32BigEndian(s[LastOffsetDeltaOffset..], LastOffsetDelta);
        BinaryPrimitives.WriteInt64BigEndian(s[BaseTimestampOffset..], BaseTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(s[MaxTimestampOffset..], MaxTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(s[ProducerIdOffset..], ProducerId);
        BinaryPrimitives.WriteInt16BigEndian(s[ProducerEpochOffset..], ProducerEpoch);
        BinaryPrimitives.WriteInt32BigEndian(s[BaseSequenceOffset..], BaseSequence);
        BinaryPrimitives.WriteInt32BigEndian(s[RecordCountOffset..], RecordCount);
    }
}
