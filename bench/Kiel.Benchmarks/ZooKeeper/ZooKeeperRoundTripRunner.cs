using System.Diagnostics;
using System.Globalization;
using Kiel.Testing.ZooKeeper;
using Kiel.ZooKeeper;

namespace Kiel.Benchmarks.ZooKeeper;

/// <summary>
/// Pipelined getData and setData round trips per second against one embedded ZooKeeper server, Kiel's client
/// versus kazoo 2.8 (its async API, same window), and the ratio.
/// <c>dotnet run -c Release --project bench/Kiel.Benchmarks -- zk [--ops 20000] [--window 100]</c>
/// </summary>
public static class ZooKeeperRoundTripRunner
{
    private const string KazooScript = """
        import sys, time
        from kazoo.client import KazooClient
        hosts, path, ops, window = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        zk = KazooClient(hosts=hosts, timeout=10)
        zk.start(timeout=15)
        data = b"x" * 100
        def run(make):
            done = 0
            start = time.perf_counter()
            while done < ops:
                batch = [make() for _ in range(min(window, ops - done))]
                for r in batch:
                    r.get(timeout=30)
                done += len(batch)
            return ops / (time.perf_counter() - start)
        run(lambda: zk.get_async(path))  # warm-up
        print("get %.0f" % run(lambda: zk.get_async(path)))
        print("set %.0f" % run(lambda: zk.set_async(path, data)))
        zk.stop()
        """;

    [BenchRunner("zk")]
    public static async Task<int> RunAsync(string[] args)
    {
        var ops = Arg(args, "--ops", 20_000);
        var window = Arg(args, "--window", 100);
        await using var server = await EmbeddedZooKeeper.StartAsync();
        var path = "/bench";
        await using var client = new ZooKeeperClient(new ZooKeeperClientOptions { ConnectString = server.ConnectString });
        await client.ConnectAsync();
        await client.CreateAsync(path, new byte[100]);

        await MeasureAsync(ops, window, () => client.GetDataAsync(path)); // warm-up
        var kielGet = await MeasureAsync(ops, window, () => client.GetDataAsync(path));
        var data = new byte[100];
        var kielSet = await MeasureAsync(ops, window, () => client.SetDataAsync(path, data));

        var (kazooGet, kazooSet) = await RunKazooAsync(server.ConnectString, path, ops, window);
        Console.WriteLine($"ZooKeeper round trips, {ops} ops, window {window}, one standalone server, 100-byte data");
        Console.WriteLine($"getData: Kiel {kielGet:N0}/s  kazoo {kazooGet:N0}/s  ratio {kielGet / kazooGet:0.0}x");
        Console.WriteLine($"setData: Kiel {kielSet:N0}/s  kazoo {kazooSet:N0}/s  ratio {kielSet / kazooSet:0.0}x");
        return 0;
    }

    private static async Task<double> MeasureAsync<T>(int ops, int window, Func<Task<T>> call)
    {
        var clock = Stopwatch.StartNew();
        var tasks = new Task<T>[window];
        for (var done = 0; done < ops;)
        {
            var n = Math.Min(window, ops - done);
            for (var i = 0; i < n; i++) tasks[i] = call();
            for (var i = 0; i < n; i++) await tasks[i].ConfigureAwait(false);
            done += n;
        }
        return ops / clock.Elapsed.TotalSeconds;
    }

    private static async Task<(double Get, double Set)> RunKazooAsync(string hosts, string path, int ops, int window)
    {
        var info = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-c", KazooScript, hosts, path, ops.ToString(CultureInfo.InvariantCulture), window.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { process.Kill(); throw; }
        if (process.ExitCode != 0) throw new InvalidOperationException("kazoo failed: " + await stderr);
        double get = 0, set = 0;
        foreach (var line in (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ');
            var value = double.Parse(parts[1], CultureInfo.InvariantCulture);
            if (parts[0] == "get") get = value; else if (parts[0] == "set") set = value;
        }
        return (get, set);
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
