using System.Buffers;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Groups.Kafka;

/// <summary>
/// The consumer protocol's encodings inside the classic group protocol: the subscription a member sends as its
/// JoinGroup protocol metadata (<c>ConsumerProtocolSubscription</c>) and the assignment the leader sends through
/// SyncGroup (<c>ConsumerProtocolAssignment</c>), versions 0–3, each prefixed with its int16 version as Kafka's
/// <c>ConsumerProtocol</c> writes them.
/// </summary>
/// <remarks>
/// Decoding follows Java's rule for forward compatibility: a version above 3 is read with the v3 layout and any
/// bytes after it are ignored (later versions may only append fields). For versions 0–3 the bytes must be exactly
/// one message; anything malformed (truncated, negative counts or lengths, a negative partition id, trailing bytes)
/// is a <see cref="KafkaProtocolException"/> naming the message and field.
/// </remarks>
internal static class ConsumerProtocol
{
    /// <summary>The highest version of both encodings this client knows.</summary>
    public const short HighestVersion = 3;

    /// <summary>The protocol type of a consumer group in JoinGroup.</summary>
    public const string ProtocolType = "consumer";

    /// <summary>
    /// Encodes a member's subscription. Owned partitions are grouped by topic in order of first appearance, with
    /// partitions in the given order. An empty <paramref name="userData"/> is written as empty bytes (not null), as
    /// librdkafka does, because Kafka 0.9 brokers' Java clients cannot read null there.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="version"/> is not 0–3.</exception>
    public static byte[] EncodeSubscription(IReadOnlyList<string> topics, IReadOnlyList<TopicPartition> owned, int generation,
        string? rackId, ReadOnlyMemory<byte> userData, short version)
    {
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(owned);
        CheckVersion(version);
        var message = new ConsumerProtocolSubscription
        {
            Topics = [.. topics],
            UserData = userData,
            OwnedPartitions = Group(owned, static (topic, ids) => new ConsumerProtocolSubscription.TopicPartition { Topic = topic, Partitions = ids }),
            GenerationId = generation,
            RackId = rackId,
        };
        return Write(message, version);
    }

    /// <summary>Decodes a member's JoinGroup protocol metadata.</summary>
    /// <exception cref="KafkaProtocolException">The metadata is malformed.</exception>
    public static GroupMemberSubscription DecodeSubscription(string memberId, string? instanceId, ReadOnlySpan<byte> metadata)
    {
        ArgumentNullException.ThrowIfNull(memberId);
        var message = ReadSubscription(metadata, out var version);
        var owned = new List<TopicPartition>();
        foreach (var t in message.OwnedPartitions)
            foreach (var p in t.Partitions) owned.Add(new TopicPartition(t.Topic, p));
        return new GroupMemberSubscription(memberId, instanceId, message.Topics, owned,
            version >= 2 ? message.GenerationId : -1, message.UserData ?? ReadOnlyMemory<byte>.Empty,
            version >= 3 ? message.RackId : null);
    }

    /// <summary>
    /// Encodes an assignment. Partitions are grouped by topic in order of first appearance, with partitions in the
    /// given order; an empty <paramref name="userData"/> is written as empty bytes, as librdkafka and Java do.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="version"/> is not 0–3.</exception>
    public static byte[] EncodeAssignment(IReadOnlyList<TopicPartition> partitions, ReadOnlyMemory<byte> userData, short version)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        CheckVersion(version);
        var message = new ConsumerProtocolAssignment
        {
            AssignedPartitions = Group(partitions, static (topic, ids) => new ConsumerProtocolAssignment.TopicPartition { Topic = topic, Partitions = ids }),
            UserData = userData,
        };
        return Write(message, version);
    }

    /// <summary>
    /// Decodes the assignment a SyncGroup response carries. Zero bytes mean no assignment (the coordinator sends
    /// that to a member the leader assigned nothing, for example one that joined during the sync), as librdkafka reads it.
    /// </summary>
    /// <exception cref="KafkaProtocolException">The assignment is malformed.</exception>
    public static IReadOnlyList<TopicPartition> DecodeAssignment(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return [];
        var message = ReadAssignment(data, out _);
        var list = new List<TopicPartition>();
        foreach (var t in message.AssignedPartitions)
            foreach (var p in t.Partitions) list.Add(new TopicPartition(t.Topic, p));
        return list;
    }

    /// <summary>Reads the generated subscription message and its version (as written, possibly above 3).</summary>
    /// <exception cref="KafkaProtocolException">The metadata is malformed.</exception>
    internal static ConsumerProtocolSubscription ReadSubscription(ReadOnlySpan<byte> metadata, out short version)
    {
        var reader = new KafkaReader(metadata, nameof(ConsumerProtocolSubscription));
        version = ReadVersion(ref reader);
        var message = ConsumerProtocolSubscription.Read(ref reader, Math.Min(version, HighestVersion));
        reader.Field = "OwnedPartitions";
        foreach (var t in message.OwnedPartitions) CheckPartitions(ref reader, t.Topic, t.Partitions);
        CheckEnd(ref reader, version);
        return message;
    }

    /// <summary>Reads the generated assignment message and its version (as written, possibly above 3).</summary>
    /// <exception cref="KafkaProtocolException">The assignment is malformed.</exception>
    internal static ConsumerProtocolAssignment ReadAssignment(ReadOnlySpan<byte> data, out short version)
    {
        var reader = new KafkaReader(data, nameof(ConsumerProtocolAssignment));
        version = ReadVersion(ref reader);
        var message = ConsumerProtocolAssignment.Read(ref reader, Math.Min(version, HighestVersion));
        reader.Field = "AssignedPartitions";
        foreach (var t in message.AssignedPartitions) CheckPartitions(ref reader, t.Topic, t.Partitions);
        CheckEnd(ref reader, version);
        return message;
    }

    /// <summary>Writes a generated message with its int16 version prefix.</summary>
    internal static byte[] Write(IKafkaMessage message, short version)
    {
        var output = new ArrayBufferWriter<byte>(64);
        var writer = new KafkaWriter(output);
        writer.WriteInt16(version);
        message.Write(ref writer, version);
        writer.Flush();
        return output.WrittenSpan.ToArray();
    }

    private static short ReadVersion(ref KafkaReader reader)
    {
        reader.Field = "Version";
        var version = reader.ReadInt16();
        if (version < 0) reader.Fail($"version {version} is negative");
        reader.Version = version;
        return version;
    }

    private static void CheckPartitions(ref KafkaReader reader, string topic, List<int> partitions)
    {
        foreach (var p in partitions)
            if (p < 0) reader.Fail($"partition {p} of topic '{topic}' is negative");
    }

    private static void CheckEnd(ref KafkaReader reader, short version)
    {
        // Java reads a newer version with the layout it knows and ignores what follows; for a known version, extra
        // bytes mean the data is not what its version says.
        if (version <= HighestVersion && !reader.End)
        {
            reader.Field = null;
            reader.Fail($"{reader.Remaining} byte(s) left after the end of the message");
        }
    }

    private static void CheckVersion(short version)
    {
        if (version < 0 || version > HighestVersion)
            throw new ArgumentOutOfRangeException(nameof(version), version, $"The consumer protocol has versions 0 to {HighestVersion}.");
    }

    private static List<T> Group<T>(IReadOnlyList<TopicPartition> partitions, Func<string, List<int>, T> create)
    {
        var order = new List<string>();
        var byTopic = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        foreach (var tp in partitions)
        {
            ArgumentNullException.ThrowIfNull(tp.Topic, nameof(partitions));
            if (!byTopic.TryGetValue(tp.Topic, out var ids))
            {
                byTopic[tp.Topic] = ids = [];
                order.Add(tp.Topic);
            }
            ids.Add(tp.Partition);
        }
        var list = new List<T>(order.Count);
        foreach (var topic in order) list.Add(create(topic, byTopic[topic]));
        return list;
    }
}
