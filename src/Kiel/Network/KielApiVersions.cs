using System.Collections.Frozen;
using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>
/// The versions of each API that Kiel implements and has tested (against the librdkafka 2.16 mock and the
/// protocol snapshot). Negotiation never picks a version above these, whatever a broker advertises.
/// </summary>
public static class KielApiVersions
{
    private static ApiKey K(short key) => (ApiKey)key;

    private static readonly FrozenDictionary<ApiKey, ApiVersionRange> Table = new Dictionary<ApiKey, ApiVersionRange>
    {
        [K(0)] = new(0, 10),  // Produce: mock serves 0-10
        [K(1)] = new(0, 16),  // Fetch: mock serves 0-16
        [K(2)] = new(0, 7),   // ListOffsets
        [K(3)] = new(0, 12),  // Metadata: snapshot max 12
        [K(8)] = new(0, 9),   // OffsetCommit
        [K(9)] = new(0, 7),   // OffsetFetch: v8+ is the multi-group form
        [K(10)] = new(0, 4),  // FindCoordinator: v4 batches keys
        [K(11)] = new(0, 5),  // JoinGroup: the mock's v6 is broken
        [K(12)] = new(0, 4),  // Heartbeat
        [K(13)] = new(0, 2),  // LeaveGroup: v3+ (batch leave) untested, the mock mis-serves it
        [K(14)] = new(0, 3),  // SyncGroup: the mock's v4 is suspect
        [K(15)] = new(0, 5),  // DescribeGroups
        [K(16)] = new(0, 4),  // ListGroups
        [K(17)] = new(0, 1),  // SaslHandshake
        [K(18)] = new(0, 3),  // ApiVersions
        [K(19)] = new(0, 7),  // CreateTopics
        [K(20)] = new(0, 6),  // DeleteTopics
        [K(21)] = new(0, 2),  // DeleteRecords
        [K(22)] = new(0, 4),  // InitProducerId
        [K(23)] = new(0, 4),  // OffsetForLeaderEpoch
        [K(24)] = new(0, 3),  // AddPartitionsToTxn: v4+ is the broker-to-broker batch form
        [K(25)] = new(0, 3),  // AddOffsetsToTxn
        [K(26)] = new(0, 3),  // EndTxn
        [K(28)] = new(0, 3),  // TxnOffsetCommit
        [K(32)] = new(0, 4),  // DescribeConfigs
        [K(36)] = new(0, 2),  // SaslAuthenticate
        [K(37)] = new(0, 3),  // CreatePartitions
        [K(42)] = new(0, 2),  // DeleteGroups
        [K(60)] = new(0, 1),  // DescribeCluster
        [K(68)] = new(0, 1),  // ConsumerGroupHeartbeat
    }.ToFrozenDictionary();

    /// <summary>The range Kiel supports for <paramref name="apiKey"/>, or null when Kiel never sends it.</summary>
    public static ApiVersionRange? Get(ApiKey apiKey) => Table.TryGetValue(apiKey, out var r) ? r : null;

    /// <summary>Every API with Kiel's range.</summary>
    public static IReadOnlyDictionary<ApiKey, ApiVersionRange> All => Table;
}
