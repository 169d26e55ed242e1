using Kiel.Consuming;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Tests.Consuming;

/// <summary>Fetch answers as rows comparable by value, read by the generated decoder and by <see cref="FetchAnswer"/>
/// (shared with the integration tests, which compare the two on a real broker's answers).</summary>
internal static class FetchAnswerRows
{
    /// <summary>One partition as the engine sees it, comparable by value.</summary>
    internal sealed record Row(string Topic, int Partition, short ErrorCode, long HighWatermark, long LastStableOffset, long LogStartOffset,
        string Aborted, string? Records, int LeaderId, int LeaderEpoch);

    internal static (short ErrorCode, int SessionId, List<Row> Rows) Generated(ReadOnlyMemory<byte> body, short version)
    {
        var reader = new KafkaReader(body, "FetchResponse", version);
        var response = FetchResponse.Read(ref reader, version);
        var rows = response.Responses.SelectMany(t => t.Partitions.Select(p => new Row(t.Topic, p.PartitionIndex, p.ErrorCode, p.HighWatermark,
            p.LastStableOffset, p.LogStartOffset,
            string.Join(",", (p.AbortedTransactions ?? []).Select(a => $"{a.ProducerId}@{a.FirstOffset}")),
            p.Records is { IsEmpty: false } r ? Convert.ToHexString(r.Span) : null,
            p.CurrentLeader.LeaderId, p.CurrentLeader.LeaderEpoch))).ToList();
        return (response.ErrorCode, response.SessionId, rows);
    }

    internal static (short ErrorCode, int SessionId, List<Row> Rows) InPlace(ReadOnlyMemory<byte> body, short version, IReadOnlyList<string> known,
        List<FetchPartitionResponse>? results = null)
    {
        results ??= [];
        var (errorCode, sessionId) = FetchAnswer.Read(body, version, known, results);
        var rows = results.Select(p => new Row(p.TopicPartition.Topic, p.TopicPartition.Partition, p.ErrorCode, p.HighWatermark, p.LastStableOffset,
            p.LogStartOffset, string.Join(",", (p.AbortedTransactions ?? []).Select(a => $"{a.ProducerId}@{a.FirstOffset}")),
            p.Records.IsEmpty ? null : Convert.ToHexString(p.Records.Span), p.CurrentLeaderId, p.CurrentLeaderEpoch)).ToList();
        return (errorCode, sessionId, rows);
    }
}
