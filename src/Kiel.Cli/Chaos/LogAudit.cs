using System.Globalization;
using System.Text;
using Kiel.Consuming;
using Microsoft.Extensions.Logging;

namespace Kiel.Cli.Chaos;

/// <summary>
/// Reads the whole topic back after a campaign (every partition from its start to its high watermark, straight from
/// the cluster, no proxy, no faults) and checks the log itself: every acknowledged record is at the offset its
/// delivery report gave, and in each partition the first copies of the producer's records come in strictly increasing
/// sequence order (an idempotent producer never reorders). Second copies are counted: the mock does not deduplicate
/// a plain idempotent producer's retries (see ../shared/peers/test-peers.md, Produce).
/// </summary>
internal static class LogAudit
{
    public sealed record Result(long Records, long LogDuplicates, IReadOnlyList<string> Misplaced, long MisplacedCount, IReadOnlyList<string> OrderViolations, long OrderViolationCount);

    /// <summary>Reads the topic through <paramref name="bootstrap"/> and checks it against <paramref name="acked"/>: for each
    /// sequence number, the partition and offset of its delivery report (partition -1: not acked).</summary>
    public static async Task<Result> RunAsync(string bootstrap, string topic, int partitions, IReadOnlyList<(int Partition, long Offset)> acked,
        ILoggerFactory? loggerFactory, CancellationToken ct)
    {
        var logs = new List<long>[partitions];
        await using (var consumer = new KielConsumer<byte[]?, byte[]?>(
            new KielConsumerOptions { BootstrapServers = bootstrap, ClientId = "kiel-chaos-audit", LoggerFactory = loggerFactory },
            Deserializers.Bytes,
            Deserializers.Bytes))
        {
            var highs = new long[partitions];
            for (var p = 0; p < partitions; p++)
            {
                logs[p] = [];
                var tp = new TopicPartition(topic, p);
                highs[p] = (await consumer.QueryWatermarkOffsetsAsync(tp, ct)).High;
                if (highs[p] > 0)
                {
                    await consumer.AssignAsync(tp, StartPosition.Beginning, ct);
                }
            }

            var remaining = Enumerable.Range(0, partitions).Count(p => highs[p] > 0);
            while (remaining > 0)
            {
                using var batch = await consumer.ConsumeBatchAsync(ct);
                var p = batch.TopicPartition.Partition;
                var log = logs[p];
                var wasOpen = log.Count < highs[p];
                while (batch.TryReadNext(out var record))
                {
                    if (record.Offset >= highs[p])
                    {
                        break;
                    }

                    while (log.Count < record.Offset)
                    {
                        log.Add(-1); // an offset the log does not hold (compaction does not happen here; kept for safety)
                    }

                    log.Add(long.TryParse(Encoding.ASCII.GetString(record.Value), NumberStyles.None, CultureInfo.InvariantCulture, out var seq) ? seq : -2);
                }

                if (wasOpen && log.Count >= highs[p])
                {
                    remaining--;
                    consumer.Unassign(batch.TopicPartition);
                }
            }
        }

        var seen = new HashSet<long>();
        long records = 0;
        long logDuplicates = 0;
        long orderCount = 0;
        var order = new List<string>();
        for (var p = 0; p < partitions; p++)
        {
            long previous = -1;
            for (var o = 0; o < logs[p].Count; o++)
            {
                var seq = logs[p][o];
                if (seq < 0)
                {
                    continue;
                }

                records++;
                if (!seen.Add(seq))
                {
                    // A second copy: the embedded cluster (librdkafka's mock) does not check a plain idempotent producer's
                    // sequence numbers, so a retry after a lost response (a cut connection) is appended again where a
                    // real broker would answer DUPLICATE_SEQUENCE_NUMBER. Counted, and left out of the order check.
                    logDuplicates++;
                    continue;
                }

                if (seq <= previous)
                {
                    orderCount++;
                    if (order.Count < 10)
                    {
                        order.Add(FormattableString.Invariant($"{p}/{o} holds record {seq} after record {previous}"));
                    }
                }

                previous = Math.Max(previous, seq);
            }
        }

        long misplacedCount = 0;
        var misplaced = new List<string>();
        for (var seq = 0; seq < acked.Count; seq++)
        {
            var (p, o) = acked[seq];
            if (p < 0)
            {
                continue;
            }

            var at = p < partitions && o < logs[p].Count ? logs[p][(int)o] : -1;
            if (at != seq)
            {
                misplacedCount++;
                if (misplaced.Count < 10)
                {
                    misplaced.Add(FormattableString.Invariant($"record {seq} acked at {p}/{o}, the log holds {(at < 0 ? "nothing" : $"record {at}")} there"));
                }
            }
        }

        return new Result(records, logDuplicates, misplaced, misplacedCount, order, orderCount);
    }
}
