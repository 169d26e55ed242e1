namespace Kiel.Consuming;

/// <summary>
/// How many bytes one broker's next Fetch shares out among its partitions (see <see cref="BrokerFetchSource"/>). It
/// starts at <see cref="StartBytes"/>, and grows only while the application waits for fetches that are slow to come
/// back: a broker far away, or a slow link, where each answer should carry as much as a request may ask for.
/// </summary>
/// <remarks>
/// <para>An answer is starved when it finds nothing fetched still unread by the application and it used at least half
/// the budget (so the budget limited it). When <see cref="Streak"/> starved answers in a row brought fewer than
/// <see cref="SlowAnswerRate"/> bytes a second (their bytes over the times from their requests to their answers), the
/// budget doubles, up to the most a request may ask for: over a link of 10 Gbit/s or slower, or with a round trip of
/// a millisecond or more, the budget soon reaches that. Over loopback or a faster link answers come at two or three
/// times that rate, and the budget stays where it started, where the application's CPU, not the network, is what
/// bounds it. An answer that finds a budget's worth of bytes still unread halves the budget again, never below where
/// it started: the fetches are ahead of the application.</para>
/// <para>Used by one source's loop only; not thread-safe.</para>
/// </remarks>
internal sealed class AnswerBudget
{
    /// <summary>Where the budget starts, and the least it halves back to.</summary>
    internal const int StartBytes = 1536 * 1024;

    /// <summary>Starved answers in a row whose rate is measured.</summary>
    internal const int Streak = 8;

    /// <summary>Bytes a second below which a streak of starved answers doubles the budget: their bytes over the time
    /// from each request to its answer.</summary>
    internal const double SlowAnswerRate = 1e9;

    private readonly int _max;
    private readonly int _floor;
    private int _starved;
    private long _streakBytes;
    private TimeSpan _streakTime;

    /// <summary>A budget that never exceeds <paramref name="maxBytes"/> (the request's own limit).</summary>
    public AnswerBudget(int maxBytes)
    {
        _max = Math.Max(1, maxBytes);
        _floor = Math.Min(_max, StartBytes);
        Bytes = _floor;
    }

    /// <summary>The bytes the next request shares out.</summary>
    public int Bytes { get; private set; }

    /// <summary>Takes in one answer: <paramref name="answerBytes"/> of records, which came <paramref name="roundTrip"/>
    /// after its request and found <paramref name="bufferedAtAnswer"/> bytes fetched and not yet released by the application.</summary>
    public void Observe(long bufferedAtAnswer, long answerBytes, TimeSpan roundTrip)
    {
        if (bufferedAtAnswer > 0 || answerBytes < Bytes / 2)
        {
            ResetStreak();
            if (bufferedAtAnswer >= Bytes && Bytes > _floor) Bytes = Math.Max(_floor, Bytes / 2);
            return;
        }
        _starved++;
        _streakBytes += answerBytes;
        _streakTime += roundTrip;
        if (_starved < Streak) return;
        var rate = _streakBytes / Math.Max(_streakTime.TotalSeconds, 1e-9);
        ResetStreak();
        if (rate < SlowAnswerRate && Bytes < _max) Bytes = (int)Math.Min(_max, 2L * Bytes);
    }

    private void ResetStreak()
    {
        _starved = 0;
        _streakBytes = 0;
        _streakTime = TimeSpan.Zero;
    }
}
