using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Kiel.Extensions.Hosting;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Kiel.IntegrationTests.Hosting;

/// <summary>The hosting integration: options bound from configuration, and the sample worker app as a process.</summary>
public sealed class HostingTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task OptionsAreBoundFromConfiguration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Producer:BootstrapServers:0"] = "127.0.0.1:1",
            ["Producer:BootstrapServers:1"] = "127.0.0.1:4",
            ["Producer:Acks"] = "Leader",
            ["Producer:EnableIdempotence"] = "false",
            ["Producer:Linger"] = "00:00:00.020",
            ["Producer:Compression"] = "Zstd",
            ["Consumer:BootstrapServers"] = "127.0.0.1:1,127.0.0.1:5",
            ["Consumer:Group"] = "g",
            ["Consumer:ZooKeeperHosts:0"] = "127.0.0.1:2",
            ["Consumer:ZooKeeperHosts:1"] = "127.0.0.1:3",
            ["Consumer:AutoOffsetReset"] = "Earliest",
            ["Consumer:FetchMaxWait"] = "00:00:00.250",
        }).Build();
        var services = new ServiceCollection()
            .AddKielProducer<string, string>(configuration.GetSection("Producer"))
            .AddKielGroupedConsumer<string>(configuration.GetSection("Consumer"));
        await using var provider = services.BuildServiceProvider();

        var producer = provider.GetRequiredService<KielProducer<string, string>>();
        // An array of entries is joined into the one comma-separated string.
        Assert.Equal("127.0.0.1:1,127.0.0.1:4", producer.Options.BootstrapServers);
        Assert.Equal(Acks.Leader, producer.Options.Acks);
        Assert.Equal(TimeSpan.FromMilliseconds(20), producer.Options.Linger);
        Assert.Equal(Kiel.CompressionType.Zstd, producer.Options.Compression);

        var consumer = provider.GetRequiredService<GroupedConsumer<string>>();
        Assert.Equal("g", consumer.Options.Group);
        Assert.Equal("127.0.0.1:1,127.0.0.1:5", consumer.Options.BootstrapServers);
        Assert.Equal(TimeSpan.FromMilliseconds(250), consumer.Options.FetchMaxWait);
        // Configured hosts replace the default 127.0.0.1:2181 rather than join it.
        Assert.Equal(["127.0.0.1:2", "127.0.0.1:3"], consumer.Options.ZooKeeperHosts);
        Assert.Equal(OffsetResetPolicy.Earliest, consumer.Options.AutoOffsetReset);
    }

    [Fact]
    public void AMisspeltOptionIsAnError()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Producer:BootstrapServers"] = "127.0.0.1:1",
            ["Producer:Lingr"] = "00:00:00.020",
        }).Build();
        using var provider = new ServiceCollection().AddKielProducer<string, string>(configuration.GetSection("Producer")).BuildServiceProvider();
        var error = Assert.ThrowsAny<InvalidOperationException>(() => provider.GetRequiredService<KielProducer<string, string>>());
        Assert.Contains("Lingr", error.Message);
    }

    [ZooKeeperFact]
    public async Task SampleWorkerStartsConsumesAndStopsCleanly()
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3, Topics = [new EmbeddedTopic("orders", 3)] });
        await using var zookeeper = await EmbeddedZooKeeper.StartAsync();
        await using (var producer = new KielProducer<string, string>(new KielProducerOptions { BootstrapServers = cluster.BootstrapServers }))
        {
            for (var i = 1; i <= 20; i++)
            {
                await producer.ProduceAsync("orders", $"order-{i}", $"{{\"Id\":{i},\"Amount\":{i}.5}}");
            }
        }

        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["DOTNET_EnableDiagnostics"] = "0"; // a killed host leaves no diagnostic pipes in TMPDIR
        psi.ArgumentList.Add(SampleDll());
        psi.ArgumentList.Add($"--Kiel:Consumer:BootstrapServers={cluster.BootstrapServers}");
        psi.ArgumentList.Add($"--Kiel:Consumer:ZooKeeperHosts:0={zookeeper.ConnectString}");
        var output = new StringBuilder();
        var processedAll = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = new Process { StartInfo = psi };
        void OnLine(object? _, DataReceivedEventArgs e)
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (e.Data.Contains("; 20 so far", StringComparison.Ordinal)) processedAll.TrySetResult();
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await processedAll.Task.WaitAsync(Bound);
            // SIGINT, as Ctrl-C: the host stops the worker, which winds the member down.
            Assert.Equal(0, Kill(process.Id, 2));
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(exit.Token);
            string text;
            lock (output) text = output.ToString();
            Assert.True(process.ExitCode == 0, text);
            Assert.Contains("worker stopped after 20 orders", text);
            Assert.DoesNotContain("Exception", text);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            string text;
            lock (output) text = output.ToString();
            throw new TimeoutException($"The sample worker did not consume and stop in time. Output:\n{text}", e);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
        }
    }

    private static string SampleDll()
    {
        var configuration = typeof(HostingTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var cli = KielCliProcess.KielDll();
        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(cli)!, "..", "..", "..", "..", ".."));
        var dll = Path.Combine(root, "samples", "Kiel.Samples.Worker", "bin", configuration, "net10.0", "Kiel.Samples.Worker.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build the sample first: dotnet build -c {configuration} samples/Kiel.Samples.Worker", dll);
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
