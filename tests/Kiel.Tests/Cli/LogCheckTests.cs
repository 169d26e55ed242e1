using Kiel.Cli.Chaos;

namespace Kiel.Tests.Cli;

/// <summary><c>kiel chaos</c>'s checks of the read-back log and of the delivery reports (src/Kiel.Cli/Chaos/LogCheck.cs, compiled in).</summary>
public sealed class LogCheckTests
{
    private static IReadOnlyList<IReadOnlyList<long>> Logs(params long[][] partitions) => partitions;

    [Fact]
    public void A_clean_log_and_its_reports_pass()
    {
        // Partition 0 holds records 0, 2, 3; partition 1 holds record 1.
        var logs = Logs([0, 2, 3], [1]);
        (int, long)[] acked = [(0, 0), (1, 0), (0, 1), (0, 2)];

        var result = LogCheck.Analyze(logs, acked);

        Assert.Equal(4, result.Records);
        Assert.Equal(0, result.LogDuplicates);
        Assert.Equal(0, result.MisplacedCount);
        Assert.Equal(0, result.OrderViolationCount);
        Assert.Empty(result.AckedAtLaterCopy);
        Assert.Empty(LogCheck.ReportOrder(acked, 2, result.AckedAtLaterCopy));
    }

    [Fact]
    public void A_retry_reported_at_the_mocks_second_copy_is_not_an_order_violation()
    {
        // The chaos failure this covers: record 5's first Produce was appended at offset 5 but its response was lost;
        // the retry was appended again at offset 7, after record 6, and its report named offset 7.
        var logs = Logs([0, 1, 2, 3, 4, 5, 6, 5]);
        (int, long)[] acked = [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 7), (0, 6)];

        var result = LogCheck.Analyze(logs, acked);

        Assert.Equal(8, result.Records);
        Assert.Equal(1, result.LogDuplicates);
        Assert.Equal(0, result.MisplacedCount);
        Assert.Equal(0, result.OrderViolationCount);
        Assert.Equal([5L], result.AckedAtLaterCopy);
        Assert.Empty(LogCheck.ReportOrder(acked, 1, result.AckedAtLaterCopy));

        // Without the read-back, the same reports look out of order.
        Assert.Equal(["record 6 at 0/6 after offset 7"], LogCheck.ReportOrder(acked, 1, ackedAtLaterCopy: null));
    }

    [Fact]
    public void Reports_out_of_order_at_first_copies_are_still_violations()
    {
        // Records 0 and 1 were reported at each other's offsets: the log disagrees with both reports, and the
        // reports themselves go backwards.
        var logs = Logs([0, 1]);
        (int, long)[] acked = [(0, 1), (0, 0)];

        var result = LogCheck.Analyze(logs, acked);

        Assert.Equal(2, result.MisplacedCount);
        Assert.Equal(["record 0 acked at 0/1, the log holds record 1 there", "record 1 acked at 0/0, the log holds record 0 there"], result.Misplaced);
        Assert.Empty(result.AckedAtLaterCopy);
        Assert.Equal(["record 1 at 0/0 after offset 1"], LogCheck.ReportOrder(acked, 1, result.AckedAtLaterCopy));
    }

    [Fact]
    public void A_log_whose_first_copies_go_backwards_is_an_order_violation()
    {
        // Record 2 before record 1 in partition 0, and a later second copy of record 0 that does not count.
        var logs = Logs([0, 2, 1, 0]);
        (int, long)[] acked = [(0, 0), (0, 2), (0, 1)];

        var result = LogCheck.Analyze(logs, acked);

        Assert.Equal(1, result.OrderViolationCount);
        Assert.Equal(["0/2 holds record 1 after record 2"], result.OrderViolations);
        Assert.Equal(1, result.LogDuplicates);
    }

    [Fact]
    public void Unacknowledged_records_and_gaps_are_skipped_and_missing_offsets_are_misplaced()
    {
        // -1: an offset the log does not hold; record 1 failed (partition -1); record 2 reported past the log's end.
        var logs = Logs([0, -1]);
        (int, long)[] acked = [(0, 0), (-1, -1), (0, 5), (3, 0)];

        var result = LogCheck.Analyze(logs, acked);

        Assert.Equal(1, result.Records);
        Assert.Equal(2, result.MisplacedCount);
        Assert.Equal(["record 2 acked at 0/5, the log holds nothing there", "record 3 acked at 3/0, the log holds nothing there"], result.Misplaced);
        Assert.Empty(LogCheck.ReportOrder(acked, 1, result.AckedAtLaterCopy));
    }
}
