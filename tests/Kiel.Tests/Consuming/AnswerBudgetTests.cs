using Kiel.Consuming;

namespace Kiel.Tests.Consuming;

public sealed class AnswerBudgetTests
{
    private const int Max = 50 * 1024 * 1024;
    private static readonly TimeSpan Fast = TimeSpan.FromMilliseconds(0.5); // 1.5 MiB in 0.5 ms: about 3 GB/s
    private static readonly TimeSpan Slow = TimeSpan.FromMilliseconds(200); // a far broker's round trip: 50 MiB in it is under 1 GB/s

    private static void Answers(AnswerBudget budget, int count, long buffered, TimeSpan roundTrip)
    {
        for (var i = 0; i < count; i++) budget.Observe(buffered, budget.Bytes, roundTrip);
    }

    [Fact]
    public void It_starts_at_the_start_size_or_at_the_requests_own_limit_when_that_is_smaller()
    {
        Assert.Equal(AnswerBudget.StartBytes, new AnswerBudget(Max).Bytes);
        Assert.Equal(100_000, new AnswerBudget(100_000).Bytes);
    }

    [Fact]
    public void Starved_answers_that_come_slowly_double_it_up_to_the_requests_limit()
    {
        var budget = new AnswerBudget(Max);
        Answers(budget, AnswerBudget.Streak - 1, buffered: 0, Slow);
        Assert.Equal(AnswerBudget.StartBytes, budget.Bytes);
        Answers(budget, 1, buffered: 0, Slow);
        Assert.Equal(2 * AnswerBudget.StartBytes, budget.Bytes);
        Answers(budget, 10 * AnswerBudget.Streak, buffered: 0, Slow);
        Assert.Equal(Max, budget.Bytes);
    }

    [Fact]
    public void Starved_answers_that_come_fast_leave_it_where_it_is()
    {
        var budget = new AnswerBudget(Max);
        Answers(budget, 10 * AnswerBudget.Streak, buffered: 0, Fast);
        Assert.Equal(AnswerBudget.StartBytes, budget.Bytes);
    }

    [Fact]
    public void Answers_the_application_had_records_in_hand_for_neither_grow_it_nor_count_toward_a_streak()
    {
        var budget = new AnswerBudget(Max);
        for (var i = 0; i < 10 * AnswerBudget.Streak; i++)
        {
            Answers(budget, AnswerBudget.Streak - 1, buffered: 0, Slow);
            Answers(budget, 1, buffered: 1, Slow);
        }
        Assert.Equal(AnswerBudget.StartBytes, budget.Bytes);
        // Small answers (the partitions had little to send) do not grow it either: the budget did not limit them.
        for (var i = 0; i < 10 * AnswerBudget.Streak; i++) budget.Observe(0, budget.Bytes / 4, Slow);
        Assert.Equal(AnswerBudget.StartBytes, budget.Bytes);
    }

    [Fact]
    public void A_budgets_worth_left_unread_halves_it_but_never_below_the_start()
    {
        var budget = new AnswerBudget(Max);
        Answers(budget, 3 * AnswerBudget.Streak, buffered: 0, Slow);
        Assert.Equal(8 * AnswerBudget.StartBytes, budget.Bytes);
        budget.Observe(budget.Bytes - 1, budget.Bytes, Slow);
        Assert.Equal(8 * AnswerBudget.StartBytes, budget.Bytes);
        budget.Observe(budget.Bytes, budget.Bytes, Slow);
        Assert.Equal(4 * AnswerBudget.StartBytes, budget.Bytes);
        for (var i = 0; i < 10; i++) budget.Observe(Max, budget.Bytes, Fast);
        Assert.Equal(AnswerBudget.StartBytes, budget.Bytes);
    }
}
