namespace Kiel;

/// <summary>Work that callers share and may all stop waiting for.</summary>
internal static class TaskFailures
{
    /// <summary>
    /// Marks <paramref name="task"/>'s failure as observed once it fails. For work shared by callers that each wait
    /// with their own token: when every caller has given up, a later failure would otherwise surface as an unobserved
    /// task exception. The callers that still wait see the failure as before.
    /// </summary>
    public static void ObserveFailure(this Task task) =>
        task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
