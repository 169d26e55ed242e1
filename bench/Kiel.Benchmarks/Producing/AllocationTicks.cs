using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Kiel.Benchmarks.Producing;

/// <summary>Samples the runtime's AllocationTick events (one per ~100 KB allocated) to show which types allocate.</summary>
internal sealed class AllocationTicks : EventListener
{
    private readonly ConcurrentDictionary<string, long> _bytes = new();

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1 /* GC */);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is not "GCAllocationTick_V4" and not "GCAllocationTick_V3" || e.Payload is null) return;
        var name = e.PayloadNames!.IndexOf("TypeName") is var i and >= 0 ? e.Payload[i]?.ToString() ?? "?" : "?";
        var amount = e.PayloadNames.IndexOf("AllocationAmount64") is var j and >= 0 ? Convert.ToInt64(e.Payload[j]) : 100_000;
        _bytes.AddOrUpdate(name, amount, (_, v) => v + amount);
    }

    public void Print()
    {
        foreach (var (name, bytes) in _bytes.OrderByDescending(kv => kv.Value).Take(12))
            Console.WriteLine($"#   {bytes / 1024,10:N0} KiB  {name}");
    }

    /// <summary>Every sampled type with its estimated bytes per record.</summary>
    public void Print(TextWriter to, long records)
    {
        foreach (var (name, bytes) in _bytes.OrderByDescending(kv => kv.Value).Take(40))
            to.WriteLine($"#   {(double)bytes / records,10:N1} B/record  {name}");
    }
}
