using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Kiel.Tests;

/// <summary>Checks that work a scenario left behind raises no unobserved task exception when it is collected.</summary>
internal static class UnobservedExceptions
{
    /// <summary>
    /// Runs <paramref name="scenario"/>, collects its garbage and fails when an unobserved task exception that
    /// <paramref name="ours"/> recognises was raised (other tests in the process may raise their own).
    /// </summary>
    public static async Task AssertNoneAsync(Func<AggregateException, bool> ours, Func<Task> scenario)
    {
        var unobserved = new ConcurrentQueue<Exception>();
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
        {
            if (ours(e.Exception)) unobserved.Enqueue(e.Exception);
        }
        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            await RunAsync(scenario);
            // An abandoned task raises its unobserved exception from its finalizer, once collected.
            for (var i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }
        Assert.True(unobserved.IsEmpty, "unobserved: " + string.Join("\n", unobserved));
    }

    // Not inlined, so that nothing on the caller's frame keeps the scenario's tasks alive for the collector.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Task RunAsync(Func<Task> scenario) => scenario();
}
