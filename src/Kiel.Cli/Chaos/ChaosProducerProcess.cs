using System.Diagnostics;
using System.Globalization;

namespace Kiel.Cli.Chaos;

/// <summary>
/// The <c>kiel chaos-producer</c> child of a campaign: starts it, parses its report lines (see
/// <see cref="Commands.ChaosProducerCommand"/>) into callbacks, and stops it (end of stdin, then SIGKILL) on every
/// exit path.
/// </summary>
internal sealed class ChaosProducerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StdErrTail _stderr = new();
    private readonly TaskCompletionSource<ProducerEnd> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<long, int, long, long> _delivered;
    private readonly Action<long, long, string> _failed;
    private readonly Action<long> _longestCall;
    private long _gcHeapBytes;

    private ChaosProducerProcess(Process process, Action<long, int, long, long> delivered, Action<long, long, string> failed, Action<long> longestCall)
    {
        _process = process;
        _delivered = delivered;
        _failed = failed;
        _longestCall = longestCall;
    }

    /// <summary>The child's process id.</summary>
    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The GC heap the child last reported, or null before its first report.</summary>
    public long? GcHeapBytes => Interlocked.Read(ref _gcHeapBytes) is var b and > 0 ? b : (long?)null;

    /// <summary>Completes (never faults) with the child's end line, or with an error when it exited without one.</summary>
    public Task<ProducerEnd> Ended => _ended.Task;

    public string StdErrTail => _stderr.ToString();

    /// <summary>
    /// Starts the child. <paramref name="delivered"/> gets (seq, partition, offset, ms from the produce call),
    /// <paramref name="failed"/> (seq, ms, reason), <paramref name="longestCall"/> a new longest produce call in ms.
    /// </summary>
    /// With <paramref name="forwardLog"/> every stderr line of the child (its log, with --verbose) is written to this
    /// process's stderr, prefixed <c>producer: </c>.
    public static ChaosProducerProcess Start(
        IReadOnlyList<string> args, Action<long, int, long, long> delivered, Action<long, long, string> failed, Action<long> longestCall, bool forwardLog)
    {
        var process = ChildProcess.Create("chaos-producer", args);
        var child = new ChaosProducerProcess(process, delivered, failed, longestCall);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        ChildProcess.CollectStdErr(process, child._stderr, forwardLog ? "producer: " : null);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _ = Task.Run(async () =>
        {
            // WaitForExitAsync also waits until stdout is drained, so an end line the child wrote is seen first.
            string code;
            try
            {
                await process.WaitForExitAsync(CancellationToken.None);
                code = process.ExitCode.ToString(CultureInfo.InvariantCulture);
            }
            catch (InvalidOperationException)
            {
                code = "unknown"; // disposed meanwhile
            }

            child._ended.TrySetResult(new ProducerEnd(-1, -1, false, $"the producer process exited (code {code}) before it finished: {child.StdErrTail}"));
        }, CancellationToken.None);
        return child;
    }

    private void OnLine(string? line)
    {
        if (string.IsNullOrEmpty(line) || line.Length < 2)
        {
            return;
        }

        var parts = line.Split(' ', line[0] == 'F' ? 4 : 5);
        switch (line[0])
        {
            case 'D' when parts.Length == 5
                && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var seq)
                && int.TryParse(parts[2], CultureInfo.InvariantCulture, out var partition)
                && long.TryParse(parts[3], CultureInfo.InvariantCulture, out var offset)
                && long.TryParse(parts[4], CultureInfo.InvariantCulture, out var ms):
                _delivered(seq, partition, offset, ms);
                break;
            case 'F' when parts.Length >= 3
                && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var seq)
                && long.TryParse(parts[2], CultureInfo.InvariantCulture, out var ms):
                _failed(seq, ms, parts.Length == 4 ? parts[3] : "failed");
                break;
            case 'T' when long.TryParse(line.AsSpan(2), CultureInfo.InvariantCulture, out var ms):
                _longestCall(ms);
                break;
            case 'S' when long.TryParse(line.AsSpan(2), CultureInfo.InvariantCulture, out var heap):
                Interlocked.Exchange(ref _gcHeapBytes, heap);
                break;
            case 'E' when parts.Length >= 3
                && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var produced)
                && long.TryParse(parts[2], CultureInfo.InvariantCulture, out var flushMs):
                _ended.TrySetResult(new ProducerEnd(produced, flushMs, parts.Length > 3 && parts[3] == "timeout", null));
                break;
        }
    }

    /// <summary>Asks for a stop (end of stdin) and waits up to <paramref name="bound"/>, then kills.</summary>
    public Task StopAsync(TimeSpan bound) => ChildProcess.StopAsync(_process, bound);

    public ValueTask DisposeAsync() => ChildProcess.DisposeAsync(_process);
}

/// <summary>How the producer child ended: records produced, the final flush's duration and whether it overran its bound; or <see cref="Error"/>.</summary>
internal sealed record ProducerEnd(long Produced, long FlushMs, bool FlushTimedOut, string? Error);
