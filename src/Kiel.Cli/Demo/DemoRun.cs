using System.Diagnostics;
using Spectre.Console.Rendering;

namespace Kiel.Cli.Demo;

/// <summary>The demo's main phase: watches production and consumption, kills a member midway, notices the rebalance.</summary>
internal sealed class DemoRun(DemoTracker tracker, IReadOnlyList<DemoMemberProcess> members, long records, bool kill, bool live)
{
    // After the producer is done, how long consumers get to catch up (a rebalance needs the ZooKeeper session to expire).
    private static readonly TimeSpan CatchUpBound = TimeSpan.FromSeconds(60);

    private TimeSpan? _killedAt;

    /// <summary>When every produced record had been consumed, since the start of production.</summary>
    public TimeSpan? AllConsumedAt { get; private set; }

    /// <summary>How long after the kill the survivors covered every partition again; null without a completed rebalance.</summary>
    public TimeSpan? RebalancedAfter { get; private set; }

    public string KilledLabel { get; private set; } = "";

    public async Task MonitorAsync(Task produce, Stopwatch stopwatch, Action<IRenderable>? render, CancellationToken ct)
    {
        var lastPlain = TimeSpan.Zero;
        TimeSpan? producedAt = null;
        var printedDone = false;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var s = tracker.Snapshot();
            var now = stopwatch.Elapsed;

            if (kill && _killedAt is null && s.Produced >= records / 2)
            {
                // The second member, so that the first keeps its place and the kill is easy to follow in the table.
                var victim = members[Math.Min(1, members.Count - 1)];
                KilledLabel = victim.State.Label;
                victim.Kill();
                _killedAt = now;
                tracker.Event($"{victim.State.Label} killed (SIGKILL) while holding {DemoMemberProcess.Describe(victim.State.Partitions)}; waiting for its ZooKeeper session to expire");
            }

            foreach (var m in members.Where(m => m.State.Alive && m.HasExited))
            {
                m.State.Alive = false;
                m.State.Status = "crashed";
                tracker.Event($"{m.State.Label} exited on its own: {m.StdErrTail}");
            }

            if (_killedAt is { } killedAt && RebalancedAfter is null && tracker.FullyAllocated())
            {
                RebalancedAfter = now - killedAt;
                tracker.Event(FormattableString.Invariant($"rebalance done {RebalancedAfter.Value.TotalSeconds:F1} s after the kill: the survivors read every partition"));
            }

            if (produce.IsCompleted)
            {
                producedAt ??= now;
                if (produce.IsFaulted || produce.IsCanceled)
                {
                    await produce; // surfaces the producer's error
                }
            }

            var everythingRead = produce.IsCompleted && s.Lost == 0 && s.Produced > 0;
            if (everythingRead && AllConsumedAt is null)
            {
                AllConsumedAt = now;
            }

            var phase = !produce.IsCompleted ? "producing" : everythingRead ? "done" : "catching up";
            if (render is not null)
            {
                render(DemoView.Render(s, records, phase));
            }
            else if (!live && (now - lastPlain >= TimeSpan.FromSeconds(1) || (everythingRead && !printedDone)))
            {
                printedDone = everythingRead;
                lastPlain = now;
                Console.Out.WriteLine(DemoView.PlainLine(s, records, now));
                Console.Out.Flush();
            }

            if (everythingRead && (!kill || RebalancedAfter is not null))
            {
                return;
            }

            if (producedAt is { } p && now - p > CatchUpBound)
            {
                tracker.Event("gave up waiting for the consumers to catch up");
                if (render is not null)
                {
                    render(DemoView.Render(tracker.Snapshot(), records, "timed out"));
                }

                return;
            }

            await Task.Delay(200, ct);
        }
    }
}
