using System.Diagnostics.Tracing;

namespace Kiel.Benchmarks.Compare;

/// <summary>
/// Where a window's garbage collection pauses go (compare-client with <c>KIEL_BENCH_GC_PHASES=1</c>): the runtime's GC
/// events say when it began to suspend the process's threads, when all were stopped, when the collection itself began
/// and ended, and when the threads ran again. The listener's own work shows in the time between those phases; use it to
/// find where pauses go, not to measure a client.
/// </summary>
internal sealed class GcPhases : EventListener
{
    private const int SuspendBegin = 9, SuspendEnd = 8, Start = 1, End = 2, RestartBegin = 7, RestartEnd = 3;
    private readonly object _gate = new();
    private long _suspendBegin, _suspendEnd, _start, _end, _restartBegin;
    private double _suspend, _collect, _between, _restart;
    private long _count;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Informational, (EventKeywords)0x1); // GC
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        // Only the runtime's source is enabled, so every event here is one of its GC events (others are ignored below).
        var t = e.TimeStamp.Ticks;
        lock (_gate)
        {
            switch (e.EventId)
            {
                case SuspendBegin: _suspendBegin = t; _suspendEnd = _start = _end = _restartBegin = 0; break;
                case SuspendEnd: _suspendEnd = t; break;
                case Start: if (_start == 0) _start = t; break;
                case End: _end = t; break;
                case RestartBegin: _restartBegin = t; break;
                case RestartEnd:
                    if (_suspendBegin > 0 && _suspendEnd > 0 && _start > 0 && _end > 0 && _restartBegin > 0)
                    {
                        _suspend += _suspendEnd - _suspendBegin;
                        _collect += _end - _start;
                        _between += (_start - _suspendEnd) + (_restartBegin - _end);
                        _restart += t - _restartBegin;
                        _count++;
                    }
                    _suspendBegin = 0;
                    break;
            }
        }
    }

    /// <summary>Average microseconds per collection of each phase since the listener started.</summary>
    public string Describe()
    {
        lock (_gate)
        {
            if (_count == 0) return "no complete collection seen";
            double Us(double ticks) => ticks / _count / 10.0;
            var last = GC.GetGCMemoryInfo(GCKind.Ephemeral);
            string[] names = ["gen0", "gen1", "gen2", "large object heap", "pinned object heap"];
            var generations = string.Join(", ", Enumerable.Range(0, Math.Min(names.Length, last.GenerationInfo.Length))
                .Select(g => $"{names[g]} {last.GenerationInfo[g].SizeAfterBytes / 1024} KiB"));
            return $"{_count} collections; per collection: suspending {Us(_suspend):F0} us, collecting {Us(_collect):F0} us, " +
                   $"between {Us(_between):F0} us, restarting {Us(_restart):F0} us; the last ephemeral one promoted " +
                   $"{last.PromotedBytes / 1024} KiB with {last.PinnedObjectsCount} pinned objects, after it {generations}, " +
                   $"{last.FragmentedBytes / 1024} KiB fragmented";
        }
    }
}
