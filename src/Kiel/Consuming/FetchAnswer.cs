using Kiel.Protocol;

namespace Kiel.Consuming;

/// <summary>
/// Decodes a FetchResponse body (versions 0–12, the ones Kiel sends) straight into the partitions the fetch engine
/// reads, without the generated message's object tree: a Fetch answer is one per request, and at large record sizes a
/// request carries only about a hundred records per partition, so each object per partition (the partition, its three
/// tagged structures, its aborted-transaction list, the topic's name as a new string) was a measurable share of every
/// record's allocation. Topic names are the known strings when the bytes match one; records are slices of the body.
/// As strict as the generated <see cref="Protocol.Messages.FetchResponse"/> decoder (the same lengths, counts, known
/// tagged fields and their sizes are checked); malformed input throws <see cref="KafkaProtocolException"/>.
/// </summary>
internal static class FetchAnswer
{
    /// <summary>The highest version this decoder reads, and Kiel sends: Fetch v13+ names topics by id, and v12 has
    /// everything else Kiel uses (sessions, epochs, the flexible encoding).</summary>
    public const short MaxVersion = 12;

    /// <summary>
    /// Reads <paramref name="body"/> into <paramref name="results"/> (cleared first), naming topics with the strings in
    /// <paramref name="knownTopics"/> where the bytes match, and returns the top-level error code and session id
    /// (0 and 0 before version 7).
    /// </summary>
    public static (short ErrorCode, int SessionId) Read(ReadOnlyMemory<byte> body, short version, IReadOnlyList<string> knownTopics,
        List<FetchPartitionResponse> results)
    {
        results.Clear();
        var reader = new KafkaReader(body, "FetchResponse", version);
        if (version < 0 || version > MaxVersion) ProtocolSupport.FailVersion(ref reader, 0, MaxVersion);
        var flexible = version >= 12;
        short errorCode = 0;
        var sessionId = 0;
        if (version >= 1) { reader.Field = "ThrottleTimeMs"; reader.ReadInt32(); }
        if (version >= 7)
        {
            reader.Field = "ErrorCode";
            errorCode = reader.ReadInt16();
            reader.Field = "SessionId";
            sessionId = reader.ReadInt32();
        }
        reader.Field = "Responses";
        var topics = reader.ReadArrayLength(flexible, 3);
        if (topics < 0) reader.Fail("null array where the field is not nullable");
        var cursor = 0;
        for (var t = 0; t < topics; t++)
        {
            reader.Field = "FetchableTopicResponse.Topic";
            var topic = KnownNames.Find(reader.ReadStringBytes(flexible), new KnownNameList(knownTopics), ref cursor);
            reader.Field = "FetchableTopicResponse.Partitions";
            var partitions = reader.ReadArrayLength(flexible, 18);
            if (partitions < 0) reader.Fail("null array where the field is not nullable");
            for (var p = 0; p < partitions; p++) results.Add(ReadPartition(ref reader, version, flexible, topic));
            if (flexible) ProtocolSupport.SkipTaggedFields(ref reader);
        }
        // Top-level tagged fields: NodeEndpoints (tag 0) exists from version 16 only, so every tag here is unknown.
        if (flexible) ProtocolSupport.SkipTaggedFields(ref reader);
        return (errorCode, sessionId);
    }

    private static FetchPartitionResponse ReadPartition(ref KafkaReader reader, short version, bool flexible, string topic)
    {
        reader.Field = "PartitionData.PartitionIndex";
        var index = reader.ReadInt32();
        reader.Field = "PartitionData.ErrorCode";
        var errorCode = reader.ReadInt16();
        reader.Field = "PartitionData.HighWatermark";
        var highWatermark = reader.ReadInt64();
        long lastStable = -1, logStart = -1;
        if (version >= 4) { reader.Field = "PartitionData.LastStableOffset"; lastStable = reader.ReadInt64(); }
        if (version >= 5) { reader.Field = "PartitionData.LogStartOffset"; logStart = reader.ReadInt64(); }
        List<AbortedTransaction>? aborted = null;
        if (version >= 4)
        {
            reader.Field = "PartitionData.AbortedTransactions";
            var count = reader.ReadArrayLength(flexible, 16);
            for (var i = 0; i < count; i++)
            {
                reader.Field = "AbortedTransaction.ProducerId";
                var producerId = reader.ReadInt64();
                reader.Field = "AbortedTransaction.FirstOffset";
                var firstOffset = reader.ReadInt64();
                if (flexible) ProtocolSupport.SkipTaggedFields(ref reader);
                (aborted ??= new List<AbortedTransaction>(count)).Add(new AbortedTransaction(producerId, firstOffset));
            }
        }
        if (version >= 11) { reader.Field = "PartitionData.PreferredReadReplica"; reader.ReadInt32(); }
        reader.Field = "PartitionData.Records";
        var records = reader.ReadNullableBytes(flexible) ?? default;
        int leaderId = -1, leaderEpoch = -1;
        if (flexible)
        {
            reader.Field = "(tagged fields)";
            var tags = reader.ReadTaggedFieldCount();
            for (var i = 0; i < tags; i++)
            {
                var tag = reader.ReadUnsignedVarInt();
                var size = ProtocolSupport.ReadTagSize(ref reader);
                if (tag > 2)
                {
                    reader.Skip(size);
                    continue;
                }
                var tagReader = reader.ReadSlice(size);
                switch (tag)
                {
                    case 0:
                        tagReader.Field = "EpochEndOffset.Epoch";
                        tagReader.ReadInt32();
                        tagReader.Field = "EpochEndOffset.EndOffset";
                        tagReader.ReadInt64();
                        ProtocolSupport.SkipTaggedFields(ref tagReader);
                        break;
                    case 1:
                        tagReader.Field = "LeaderIdAndEpoch.LeaderId";
                        leaderId = tagReader.ReadInt32();
                        tagReader.Field = "LeaderIdAndEpoch.LeaderEpoch";
                        leaderEpoch = tagReader.ReadInt32();
                        ProtocolSupport.SkipTaggedFields(ref tagReader);
                        break;
                    default:
                        tagReader.Field = "SnapshotId.EndOffset";
                        tagReader.ReadInt64();
                        tagReader.Field = "SnapshotId.Epoch";
                        tagReader.ReadInt32();
                        ProtocolSupport.SkipTaggedFields(ref tagReader);
                        break;
                }
                ProtocolSupport.EndTag(ref tagReader);
            }
        }
        return new FetchPartitionResponse
        {
            TopicPartition = new TopicPartition(topic, index),
            ErrorCode = errorCode,
            HighWatermark = highWatermark,
            LastStableOffset = lastStable,
            LogStartOffset = logStart,
            AbortedTransactions = aborted,
            Records = records,
            CurrentLeaderId = leaderId,
            CurrentLeaderEpoch = leaderEpoch,
        };
    }
}
