using System.Globalization;
using System.Text;
using Kiel.Consuming;
using Microsoft.Extensions.Logging;

namespace Kiel.Cli.Chaos;

/// <summary>
/// Reads the whole topic back after a campaign (every partition from its start to its high watermark, straight from
/// the cluster, no proxy, no faults) and checks the log itself: every acknowledged record is at the offset its
/// delivery report gave, and in each partition the first copies of the producer's records come in strictly increasing
/// sequence order (<see cref="LogCheck.Analyze"/>).
/// </summary>
internal static class LogAudit
{
    /// <summary>Reads the topic through <paramref name="bootstrap"/> and checks it against <paramref name="acked"/>: for each
    /// sequence number, the partition and offset of its delivery report (partition -1: not acked).</summary>
    public static async Task<LogCheck.Result> RunAsync(string bootstrap, string topic, int partitions, IReadOnlyList<(int Partition, long Offset)> acked,
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

        return LogCheck.Analyze(logs, acked);
    }
}
