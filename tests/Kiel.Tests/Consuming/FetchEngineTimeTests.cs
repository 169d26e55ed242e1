using Kiel.Consuming;
using Microsoft.Extensions.Time.Testing;

namespace Kiel.Tests.Consuming;

/// <summary>The fetch engine's waits run on the options' <see cref="TimeProvider"/>.</summary>
public sealed class FetchEngineTimeTests
{
    private static readonly TopicPartition P0 = new("t", 0);

    [Fact]
    public async Task A_failed_fetch_backs_off_for_the_fake_retry_backoff()
    {
        var time = new TimerWatchingTimeProvider();
        var backend = new FakeBackend();
        backend.CreateTopic("t", 1);
        backend.Append(P0, TestBatches.V2(0, 5));
        backend.DownBrokers.Add(1);
        var backoff = TimeSpan.FromMinutes(1); // on the system clock the retry would never come within the test
        await using var engine = new FetchEngine(backend, EngineHarness.Options() with { TimeProvider = time, RetryBackoff = backoff });
        engine.Assign(P0, 0);
        await Eventually.Until(() => backend.Fetches.Count == 1, "the first fetch fails");
        // The clock may only move once the backoff delay is running, or the advance would not count towards it.
        await Eventually.Until(() => time.TimersWithDueTime(backoff) >= 1, "the fetch source starts its backoff delay");

        time.Advance(backoff - TimeSpan.FromMilliseconds(1));
        await Eventually.Holds(() => backend.Fetches.Count == 1, "no retry before the backoff ends", TimeSpan.FromMilliseconds(300));

        backend.DownBrokers.Remove(1);
        time.Advance(TimeSpan.FromMilliseconds(1));
        var records = await EngineHarness.ReadAsync(engine, 5);
        Assert.Equal([0L, 1, 2, 3, 4], records.Select(r => r.Offset));
    }

    [Fact]
    public async Task An_unknown_topic_is_reported_when_fake_time_passes_the_topic_metadata_timeout()
    {
        var time = new TimerWatchingTimeProvider();
        var backend = new FakeBackend();
        var timeout = TimeSpan.FromHours(1);
        await using var engine = new FetchEngine(backend, EngineHarness.Options() with
        {
            TimeProvider = time, TopicMetadataTimeout = timeout, RetryBackoff = TimeSpan.FromSeconds(1),
        });
        var lookup = engine.GetTopicPartitionsAsync("nope", default).AsTask();
        await Eventually.Until(() => backend.MetadataCalls >= 1, "the first lookup");
        // Each fake step passes the (at most 1 s) backoff: the engine asks again, and does not give up before the hour.
        // The clock moves only once the backoff delay's timer exists: an advance made between the lookup and the
        // timer's creation would not count towards it (seen on a busy machine). Every backoff here is the 1 s RetryBackoff.
        var timers = 0;
        for (var i = 0; i < 10; i++)
        {
            var calls = backend.MetadataCalls;
            await Eventually.Until(() => time.TimersWithDueTime(TimeSpan.FromSeconds(1)) > timers, $"the backoff delay after lookup {i + 1} starts");
            timers = time.TimersWithDueTime(TimeSpan.FromSeconds(1));
            time.Advance(TimeSpan.FromMinutes(5));
            await Eventually.Until(() => backend.MetadataCalls > calls, $"a lookup after {(i + 1) * 5} fake minutes");
            Assert.False(lookup.IsCompleted, $"gave up after {(i + 1) * 5} fake minutes");
        }
        await Eventually.Until(() => time.TimersWithDueTime(TimeSpan.FromSeconds(1)) > timers, "the last backoff delay starts");
        time.Advance(TimeSpan.FromMinutes(10));
        var ex = await Assert.ThrowsAsync<UnknownTopicException>(() => lookup.WaitAsync(Eventually.Deadline));
        Assert.Contains("nope", ex.Message);
    }
}
