using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kiel.IntegrationTests.Capture;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.Fixtures;
using Kiel.IntegrationTests.Groups;
using Kiel.Producing;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.IntegrationTests.Transactions;

/// <summary>
/// Consume-transform-produce with a Kafka consumer group, in a separate process (tests/Kiel.GroupMemberHost,
/// "kafka-txn" mode), SIGKILLed in the middle of a transaction and resumed by a new instance with the same
/// transactional id. The mock neither fences the dead instance nor aborts its open transaction; the proxy's
/// <see cref="CoordinatorFencing"/> does both when the new instance calls InitProducerId, as a real coordinator does
/// (EndTxn(abort) for the dead instance, so the mock writes the ABORT markers, and Fetch responses list the aborted
/// batches). The mock also answers TxnOffsetCommit
/// without storing the offsets (a real coordinator stores them when the transaction commits), so the test reads the
/// TxnOffsetCommit requests of the committed transactions off the proxy, checks them (group, member id, generation,
/// offsets), and stores what a real coordinator would have stored with a plain OffsetCommit.
/// </summary>
public sealed class ConsumeTransformProduceTests
{
    private const int Partitions = 2, PerPartition = 30, PerTransaction = 5, StallAt = 4;

    /// <summary>
    /// Killed after its records (before its offsets), or after its offsets were sent too (between TxnOffsetCommit and
    /// EndTxn): either way the dead transaction is aborted, its offsets are not the group's, and the new instance
    /// reprocesses its input.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Killed_mid_transaction_and_resumed_the_output_read_committed_holds_each_input_record_exactly_once(bool afterOffsets)
    {
        await using var cluster = await TransactionCluster.StartAsync(coordinator: true);
        var input = KafkaClusterFixture.UniqueTopic("ctp-in");
        var output = KafkaClusterFixture.UniqueTopic("ctp-out");
        var group = KafkaClusterFixture.UniqueTopic("ctp-group");
        cluster.Cluster.CreateTopic(input, Partitions);
        cluster.Cluster.CreateTopic(output, Partitions);
        var expected = new List<string>();
        await using (var producer = new KielProducer<string, string>(new KielProducerOptions { BootstrapServers = cluster.Bootstrap, Linger = TimeSpan.FromMilliseconds(1) }))
        {
            var acks = new List<ValueTask<DeliveryReport>>();
            for (var p = 0; p < Partitions; p++)
                for (var i = 0; i < PerPartition; i++)
                {
                    acks.Add(producer.ProduceAsync(input, $"k{p}", $"in-{p}-{i}", partition: p));
                    expected.Add($"IN-{p}-{i}");
                }
            foreach (var a in acks) await a;
        }

        // The first instance commits StallAt transactions, then produces the next one's records (and sends its offsets)
        // and hangs with it open.
        Dictionary<int, long> firstCommitted, openNext;
        HashSet<(int Partition, long Offset)> abandoned;
        await using (var first = await TransactionalProcess.StartAsync(cluster.ProxyBootstrap, group, input, output, "ctp-1", StallAt, afterOffsets))
        {
            await first.WaitForAsync(() => first.IsOpen, 60, "the first instance to hang with a transaction open");
            Assert.Equal(StallAt, first.Transactions);
            Assert.Equal(PerTransaction, first.OpenOffsets.Count);
            first.Kill();
            await first.WaitForExitAsync();
            abandoned = first.OpenOffsets.Select(o => (o.Partition, o.Offset)).ToHashSet();
            firstCommitted = first.Committed;
            openNext = first.OpenNext;
        }
        Assert.Equal(StallAt * PerTransaction, firstCommitted.Values.Sum());

        // Each committed transaction sent its input offsets with the group member's metadata, then EndTxn(commit); the
        // open one sent none, or (killed after its offsets) a TxnOffsetCommit and no EndTxn. What a real coordinator holds
        // for the group now: the last offsets per partition of the committed transactions (the dead transaction's are
        // dropped when it is aborted).
        var requests = cluster.Proxy.Frames.Where(f => f.Direction == FrameDirection.Request && f.ApiKey is ApiKey.TxnOffsetCommit or ApiKey.EndTxn).ToList();
        Assert.Equal(Enumerable.Repeat(new[] { ApiKey.TxnOffsetCommit, ApiKey.EndTxn }, StallAt).SelectMany(x => x).Concat(afterOffsets ? new[] { ApiKey.TxnOffsetCommit } : []),
            requests.Select(f => f.ApiKey));
        var offsetCommits = new List<TxnOffsetCommitRequest>();
        foreach (var f in requests.Where(f => f.ApiKey == ApiKey.TxnOffsetCommit))
        {
            var frame = new KafkaReader(f.Frame.AsMemory());
            KafkaHeaders.ReadRequestHeader(ref frame);
            var r = TxnOffsetCommitRequest.Read(ref frame, f.ApiVersion);
            Assert.Equal(group, r.GroupId);
            Assert.Equal("ctp-1", r.TransactionalId);
            if (f.ApiVersion >= 3)
            {
                Assert.False(string.IsNullOrEmpty(r.MemberId), "TxnOffsetCommit without the member id");
                Assert.True(r.GenerationId >= 1, $"TxnOffsetCommit with generation {r.GenerationId}");
            }
            Assert.All(r.Topics, t => Assert.Equal(input, t.Name));
            offsetCommits.Add(r);
        }
        static Dictionary<int, long> Offsets(IEnumerable<TxnOffsetCommitRequest> commits)
        {
            var offsets = new Dictionary<int, long>();
            foreach (var r in commits) foreach (var t in r.Topics) foreach (var p in t.Partitions) offsets[p.PartitionIndex] = p.CommittedOffset;
            return offsets;
        }
        var stored = Offsets(offsetCommits.Take(StallAt));
        var last = offsetCommits[StallAt - 1];
        Assert.Equal(firstCommitted, stored);
        if (afterOffsets)
        {
            // The dead transaction's TxnOffsetCommit carried the offsets past its records: had they been kept, the new
            // instance would skip those input records and the output would lack them.
            var dead = Offsets(offsetCommits.Skip(StallAt));
            Assert.Equal(openNext, dead);
            Assert.Equal(PerTransaction, dead.Sum(kv => kv.Value - stored.GetValueOrDefault(kv.Key)));
        }
        else Assert.Empty(openNext);
        Assert.True(requests.Where(f => f.ApiKey == ApiKey.TxnOffsetCommit).All(f => f.ApiVersion >= 3), "expected TxnOffsetCommit v3+ (group metadata)");
        // The mock refuses a commit without a generation while the group has members: commit as the dead member (its
        // member id and generation, from its TxnOffsetCommit), before its session expires, as the coordinator would.
        await CommitAsMemberAsync(cluster.Bootstrap, group, last.MemberId, last.GenerationId, input, stored);

        // A new instance with the same transactional id resumes from the offsets the committed transactions stored for the group.
        await using (var second = await TransactionalProcess.StartAsync(cluster.ProxyBootstrap, group, input, output, "ctp-1", stallAt: -1, afterOffsets: false))
        {
            var total = Partitions * PerPartition / PerTransaction - StallAt;
            await second.WaitForAsync(() => second.Transactions >= total, 90, $"the second instance to commit {total} transactions");
            // The proxy's coordinator aborted the dead instance's open transaction (once, before the new InitProducerId),
            // and the batches it aborted start at records the dead instance wrote in it.
            Assert.Equal(1, cluster.Coordinator!.Aborts);
            var aborted = cluster.Injector.AbortedBatches.Keys.ToList();
            Assert.NotEmpty(aborted);
            Assert.All(aborted, k => Assert.True(k.Topic == output && abandoned.Contains((k.Partition, k.BaseOffset)), $"aborted a batch the dead transaction did not write: {k}"));
            Assert.Equal(Enumerable.Range(0, Partitions).ToDictionary(p => p, _ => (long)PerPartition), second.Committed);
            await second.LeaveAsync();
        }

        await using var reader = TransactionKit.ReadCommitted(cluster.ProxyBootstrap);
        await reader.AssignTopicAsync(output, StartPosition.Beginning);
        var read = await ConsumingHelpers.ReadAsync(reader, expected.Count, 60);
        Assert.Equal(expected.Order(StringComparer.Ordinal), read.Select(r => r.Value!).Order(StringComparer.Ordinal));
        foreach (var p in Enumerable.Range(0, Partitions))
            Assert.Equal(Enumerable.Range(0, PerPartition).Select(i => $"IN-{p}-{i}"), read.Where(r => r.Partition == p).Select(r => r.Value!));
        // Nothing more: the reader is at the end of both partitions' committed records.
        using var more = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var extra = 0;
        try { await foreach (var _ in reader.ConsumeAsync(more.Token)) extra++; }
        catch (OperationCanceledException) { }
        Assert.Equal(0, extra);
    }

    /// <summary>One OffsetCommit (v2) over a plain socket to the one broker, as the given group member.</summary>
    private static async Task CommitAsMemberAsync(string bootstrap, string group, string memberId, int generation, string topic, Dictionary<int, long> offsets)
    {
        const short Version = 2;
        var colon = bootstrap.LastIndexOf(':');
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(bootstrap[..colon]), int.Parse(bootstrap[(colon + 1)..])), cts.Token);
        var request = new OffsetCommitRequest
        {
            GroupId = group,
            GenerationIdOrMemberEpoch = generation,
            MemberId = memberId,
            Topics = [new OffsetCommitRequest.OffsetCommitRequestTopic
            {
                Name = topic,
                Partitions = [.. offsets.Select(kv => new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = kv.Key, CommittedOffset = kv.Value })],
            }],
        };
        var output = new ArrayBufferWriter<byte>();
        output.GetSpan(4);
        output.Advance(4);
        var writer = new KafkaWriter(output);
        KafkaHeaders.WriteRequestHeader(ref writer, ApiKey.OffsetCommit, Version, 11, "kiel-ctp-test");
        request.Write(ref writer, Version);
        writer.Flush();
        var frame = output.WrittenMemory.ToArray();
        BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length - 4);
        await socket.SendAsync(frame, SocketFlags.None, cts.Token);
        var size = new byte[4];
        await socket.ReceiveAsync(size.AsMemory(), SocketFlags.None, cts.Token);
        var body = new byte[BinaryPrimitives.ReadInt32BigEndian(size)];
        for (var read = 0; read < body.Length;)
        {
            var n = await socket.ReceiveAsync(body.AsMemory(read), SocketFlags.None, cts.Token);
            if (n == 0) throw new IOException("The broker closed the connection.");
            read += n;
        }
        var reader = new KafkaReader(body.AsMemory());
        Assert.Equal(11, KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.OffsetCommit, Version));
        var response = OffsetCommitResponse.Read(ref reader, Version);
        Assert.All(response.Topics.SelectMany(t => t.Partitions), p => Assert.Equal(0, p.ErrorCode));
    }

    /// <summary>The host in "kafka-txn" mode: READY, TXN n p:next,..., OUT partition offset, OPEN, LEFT.</summary>
    private sealed class TransactionalProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _errors = new();
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly object _gate = new();
        private readonly Dictionary<int, long> _committed = [];
        private readonly List<(int Partition, long Offset)> _open = [];
        private int _transactions;
        private volatile bool _isOpen;

        private TransactionalProcess(Process process) => _process = process;

        public int Transactions => Volatile.Read(ref _transactions);
        public bool IsOpen => _isOpen;
        public Dictionary<int, long> Committed { get { lock (_gate) return new(_committed); } }
        public List<(int Partition, long Offset)> OpenOffsets { get { lock (_gate) return [.. _open]; } }
        /// <summary>The input offsets the open transaction sent (OFFSETS), if it was killed after sending them.</summary>
        public Dictionary<int, long> OpenNext { get { lock (_gate) return new(_openNext); } }
        private readonly Dictionary<int, long> _openNext = [];

        public static async Task<TransactionalProcess> StartAsync(string brokers, string group, string input, string output, string transactionalId, int stallAt,
            bool afterOffsets)
        {
            Assert.True(File.Exists(MemberProcess.HostPath), $"member host not built: {MemberProcess.HostPath}");
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
            psi.Environment["DOTNET_EnableDiagnostics"] = "0"; // killed members leave no diagnostic pipes in TMPDIR
            foreach (var a in new[] { MemberProcess.HostPath, brokers, "kafka-txn", group, input, "5000", output, transactionalId, PerTransaction.ToString(), stallAt.ToString(), afterOffsets ? "offsets" : "records" })
                psi.ArgumentList.Add(a);
            var host = new TransactionalProcess(new Process { StartInfo = psi, EnableRaisingEvents = true });
            host._process.OutputDataReceived += (_, e) => { if (e.Data is not null) host.OnLine(e.Data); };
            host._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) host._errors.Enqueue(e.Data); };
            host._process.Start();
            host._process.BeginOutputReadLine();
            host._process.BeginErrorReadLine();
            await host.WaitForAsync(() => host._ready.Task.IsCompleted, 30, "the host to get ready");
            return host;
        }

        private void OnLine(string line)
        {
            var parts = line.Split(' ');
            lock (_gate)
                switch (parts[0])
                {
                    case "READY": _ready.TrySetResult(); break;
                    case "OUT": _open.Add((int.Parse(parts[1]), long.Parse(parts[2]))); break;
                    case "OPEN": _isOpen = true; break;
                    case "OFFSETS":
                        foreach (var pair in parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries))
                        {
                            var kv = pair.Split(':');
                            _openNext[int.Parse(kv[0])] = long.Parse(kv[1]);
                        }
                        break;
                    case "TXN":
                        foreach (var pair in parts[2].Split(',', StringSplitOptions.RemoveEmptyEntries))
                        {
                            var kv = pair.Split(':');
                            _committed[int.Parse(kv[0])] = long.Parse(kv[1]);
                        }
                        Interlocked.Increment(ref _transactions);
                        break;
                }
        }

        public async Task WaitForAsync(Func<bool> condition, double seconds, string what)
        {
            var deadline = Stopwatch.StartNew();
            while (!condition())
            {
                if (_process.HasExited) Assert.Fail($"the host exited while waiting for {what}: {string.Join("\n", _errors)}");
                if (deadline.Elapsed > TimeSpan.FromSeconds(seconds)) Assert.Fail($"timed out waiting for {what}: {string.Join("\n", _errors)}");
                await Task.Delay(20);
            }
        }

        /// <summary>SIGKILL: no wind-down, no EndTxn, no LeaveGroup.</summary>
        public void Kill() => _process.Kill(entireProcessTree: true);

        public async Task WaitForExitAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token);
        }

        public async Task LeaveAsync()
        {
            await _process.StandardInput.WriteLineAsync("leave");
            await _process.StandardInput.FlushAsync();
            await WaitForExitAsync();
            Assert.True(_process.ExitCode == 0, "host failed: " + string.Join("\n", _errors));
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    await WaitForExitAsync();
                }
            }
            catch (InvalidOperationException) { }
            _process.Dispose();
        }
    }
}
