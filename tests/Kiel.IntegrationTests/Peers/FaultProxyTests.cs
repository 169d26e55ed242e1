using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Producing;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Peers;

/// <summary>
/// The <see cref="FaultProxy"/> proven with a peer we did not write (Confluent.Kafka 2.16) before the chaos campaign
/// relies on it: traffic flows through it, Metadata sends clients to its listeners, a cut is a reset that Confluent
/// recovers from, half-open holds requests without closing, and slow delays frames.
/// </summary>
public sealed class FaultProxyTests
{
    private const string Topic = "proxied";

    /// <summary>A 3-broker embedded cluster with the topic, behind a proxy seeded 7; disposing stops the proxy, then the cluster.</summary>
    private sealed class Rig(EmbeddedKafkaCluster cluster, FaultProxy proxy) : IAsyncDisposable
    {
        public FaultProxy Proxy { get; } = proxy;

        public static async Task<Rig> StartAsync()
        {
            var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3, Topics = [new EmbeddedTopic(Topic, 3, 1)] });
            return new Rig(cluster, FaultProxy.Start(cluster.BootstrapServers, seed: 7));
        }

        public async ValueTask DisposeAsync()
        {
            await Proxy.DisposeAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>A Confluent producer through the proxy (60 s message timeout) that has delivered one record, so its connections are open.</summary>
    private static async Task<IProducer<string, string>> WarmProducerAsync(FaultProxy proxy, CancellationToken ct)
    {
        var producer = ConfluentClients.Producer(proxy.BootstrapServers, c => c.MessageTimeoutMs = 60_000);
        try
        {
            await producer.ProduceAsync(Topic, new Message<string, string> { Key = "warm", Value = "x" }, ct);
            return producer;
        }
        catch
        {
            producer.Dispose();
            throw;
        }
    }

    private static HashSet<int> Ports(string bootstrap) =>
        bootstrap.Split(',').Select(a => int.Parse(a[(a.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();

    [Fact]
    public async Task Confluent_produces_and_consumes_through_the_proxy_and_metadata_names_only_its_listeners()
    {
        await using var rig = await Rig.StartAsync();
        var proxy = rig.Proxy;
        using var cts = TestTimeouts.After(60);

        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = proxy.BootstrapServers }).Build())
        {
            var metadata = admin.GetMetadata(TimeSpan.FromSeconds(20));
            Assert.Equal(3, metadata.Brokers.Count);
            Assert.All(metadata.Brokers, b => Assert.Contains(b.Port, Ports(proxy.BootstrapServers)));
        }

        using (var producer = ConfluentClients.Producer(proxy.BootstrapServers))
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 300)
                .Select(i => producer.ProduceAsync(Topic, new Message<string, string> { Key = $"k{i}", Value = $"v{i}" }, cts.Token)));
            Assert.All(results, r => Assert.Equal(PersistenceStatus.Persisted, r.Status));
        }

        using var consumer = ConfluentClients.Consumer(proxy.BootstrapServers, "g-proxied");
        consumer.Assign(Enumerable.Range(0, 3).Select(p => new TopicPartitionOffset(Topic, p, Offset.Beginning)));
        var read = ConfluentClients.ConsumeCount(consumer, 300, cts.Token);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"k{i}=v{i}").Order(), read.Select(r => $"{r.Message.Key}={r.Message.Value}").Order());
        Assert.True(proxy.OpenConnections > 0, "the clients' connections go through the proxy");
        Assert.Equal(0, proxy.ConnectionsCut);
    }

    [Fact]
    public async Task A_cut_resets_the_connection_and_Confluent_reconnects_and_delivers()
    {
        await using var rig = await Rig.StartAsync();
        var proxy = rig.Proxy;
        using var cts = TestTimeouts.After(90);
        using var producer = ConfluentClients.Producer(proxy.BootstrapServers);
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(PersistenceStatus.Persisted, (await producer.ProduceAsync(Topic, new Message<string, string> { Key = $"a{i}", Value = "x" }, cts.Token)).Status);
        }

        var cut = proxy.Cut();
        Assert.True(cut > 0, "the producer had connections to cut");
        Assert.Equal(cut, proxy.ConnectionsCut);
        var after = await Task.WhenAll(Enumerable.Range(0, 30)
            .Select(i => producer.ProduceAsync(Topic, new Message<string, string> { Key = $"b{i}", Value = "x" }, cts.Token)));
        Assert.All(after, r => Assert.Equal(PersistenceStatus.Persisted, r.Status));
        Assert.True(proxy.OpenConnections > 0, "Confluent reconnected through the proxy");
    }

    [Fact]
    public async Task A_cut_is_a_reset_not_an_orderly_close()
    {
        await using var rig = await Rig.StartAsync();
        var proxy = rig.Proxy;
        var port = Ports(proxy.BootstrapServers).First();
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        Assert.True(await TestTimeouts.WaitUntilAsync(() => proxy.OpenConnections == 1, TimeSpan.FromSeconds(20)));
        Assert.Equal(1, proxy.Cut());
        var read = Record.ExceptionAsync(async () =>
        {
            using var cts = TestTimeouts.After(20);
            var n = await socket.ReceiveAsync(new byte[16], SocketFlags.None, cts.Token);
            Assert.Fail($"read {n} byte(s) instead of a reset");
        });
        var e = Assert.IsType<SocketException>(await read);
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }

    [Fact]
    public async Task Half_open_holds_requests_on_open_sockets_until_healed()
    {
        await using var rig = await Rig.StartAsync();
        var proxy = rig.Proxy;
        using var cts = TestTimeouts.After(90);
        using var producer = await WarmProducerAsync(proxy, cts.Token);
        var open = proxy.OpenConnections;

        proxy.HalfOpen();
        var held = producer.ProduceAsync(Topic, new Message<string, string> { Key = "held", Value = "x" }, cts.Token);
        // Nothing can answer while forwarding is stopped; the sockets stay open (no close for the client to notice).
        await Task.Delay(TimeSpan.FromSeconds(1.5), cts.Token);
        Assert.False(held.IsCompleted, "a request went through a half-open proxy");
        Assert.True(proxy.OpenConnections >= open, $"{open} connection(s) before, {proxy.OpenConnections} while half-open: none may close");

        proxy.Heal();
        Assert.Equal(PersistenceStatus.Persisted, (await held.WaitAsync(cts.Token)).Status);
        Assert.Equal(0, proxy.ConnectionsCut);
    }

    [Fact]
    public async Task Stall_resumes_by_itself_and_slow_delays_every_frame()
    {
        await using var rig = await Rig.StartAsync();
        var proxy = rig.Proxy;
        using var cts = TestTimeouts.After(90);
        using var producer = await WarmProducerAsync(proxy, cts.Token);

        var clock = Stopwatch.StartNew();
        proxy.Stall(TimeSpan.FromSeconds(1));
        await producer.ProduceAsync(Topic, new Message<string, string> { Key = "stalled", Value = "x" }, cts.Token);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"a stalled proxy answered after {clock.ElapsedMilliseconds} ms");

        proxy.Slow(TimeSpan.FromMilliseconds(400));
        clock.Restart();
        await producer.ProduceAsync(Topic, new Message<string, string> { Key = "slow", Value = "x" }, cts.Token);
        // A request and its response each wait 400 ms.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(750), $"a slowed round trip took only {clock.ElapsedMilliseconds} ms");
        proxy.Slow(TimeSpan.Zero);
    }

    [Fact]
    public async Task Kiel_delivers_every_record_across_repeated_cuts()
    {
        await using var rig = await Rig.StartAsync();
        var proxy = rig.Proxy;
        using var cts = TestTimeouts.After(120);
        await using var producer = new KielProducer<string, string>(new KielProducerOptions { BootstrapServers = proxy.BootstrapServers, DeliveryTimeout = TimeSpan.FromSeconds(60) });
        var deliveries = new List<Task<DeliveryReport>>();
        for (var round = 0; round < 5; round++)
        {
            for (var i = 0; i < 50; i++)
            {
                deliveries.Add(producer.ProduceAsync(Topic, $"r{round}-{i}", "x", cancellationToken: cts.Token).AsTask());
            }

            proxy.Cut();
            await Task.Delay(100, cts.Token);
        }

        var reports = await Task.WhenAll(deliveries);
        Assert.All(reports, r => Assert.True(r.IsDelivered));
        Assert.True(proxy.ConnectionsCut > 0);
    }
}
