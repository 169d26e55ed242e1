using Kiel.ZooKeeper;
using Microsoft.Extensions.Time.Testing;

namespace Kiel.IntegrationTests.ZooKeeper;

/// <summary>The ZooKeeper client's pings and read timeout run on <see cref="ZooKeeperClientOptions.TimeProvider"/>.</summary>
public sealed class ZooKeeperTimeTests
{
    private static async Task Until(Func<bool> condition, string what)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (System.Diagnostics.Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(20)) Assert.Fail("Timed out waiting for: " + what);
            await Task.Delay(5);
        }
    }

    private static async Task Holds(Func<bool> condition, string what, TimeSpan window)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        do
        {
            Assert.True(condition(), what);
            await Task.Delay(5);
        }
        while (System.Diagnostics.Stopwatch.GetElapsedTime(started) < window);
    }

    [Fact]
    public async Task Pings_and_the_read_timeout_follow_the_fake_clock()
    {
        await using var silent = new FakeZooKeeperServer(FakeZooKeeperServer.Behaviour.SilentSession);
        var time = new Kiel.Tests.TimerWatchingTimeProvider();
        var lost = 0;
        await using var client = new ZooKeeperClient(new ZooKeeperClientOptions
        {
            ConnectString = silent.ConnectString,
            SessionTimeout = FakeZooKeeperServer.SilentSessionTimeout,
            ConnectionWaitTimeout = TimeSpan.FromMinutes(10),
            CloseTimeout = TimeSpan.FromMilliseconds(100),
            TimeProvider = time,
        });
        client.StateChanged += (_, change) => { if (change.State == SessionState.Suspended) Interlocked.Increment(ref lost); };
        await client.ConnectAsync(new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token);

        // Session 90 s: a ping after 30 s of silence, and the connection is given up after 60 s without a reply.
        // On the system clock neither happens within this test's waits.
        var readTimeout = FakeZooKeeperServer.SilentSessionTimeout * 2 / 3;
        // The ping loop wakes every quarter of the ping interval; move the clock only once that delay is running, or
        // the advance would not count towards it.
        var pingTick = FakeZooKeeperServer.SilentSessionTimeout / 3 / 4;
        await Until(() => time.TimersWithDueTime(pingTick) >= 1, "the ping loop starts its first delay");
        time.Advance(readTimeout - TimeSpan.FromMilliseconds(1));
        await Until(() => silent.Pings >= 1, "a ping once a third of the session timeout passed in fake time");
        await Holds(() => Volatile.Read(ref lost) == 0, "the connection is kept until the read timeout", TimeSpan.FromMilliseconds(200));

        // The receive loop arms its timer as it starts, which may be a moment after ConnectAsync returned: go well past
        // the read timeout however late it was armed.
        time.Advance(readTimeout);
        await Until(() => Volatile.Read(ref lost) > 0, "the connection is dropped at the fake read timeout");
    }
}
