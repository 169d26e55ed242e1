using System.Collections.Frozen;
using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>
/// The versions of each API that Kiel implements and has tested (against the librdkafka 2.16 mock and the
/// protocol snapshot). Negotiation never picks a version above these, whatever a broker advertises.
/// </summary>
internal static class KielApiVersions
{
    private static readonly FrozenDictionary<ApiKey, ApiVersionRange> Table = new Dictionary<ApiKey, ApiVersionRange>
    {
        [ApiKey.Produce] = new(0, 10), // mock serves 0-10
        [ApiKey.Fetch] = new(0, 16), // mock serves 0-16
        [ApiKey.ListOffsets] = new(0, 7),
        [ApiKey.Metadata] = new(0, 12), // snapshot max 12
        [ApiKey.OffsetCommit] = new(0, 9),
        [ApiKey.OffsetFetch] = new(0, 7), // v8+ is the multi-group form
        [ApiKey.FindCoordinator] = new(0, 4), // v4 batches keys
        [ApiKey.JoinGroup] = new(0, 5), // the mock's v6 is broken
        [ApiKey.Heartbeat] = new(0, 4),
        [ApiKey.LeaveGroup] = new(0, 2), // v3+ (batch leave) untested, the mock mis-serves it
        [ApiKey.SyncGroup] = new(0, 3), // the mock's v4 is suspect
        [ApiKey.DescribeGroups] = new(0, 5),
        [ApiKey.ListGroups] = new(0, 4),
        [ApiKey.SaslHandshake] = new(0, 1),
        [ApiKey.ApiVersions] = new(0, 3),
        [ApiKey.CreateTopics] = new(0, 7),
        [ApiKey.DeleteTopics] = new(0, 6),
        [ApiKey.DeleteRecords] = new(0, 2),
        [ApiKey.InitProducerId] = new(0, 4),
        [ApiKey.OffsetForLeaderEpoch] = new(0, 4),
        [ApiKey.AddPartitionsToTxn] = new(0, 3), // v4+ is the broker-to-broker batch form
        [ApiKey.AddOffsetsToTxn] = new(0, 3),
        [ApiKey.EndTxn] = new(0, 3),
        [ApiKey.TxnOffsetCommit] = new(0, 3),
        [ApiKey.DescribeConfigs] = new(0, 4),
        [ApiKey.SaslAuthenticate] = new(0, 2),
        [ApiKey.CreatePartitions] = new(0, 3),
        [ApiKey.DeleteGroups] = new(0, 2),
        [ApiKey.DescribeCluster] = new(0, 1),
        [ApiKey.ConsumerGroupHeartbeat] = new(0, 1),
    }.ToFrozenDictionary();

    /// <summary>The range Kiel supports for <paramref name="apiKey"/>, or null when Kiel never sends it.</summary>
    public static ApiVersionRange? Get(ApiKey apiKey) => Table.TryGetValue(apiKey, out var r) ? r : null;

    /// <summary>Every API with Kiel's range.</summary>
    public static IReadOnlyDictionary<ApiKey, ApiVersionRange> All => Table;
}
