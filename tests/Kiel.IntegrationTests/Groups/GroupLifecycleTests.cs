using System.Collections.Concurrent;
using System.Text;
using Kiel.Testing;
using Kiel.Testing.ZooKeeper;
using Kiel.ZooKeeper;

namespace Kiel.IntegrationTests.Groups;

/// <summary>A 3-server ZooKeeper ensemble and a 3-broker cluster for the membership lifecycle.</summary>
public sealed class EnsembleEnvironment : IAsyncLifetime
{
    public EmbeddedKafkaCluster Kafka { get; private set; } = null!;

    public EmbeddedZooKeeperEnsemble Ensemble { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var zk = EmbeddedZooKeeperEnsemble.StartAsync(3);
        Kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        Ensemble = await zk;
    }

    public async Task DisposeAsync()
    {
        if (Kafka is not null) await Kafka.DisposeAsync();
        if (Ensemble is not null) await Ensemble.DisposeAsync();
    }
}

/// <summary>
/// Join, clean leave, loss of a ZooKeeper server, a forced session expiry and a kill: after each, the allocation
/// converges within the session timeout plus 5 s, no two members read a partition at once (owner nodes and records),
/// nothing is lost, clean changes duplicate nothing, and the frozen or killed member's records are repeated only from
/// its last commit on.
/// </summary>
[Trait("Category", "Groups")]
public sealed class GroupLifecycleTests(EnsembleEnvironment env) : IClassFixture<EnsembleEnvironment>
{
    private const int Partitions = 12;
    private const int SessionMs = 4000;
    private static readonly TimeSpan Converge = TimeSpan.FromMilliseconds(SessionMs) + TimeSpan.FromSeconds(5);

    private GroupedConsumerOptions Options(string group)
        => GroupEnvironment.MemberOptions(env.Kafka.BootstrapServers, group, [env.Ensemble.ConnectString], TimeSpan.FromMilliseconds(SessionMs))
            with { MetadataMaxAge = TimeSpan.FromSeconds(2) };

    [Fact]
    public async Task Join_leave_server_loss_expiry_and_kill_converge_without_overlap_or_loss()
    {
        var topic = GroupEnvironment.Unique("life");
        var group = GroupEnvironment.Unique("g");
        env.Kafka.CreateTopic(topic, Partitions);
        var log = new DeliveryLog();
        var produced = 0;
        var violations = new ConcurrentQueue<string>();
        await using var zk = await ZooKeeperClient.ConnectAsync(env.Ensemble.ConnectString, TimeSpan.FromSeconds(10));

        async Task ProduceAndReadAllAsync(int count)
        {
            await ProduceAsync(topic, produced, count);
            produced += count;
            var target = produced;
            Assert.True(await GroupScaleTests.WaitAsync(() => log.Distinct().Count >= target, TimeSpan.FromSeconds(30)), $"consumed {log.Distinct().Count} of {target}");
        }

        HashSet<int> Expected(IReadOnlyList<string> members, string member)
            => Allocators.Naive(members, Enumerable.Range(0, Partitions).Select(p => $"{topic}:{p}").ToArray()).TryGetValue(member, out var t) ? t[topic].ToHashSet() : [];

        async Task ConvergeAsync(IReadOnlyList<InProcessMember> inProcess, MemberProcess? host, string step)
        {
            var names = inProcess.Select(m => m.Consumer.Name).Concat(host is null ? [] : [host.Name]).ToArray();
            var ok = await GroupScaleTests.WaitAsync(() =>
                inProcess.All(m => m.Allocation.SetEquals(Expected(names, m.Consumer.Name)))
                && (host is null || host.Allocation.SetEquals(Expected(names, host.Name))), Converge);
            Assert.True(ok, $"{step}: no convergence within {Converge.TotalSeconds} s: " + string.Join("; ", inProcess.Select(m => $"{m.Consumer.Name}=[{string.Join(",", m.Allocation.Order())}]")) + (host is null ? "" : $"; host=[{string.Join(",", host.Allocation.Order())}]"));
            // The owner nodes agree with what each member reads.
            var owners = await ReadOwnersAsync(zk, group);
            foreach (var m in inProcess)
                foreach (var p in m.Allocation)
                    Assert.True(owners.TryGetValue($"{topic}:{p}", out var o) && o == m.Consumer.Name, $"{step}: owner node of {topic}:{p} is {(owners.TryGetValue($"{topic}:{p}", out var x) ? x : "missing")}, not {m.Consumer.Name}");
        }

        // Samples the in-process members all along: no partition is ever in two allocations at once.
        var live = new ConcurrentDictionary<string, InProcessMember>();
        using var stopSampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested)
            {
                // Two passes: a partition counts as a member's only when both reads of that member have it, so that
                // two members overlap for sure (every first read precedes every second one). One pass would report a
                // hand-over that completed between the reads of two members on a busy machine as an overlap.
                var members = live.Values.ToArray();
                var firstPass = members.Select(m => m.Allocation).ToArray();
                var seen = new Dictionary<int, string>();
                for (var i = 0; i < members.Length; i++)
                    foreach (var p in members[i].Allocation.Intersect(firstPass[i]))
                        if (!seen.TryAdd(p, members[i].Consumer.Name)) violations.Enqueue($"partition {p} allocated to {seen[p]} and {members[i].Consumer.Name} at once");
                try { await Task.Delay(20, stopSampling.Token); } catch (OperationCanceledException) { }
            }
        });

        // 1. Two members, one in its own process.
        var a = await InProcessMember.StartAsync(Options(group), log, topic);
        live[a.Consumer.Name] = a;
        var host = await MemberProcess.StartAsync(log, env.Kafka.BootstrapServers, env.Ensemble.ConnectString, group, topic, SessionMs);
        try
        {
            await ConvergeAsync([a], host, "start");
            await ProduceAndReadAllAsync(1200);

            // 2. A member joins.
            var b = await InProcessMember.StartAsync(Options(group), log, topic);
            live[b.Consumer.Name] = b;
            await ConvergeAsync([a, b], host, "join");
            await ProduceAndReadAllAsync(1200);

            // 3. It leaves cleanly.
            await b.LeaveAsync();
            live.TryRemove(b.Consumer.Name, out _);
            await b.DisposeAsync();
            await ConvergeAsync([a], host, "clean leave");
            await ProduceAndReadAllAsync(1200);
            Assert.Empty(log.Duplicates());

            // 4. The ensemble loses a server: sessions move to the others and nothing is rebalanced.
            await env.Ensemble.StopServerAsync(0);
            await Task.Delay(1000);
            await ConvergeAsync([a], host, "server loss");
            await ProduceAndReadAllAsync(1200);
            Assert.Empty(log.Duplicates());

            // 5. The host's session is forced to expire: it is frozen past its session timeout while it is consuming, so
            //    it wakes up with fetched records for partitions that are no longer its own (the lease check keeps them in).
            var hostBeforeFreeze = log.All.Count(d => d.Member == host.Name);
            var streaming = ProduceAsync(topic, produced, 6000);
            produced += 6000;
            Assert.True(await GroupScaleTests.WaitAsync(() => log.All.Count(d => d.Member == host.Name) > hostBeforeFreeze + 200, TimeSpan.FromSeconds(30)));
            host.Freeze();
            // The event is when the member is known stopped: a signal lands a moment after it is sent (longer on a busy
            // machine), and what the member handed out until then it handed out while alive and owning its partitions.
            Assert.True(await GroupScaleTests.WaitAsync(() => host.IsStopped, TimeSpan.FromSeconds(10)), "the frozen member did not stop");
            var frozenAt = System.Diagnostics.Stopwatch.GetTimestamp();
            await streaming;
            await Task.Delay(500);
            var committedAtFreeze = host.Committed;
            await ConvergeAsync([a], null, "expiry (others take over)");
            await ProduceAndReadAllAsync(1200);
            host.Thaw();
            await ConvergeAsync([a], host, "expiry (member rejoins)");
            await ProduceAndReadAllAsync(1200);
            CheckRepeats(log, host.Name, committedAtFreeze, frozenAt, violations, "expiry");

            // 6. The host is killed while it is consuming.
            var hostBefore = log.All.Count(d => d.Member == host.Name);
            var busy = ProduceAsync(topic, produced, 6000);
            produced += 6000;
            Assert.True(await GroupScaleTests.WaitAsync(() => log.All.Count(d => d.Member == host.Name) > hostBefore + 200, TimeSpan.FromSeconds(30)));
            host.Kill();
            // As for the freeze: the event is when the member is known dead, not when it was asked to die.
            Assert.True(await GroupScaleTests.WaitAsync(() => host.HasExited, TimeSpan.FromSeconds(10)), "the killed member did not exit");
            var killedAt = System.Diagnostics.Stopwatch.GetTimestamp();
            // Drain what it printed before it died; nobody else can take its partitions before its session times out.
            await Task.Delay(300);
            var committedAtKill = host.Committed;
            await busy;
            await ConvergeAsync([a], null, "kill");
            await ProduceAndReadAllAsync(1200);
            CheckRepeats(log, host.Name, committedAtKill, killedAt, violations, "kill");

            await a.LeaveAsync();
            live.TryRemove(a.Consumer.Name, out _);
        }
        finally
        {
            stopSampling.Cancel();
            await sampler;
            await host.DisposeAsync();
            await a.DisposeAsync();
            if (!env.Ensemble.IsRunning(0)) await env.Ensemble.StartServerAsync(0);
        }

        var expected = Enumerable.Range(0, produced).Select(i => (i % Partitions, (long)(i / Partitions))).ToHashSet();
        Assert.True(expected.SetEquals(log.Distinct()), "lost or extra records");
        Assert.True(violations.IsEmpty, $"{violations.Count} violations:\n" + string.Join("\n", violations.Take(10)));
    }

    /// <summary>
    /// Repeats are allowed only for records the lost member handed out before the event at or after its last commit,
    /// handed out again by another member; and after the member is back it repeats nothing the others handed out.
    /// </summary>
    /// <remarks>A lost member frozen inside a consume call returns, after the thaw, the records it approved before the
    /// freeze, stamped after the thaw. Its records from a call that began before the event count as handed out when
    /// the call began: the hand-out could have been approved then, and the consumer cannot take back a list it has
    /// approved. A call that begins after the event is judged by its return.</remarks>
    private static void CheckRepeats(DeliveryLog log, string lost, Dictionary<int, long> committed, long before, ConcurrentQueue<string> violations, string step)
    {
        long HandedOut(Delivery d) => d.Member == lost && d.CallStarted != 0 && d.CallStarted <= before ? d.CallStarted : d.At;
        var repeats = 0;
        foreach (var g in log.Duplicates())
        {
            var ordered = g.OrderBy(HandedOut).ToList();
            for (var i = 1; i < ordered.Count; i++)
            {
                var (first, again) = (ordered[i - 1], ordered[i]);
                if (HandedOut(again) <= before) continue; // judged at an earlier step
                var allowed = first.Member == lost && HandedOut(first) <= before && again.Member != lost
                    && (!committed.TryGetValue(first.Partition, out var c) || first.Offset >= c);
                if (allowed) repeats++;
                else violations.Enqueue($"{step}: {(again.Member == lost ? "lost member" : "other")} {again.Member} (at {again.At}) repeated {again.Partition}@{again.Offset} first handed out by {(first.Member == lost ? "lost member" : "other")} {first.Member} (at {first.At}); event at {before}, committed {(committed.TryGetValue(first.Partition, out var cc) ? cc : -1)}");
            }
        }
        Console.WriteLine($"{step}: {repeats} records repeated from the lost member's last commit on");
    }

    private static async Task<Dictionary<string, string>> ReadOwnersAsync(ZooKeeperClient zk, string group)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        IReadOnlyList<string> children;
        try { children = await zk.GetChildrenAsync($"/kiel/groups/{group}/owners"); }
        catch (NoNodeException) { return result; }
        foreach (var c in children)
        {
            try { result[c] = Encoding.UTF8.GetString((await zk.GetDataAsync($"/kiel/groups/{group}/owners/{c}")).Data); }
            catch (NoNodeException) { }
        }
        return result;
    }

    private Task ProduceAsync(string topic, int from, int count) => GroupEnvironment.ProduceAsync(env.Kafka.BootstrapServers, topic, Partitions, from, count);
}
