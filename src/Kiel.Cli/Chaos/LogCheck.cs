namespace Kiel.Cli.Chaos;

/// <summary>
/// The checks <c>kiel chaos</c> makes once the topic has been read back: the log against the producer's delivery
/// reports, and the reports' own order. No dependencies: <c>tests/Kiel.Tests</c> compiles this file in.
/// </summary>
/// <remarks>
/// The embedded cluster (librdkafka's mock) does not check a plain idempotent producer's sequence numbers, so a retry
/// after a lost response (a cut connection) is appended a second time where a real broker would answer
/// DUPLICATE_SEQUENCE_NUMBER (see ../shared/peers/test-peers.md, Produce). The retry's delivery report then names the
/// second copy, which can sit after later records of the same partition. Both checks leave second copies out: the log's
/// order is that of first copies, and a report that names a later copy is not held to the reports' order.
/// </remarks>
internal static class LogCheck
{
    /// <summary>What the checks found. <paramref name="AckedAtLaterCopy"/>: the records whose delivery report names a
    /// copy after the first one in the log.</summary>
    public sealed record Result(
        long Records,
        long LogDuplicates,
        IReadOnlyList<string> Misplaced,
        long MisplacedCount,
        IReadOnlyList<string> OrderViolations,
        long OrderViolationCount,
        IReadOnlySet<long> AckedAtLaterCopy);

    /// <summary>The most examples a check lists.</summary>
    public const int Examples = 10;

    /// <summary>
    /// Checks the partitions' logs (<paramref name="logs"/>[p][o]: the producer's sequence number held at offset o,
    /// negative for an offset that holds none of its records) against <paramref name="acked"/> (for each sequence
    /// number, the partition and offset of its delivery report; partition -1: not acknowledged). Every acknowledged
    /// record must be at the offset its report gave, and in each partition the first copies must come in strictly
    /// increasing sequence order (an idempotent producer never reorders).
    /// </summary>
    public static Result Analyze(IReadOnlyList<IReadOnlyList<long>> logs, IReadOnlyList<(int Partition, long Offset)> acked)
    {
        var firstOffset = new Dictionary<long, (int Partition, long Offset)>();
        long records = 0;
        long logDuplicates = 0;
        long orderCount = 0;
        var order = new List<string>();
        for (var p = 0; p < logs.Count; p++)
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
                if (!firstOffset.TryAdd(seq, (p, o)))
                {
                    logDuplicates++;
                    continue;
                }

                if (seq <= previous)
                {
                    orderCount++;
                    if (order.Count < Examples)
                    {
                        order.Add(FormattableString.Invariant($"{p}/{o} holds record {seq} after record {previous}"));
                    }
                }

                previous = Math.Max(previous, seq);
            }
        }

        long misplacedCount = 0;
        var misplaced = new List<string>();
        var laterCopies = new HashSet<long>();
        for (var seq = 0; seq < acked.Count; seq++)
        {
            var (p, o) = acked[seq];
            if (p < 0)
            {
                continue;
            }

            var at = p < logs.Count && o >= 0 && o < logs[p].Count ? logs[p][(int)o] : -1;
            if (at != seq)
            {
                misplacedCount++;
                if (misplaced.Count < Examples)
                {
                    misplaced.Add(FormattableString.Invariant($"record {seq} acked at {p}/{o}, the log holds {(at < 0 ? "nothing" : $"record {at}")} there"));
                }
            }
            else if (firstOffset.TryGetValue(seq, out var first) && first != (p, o))
            {
                laterCopies.Add(seq);
            }
        }

        return new Result(records, logDuplicates, misplaced, misplacedCount, order, orderCount, laterCopies);
    }

    /// <summary>
    /// Checks that the delivery reports of each partition name increasing offsets in the order the records were
    /// produced. Records in <paramref name="ackedAtLaterCopy"/> (see <see cref="Analyze"/>) are left out; without a
    /// read-back (<see langword="null"/>) every report counts. Returns up to <paramref name="examples"/> violations.
    /// </summary>
    public static IReadOnlyList<string> ReportOrder(IReadOnlyList<(int Partition, long Offset)> acked, int partitions, IReadOnlySet<long>? ackedAtLaterCopy, int examples = 20)
    {
        var violations = new List<string>();
        var lastOffset = new long[partitions];
        Array.Fill(lastOffset, -1);
        for (var seq = 0; seq < acked.Count && violations.Count < examples; seq++)
        {
            var (p, o) = acked[seq];
            if (p < 0 || p >= partitions || (ackedAtLaterCopy?.Contains(seq) ?? false))
            {
                continue;
            }

            if (o <= lastOffset[p])
            {
                violations.Add(FormattableString.Invariant($"record {seq} at {p}/{o} after offset {lastOffset[p]}"));
            }

            lastOffset[p] = Math.Max(lastOffset[p], o);
        }

        return violations;
    }
}
