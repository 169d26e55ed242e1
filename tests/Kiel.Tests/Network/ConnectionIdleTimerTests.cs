using Kiel.Network;
using Kiel.Protocol;
using Microsoft.Extensions.Time.Testing;

namespace Kiel.Tests.Network;

/// <summary>
/// A connection's request and idle timeouts run on one one-shot timer armed for the next real deadline: an idle
/// connection is never woken by a periodic tick, yet both timeouts still fire when (fake) time reaches them.
/// </summary>
public sealed class ConnectionIdleTimerTests
{
    /// <summary>A fake clock that counts the timer callbacks it runs.</summary>
    private sealed class FiringCountingTimeProvider : FakeTimeProvider
    {
        private int _fired;

        public int Fired => Volatile.Read(ref _fired);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            base.CreateTimer(s => { Interlocked.Increment(ref _fired); callback(s); }, state, dueTime, period);
    }

    private static ConnectionOptions Options(TimeProvider time, TimeSpan idle) => new()
    {
        ClientId = "test",
        ConnectTimeout = TimeSpan.FromSeconds(5),
        RequestTimeout = TimeSpan.FromSeconds(30),
        IdleTimeout = idle,
        TimeProvider = time,
    };

    private static async Task AdvanceAsync(FakeTimeProvider time, TimeSpan total, TimeSpan step)
    {
        for (var moved = TimeSpan.Zero; moved < total; moved += step)
        {
            time.Advance(step);
            await Task.Yield();
        }
    }

    [Fact]
    public async Task An_idle_connection_runs_no_timer_callback_until_its_idle_timeout()
    {
        var time = new FiringCountingTimeProvider();
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            while (await c.ReadRequestAsync() is { } r) await c.RespondAsync(r.CorrelationId, r.Body);
        });
        var idle = TimeSpan.FromMinutes(30);
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(time, idle), "test", CancellationToken.None);
        var reply = await conn.SendAsync(new TestRequest(ApiKey.Metadata, [7]), 0, CancellationToken.None).AsTask().WaitAsync(Eventually.Deadline);
        Assert.Equal([7], reply.Body);

        // The timer may still be armed for a deadline of a request already answered (it fires once and finds nothing):
        // past those, twenty minutes of fake time in 100 ms steps, where a periodic sweep (the old 100 ms tick) would
        // run 12,000 times.
        await AdvanceAsync(time, TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));
        var before = time.Fired;
        Assert.InRange(before, 0, 3);
        await AdvanceAsync(time, TimeSpan.FromMinutes(20), TimeSpan.FromMilliseconds(100));
        Assert.Equal(before, time.Fired);
        Assert.True(conn.IsOpen);

        // The idle timeout still closes it, once fake time gets there.
        await AdvanceAsync(time, TimeSpan.FromMinutes(11), TimeSpan.FromSeconds(1));
        await conn.Completion.WaitAsync(Eventually.Deadline);
        Assert.Contains("idle", conn.CloseReason!.Message);
        Assert.InRange(time.Fired - before, 1, 2);
    }

    [Fact]
    public async Task A_request_still_times_out_when_fake_time_reaches_its_deadline_and_not_before()
    {
        var time = new FiringCountingTimeProvider();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            await c.ReadRequestAsync();
            held.TrySetResult();
            await c.WaitForClientCloseAsync(TimeSpan.FromSeconds(20));
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(time, Timeout.InfiniteTimeSpan), "test", CancellationToken.None);
        var waiting = conn.SendAsync(new TestRequest(ApiKey.Metadata), 0, CancellationToken.None, TimeSpan.FromMinutes(2)).AsTask();
        await held.Task.WaitAsync(Eventually.Deadline);

        // Nearly two minutes in 100 ms steps: the timer fires at most for the handshake's deadline (a 100 ms tick: 1,190 times).
        var before = time.Fired;
        await AdvanceAsync(time, TimeSpan.FromMinutes(2) - TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(100));
        Assert.InRange(time.Fired - before, 0, 2);
        Assert.False(waiting.IsCompleted);

        await AdvanceAsync(time, TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(100));
        var e = await Assert.ThrowsAsync<KafkaRequestTimeoutException>(() => waiting.WaitAsync(Eventually.Deadline));
        Assert.Contains("120000 ms", e.Message);
        await conn.Completion.WaitAsync(Eventually.Deadline);
        Assert.False(conn.IsOpen);
    }
}
