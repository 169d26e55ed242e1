using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kiel.Consuming;

namespace Kiel.Benchmarks.Compare;

/// <summary>
/// What one gen0 collection costs in a process, before and after a Kiel consumer has run in it
/// (<c>compare-client client=probe mode=gc …</c>, the other arguments as for the consume rows). The same loop, which
/// allocates 1 KiB arrays and keeps none (the records stream's garbage), runs for 2 s at each stage and prints the
/// collections a second and the average pause of each (<see cref="GC.GetTotalPauseDuration"/>), with the threads the
/// process has. Stages: a new process; then, with <c>KIEL_PROBE_WORKERS=N</c>, N idle thread-pool workers (and the probe
/// ends there); with <c>KIEL_PROBE_POOL=1</c>, 128 MiB through <see cref="ArrayPool{T}.Shared"/>, then a timer and a
/// pending socket receive (and the probe ends there); otherwise a consumer reading raw batches on another task, the
/// consumer stopped, disposed, and after a full compacting collection; with <c>KIEL_PROBE_HOLD=S</c> it then waits S
/// seconds (for <c>dotnet-dump collect</c>). Each stage also prints what the runtime says of its last gen0 collection
/// (survivors, pinned objects) and the gen1 and gen2 collections in the stage. Measurement only: prints lines starting
/// <c>PROBE</c> on stderr; its <c>RESULT</c> line carries only the peak RSS.
/// </summary>
internal static partial class CompareClient
{
    private static async Task ProbeGc(ClientRun run)
    {
        Probe("a new process");
        if (int.TryParse(Environment.GetEnvironmentVariable("KIEL_PROBE_WORKERS"), out var workers) && workers > 0)
        {
            ThreadPool.GetMinThreads(out _, out var io);
            ThreadPool.SetMinThreads(workers, io);
            using var gate = new ManualResetEventSlim();
            using var started = new CountdownEvent(workers);
            for (var i = 0; i < workers; i++)
                ThreadPool.UnsafeQueueUserWorkItem(_ => { started.Signal(); gate.Wait(); }, null);
            // Each worker holds its item until all have started, so the pool has made that many threads.
            if (!started.Wait(TimeSpan.FromSeconds(30)))
                throw new TimeoutException($"only {workers - started.CurrentCount} of {workers} workers started in 30 s");
            gate.Set();
            Thread.Sleep(100);
            Probe($"{workers} idle thread-pool workers");
            return;
        }
        if (Environment.GetEnvironmentVariable("KIEL_PROBE_POOL") == "1")
        {
            var rented = new List<byte[]>();
            for (var i = 0; i < 64; i++) rented.Add(ArrayPool<byte>.Shared.Rent(2 * 1024 * 1024));
            foreach (var a in rented) ArrayPool<byte>.Shared.Return(a);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            Probe($"128 MiB through ArrayPool.Shared (large object heap {GC.GetGCMemoryInfo().GenerationInfo[3].SizeAfterBytes >> 20} MiB)");
            using var timer = new Timer(_ => { }, null, 1000, 1000);
            using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen();
            using var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.LocalEndPoint!);
            using var server = await listener.AcceptAsync();
            var pending = server.ReceiveAsync(new byte[16]);
            Probe("and a timer and a pending socket receive");
            client.Dispose();
            try { await pending.WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception e) when (e is SocketException or TimeoutException) { }
            return;
        }
        await using (var consumer = new KielConsumer<byte[]?, byte[]?>(KielConsumerOptions(run), Deserializers.Bytes, Deserializers.Bytes))
        {
            await consumer.AssignTopicAsync(run.Topic, StartPosition.Beginning);
            using var stop = new CancellationTokenSource();
            long records = 0;
            var reader = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        using var batch = await consumer.ConsumeBatchAsync(stop.Token);
                        while (batch.TryReadNext(out _)) Interlocked.Increment(ref records);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
            });
            await Task.Delay(3000);
            var before = Interlocked.Read(ref records);
            Probe("a consumer reading raw batches on another task", () => $", it read {(Interlocked.Read(ref records) - before) / 2.0:F0} records/s");
            await stop.CancelAsync();
            await reader.WaitAsync(TimeSpan.FromSeconds(30));
            Probe("the consumer stopped, still open");
        }
        Probe("the consumer disposed");
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        Probe($"after a full compacting collection (heap {GC.GetGCMemoryInfo().HeapSizeBytes >> 20} MiB)");
        if (int.TryParse(Environment.GetEnvironmentVariable("KIEL_PROBE_HOLD"), out var hold) && hold > 0)
        {
            Console.Error.WriteLine($"PROBE holding pid {Environment.ProcessId} for {hold} s");
            Thread.Sleep(TimeSpan.FromSeconds(Math.Min(hold, 600)));
        }
        Console.Error.WriteLine("PROBE threads: " + string.Join(", ", Directory.GetDirectories("/proc/self/task")
            .Select(t => File.ReadAllText(Path.Combine(t, "comm")).Trim()).GroupBy(n => n).Select(g => g.Count() > 1 ? $"{g.Key} x{g.Count()}" : g.Key)));
    }

    private static void Probe(string stage, Func<string>? more = null)
    {
        const double Seconds = 2;
        var source = new byte[1024];
        long sink = 0, arrays = 0; // sink: a byte of every array is read, so the copies are used
        var collections = GC.CollectionCount(0);
        var (gen1, gen2) = (GC.CollectionCount(1), GC.CollectionCount(2));
        var paused = GC.GetTotalPauseDuration();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < Seconds)
        {
            for (var k = 0; k < 1000; k++) sink += source.AsSpan().ToArray()[k & 1023];
            arrays += 1000;
        }
        var count = GC.CollectionCount(0) - collections;
        var pause = GC.GetTotalPauseDuration() - paused;
        Console.Error.WriteLine($"PROBE {stage}: {arrays / Seconds:F0} arrays/s, {count / Seconds:F0} gen0 collections/s, " +
            $"{pause.TotalMicroseconds / Math.Max(1, count):F0} us paused per collection, {100 * pause.TotalSeconds / Seconds:F1}% paused, " +
            $"{Directory.GetDirectories("/proc/self/task").Length} threads{more?.Invoke()}; gen1 {GC.CollectionCount(1) - gen1}, gen2 {GC.CollectionCount(2) - gen2} in the stage, {GC.CollectionCount(2)} gen2 in all");
        var last = GC.GetGCMemoryInfo(GCKind.Ephemeral);
        Console.Error.WriteLine($"PROBE   last ephemeral collection: gen {last.Generation}, promoted {last.PromotedBytes} B, pinned objects {last.PinnedObjectsCount}, " +
            $"pause {last.PauseDurations[0].TotalMicroseconds:F0} us, finalization pending {last.FinalizationPendingCount}, gen0 after {last.GenerationInfo[0].SizeAfterBytes} B, gen1 after {last.GenerationInfo[1].SizeAfterBytes} B, fragmented {last.FragmentedBytes} B, concurrent {last.Concurrent}");
        s_probeSink = sink;
    }

    private static long s_probeSink;
}
