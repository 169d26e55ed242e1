using Confluent.Kafka;
using Kiel.Cluster;
using Kiel.Consuming;
using Kiel.Groups.Kafka;
using Kiel.IntegrationTests.Consuming;
using Kiel.IntegrationTests.KafkaGroups;
using Kiel.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.IntegrationTests.Groups;

/// <summary>
/// KIP-848 (ConsumerGroupHeartbeat v1) on the embedded cluster: Kiel's <see cref="ConsumerGroupMember"/> and
/// Confluent.Kafka 2.16 members with <c>group.protocol=consumer</c> in one group; the broker's assignment is split
/// between them without a partition ever owned twice, and comes back whole when one leaves; an injected
/// FENCED_MEMBER_EPOCH makes Kiel's member lose its partitions, rejoin with epoch 0 and get them back.
/// </summary>
public class ConsumerGroupProtocolTests
{
    private const string Topic = "kip848";
    private const int Partitions = 6;
    private const short ConsumerGroupHeartbeatKey = 68;

    private sealed class Listener : IGroupMemberListener
    {
        private readonly HashSet<Kiel.TopicPartition> _owned = [];
        public List<string> Events { get; } = [];

        public ValueTask OnAssignedAsync(IReadOnlyList<Kiel.TopicPartition> partitions, CancellationToken cancellationToken) => Change("assigned", partitions, add: true);
        public ValueTask OnRevokedAsync(IReadOnlyList<Kiel.TopicPartition> partitions, CancellationToken cancellationToken) => Change("revoked", partitions, add: false);
        public ValueTask OnLostAsync(IReadOnlyList<Kiel.TopicPartition> partitions, CancellationToken cancellationToken) => Change("lost", partitions, add: false);
        public (long HandOuts, bool Waiting) Progress => (0, true);
        public void OnFailed(Exception error) => Events.Add("failed " + error.GetType().Name);

        public int[] Owned()
        {
            lock (_owned) return [.. _owned.Select(tp => tp.Partition).Order()];
        }

        public bool Saw(string what)
        {
            lock (_owned) return Events.Any(e => e.StartsWith(what, StringComparison.Ordinal));
        }

        private ValueTask Change(string what, IReadOnlyList<Kiel.TopicPartition> partitions, bool add)
        {
            lock (_owned)
            {
                Events.Add($"{what} {string.Join(",", partitions)}");
                foreach (var tp in partitions)
                    if (add) _owned.Add(tp);
                    else _owned.Remove(tp);
            }
            return ValueTask.CompletedTask;
        }
    }

    private static ConsumerConfig Kip848Config(string bootstrap, string group) => new()
    {
        BootstrapServers = bootstrap,
        GroupId = group,
        GroupProtocol = Confluent.Kafka.GroupProtocol.Consumer,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = false,
        FetchWaitMaxMs = 10,
        ReconnectBackoffMs = 50,
        ReconnectBackoffMaxMs = 500,
        TopicMetadataRefreshIntervalMs = 1000,
    };

    private static async Task<(KafkaCluster Cluster, ConsumerGroupMember Member, Listener Listener)> KielMemberAsync(EmbeddedKafkaCluster kafka, string group, string? instanceId = null)
    {
        var cluster = new KafkaCluster(ClusterOptions.FromBootstrapString(kafka.BootstrapServers) with { RequestTimeout = TimeSpan.FromSeconds(10) });
        await cluster.StartAsync();
        var listener = new Listener();
        var member = new ConsumerGroupMember(new ClusterHeartbeatChannel(cluster, group),
            new ConsumerGroupMemberSettings(group, instanceId, null, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50), TimeProvider.System),
            listener, NullLogger.Instance);
        member.Subscribe([Topic]);
        return (cluster, member, listener);
    }

    private static int[] AssignedOf(IConsumer<byte[], byte[]> c) => [.. c.Assignment.Select(tp => tp.Partition.Value).Order()];

    /// <summary>Polls the Confluent consumers until <paramref name="done"/> holds; fails after 60 s with what was seen.</summary>
    private static async Task PollUntilAsync(Func<bool> done, string what, Func<string> state, params IConsumer<byte[], byte[]>[] consumers)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        await Task.Run(() =>
        {
            while (!done())
            {
                Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}: {state()}");
                if (consumers.Length == 0) Thread.Sleep(20);
                foreach (var c in consumers) c.Consume(TimeSpan.FromMilliseconds(20));
            }
        });
    }

    [Fact]
    public async Task ConfluentAloneGetsEveryPartitionOverTheConsumerProtocol()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        kafka.CreateTopic(Topic, Partitions, 1);
        using var confluent = new ConsumerBuilder<byte[], byte[]>(Kip848Config(kafka.BootstrapServers, "kip848-alone")).Build();
        confluent.Subscribe(Topic);
        await PollUntilAsync(() => confluent.Assignment.Count == Partitions, "all partitions", () => string.Join(",", AssignedOf(confluent)), confluent);
        confluent.Close();
    }

    [Fact]
    public async Task KielAndConfluentMembersShareTheGroupAndNeverOwnAPartitionTwice()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        kafka.CreateTopic(Topic, Partitions, 1);
        var (cluster, member, listener) = await KielMemberAsync(kafka, "kip848-mixed");
        await using var _ = cluster;
        await using var __ = member;

        await member.WaitForAssignmentAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        await PollUntilAsync(() => listener.Owned().Length == Partitions, "Kiel's member owns everything", () => string.Join(",", listener.Owned()));
        Assert.True(member.MayHandOut);
        Assert.True(member.Epoch > 0);

        var confluent = new ConsumerBuilder<byte[], byte[]>(Kip848Config(kafka.BootstrapServers, "kip848-mixed")).Build();
        try
        {
            confluent.Subscribe(Topic);
            var overlaps = 0;
            string State() => $"kiel [{string.Join(",", listener.Owned())}] confluent [{string.Join(",", AssignedOf(confluent))}] events {string.Join(" | ", listener.Events)}";
            await PollUntilAsync(() =>
            {
                var kiel = listener.Owned();
                var theirs = AssignedOf(confluent);
                if (kiel.Intersect(theirs).Any()) overlaps++;
                return kiel.Length > 0 && theirs.Length > 0 && kiel.Length + theirs.Length == Partitions;
            }, "the partitions split between Kiel and Confluent", State, confluent);
            Assert.Equal(0, overlaps);
            Assert.Equal(Enumerable.Range(0, Partitions), listener.Owned().Concat(AssignedOf(confluent)).Order());
            Assert.True(listener.Saw("revoked"), "Kiel's member gave partitions up in an orderly way");
            Assert.False(listener.Saw("lost"));

            confluent.Close();
        }
        finally
        {
            confluent.Dispose();
        }

        // The Confluent member left: the broker hands everything back to Kiel's member.
        await PollUntilAsync(() => listener.Owned().Length == Partitions, "Kiel's member owns everything again", () => string.Join(",", listener.Owned()));
        await member.LeaveAsync(CancellationToken.None);
        Assert.Empty(listener.Owned());
    }

    [Fact]
    public async Task AFencedMemberLosesItsPartitionsAndGetsThemBackWithANewEpoch()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        kafka.CreateTopic(Topic, Partitions, 1);
        var (cluster, member, listener) = await KielMemberAsync(kafka, "kip848-fenced");
        await using var _ = cluster;
        await using var __ = member;
        await PollUntilAsync(() => listener.Owned().Length == Partitions, "Kiel's member owns everything", () => string.Join(",", listener.Owned()));
        var memberId = member.Metadata.MemberId;

        kafka.PushRequestErrors(ConsumerGroupHeartbeatKey, (int)Kiel.ErrorCode.FencedMemberEpoch);
        await PollUntilAsync(() => listener.Saw("lost"), "the member is fenced", () => string.Join(" | ", listener.Events));
        await PollUntilAsync(() => listener.Owned().Length == Partitions && member.MayHandOut, "the member is back", () => string.Join(" | ", listener.Events));
        Assert.Equal(memberId, member.Metadata.MemberId);
        await member.LeaveAsync(CancellationToken.None);
    }

    [Fact]
    public async Task AKielConsumerWithGroupProtocolConsumerAndAConfluentMemberTogetherReadEverything()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 3 });
        kafka.CreateTopic(Topic, Partitions, 1);
        await ConsumingHelpers.ProduceAsync(kafka.BootstrapServers, Topic, 600);
        var log = new DeliveryLog();
        await using var kiel = new KielGroupMember("kiel",
            KielGroupMember.Options(kafka.BootstrapServers, "kip848-consumer", o => o with { GroupProtocol = Kiel.Consuming.GroupProtocol.Consumer }), log);
        kiel.Start(Topic);
        Assert.True(await Fixtures.TestTimeouts.WaitUntilAsync(() => kiel.Owned.Count == Partitions, TimeSpan.FromSeconds(30)),
            $"Kiel owns {string.Join(",", kiel.Owned)}; error {kiel.ReadError}");

        using var confluent = new ConsumerBuilder<byte[], byte[]>(Kip848Config(kafka.BootstrapServers, "kip848-consumer")).Build();
        confluent.Subscribe(Topic);
        var overlaps = 0;
        await PollUntilAsync(() =>
        {
            var theirs = AssignedOf(confluent);
            if (kiel.Owned.Intersect(theirs).Any()) overlaps++;
            return log.Distinct().Count == 600 && theirs.Length > 0 && kiel.Owned.Count > 0 && kiel.Owned.Count + theirs.Length == Partitions;
        }, "both members hold partitions and every record was read",
            () => $"distinct {log.Distinct().Count}, kiel [{string.Join(",", kiel.Owned.Order())}] confluent [{string.Join(",", AssignedOf(confluent))}]; error {kiel.ReadError}",
            confluent);
        Assert.Equal(0, overlaps);
        Assert.True(kiel.Events.Any(e => e.Kind == "revoked"), "Kiel's consumer gave partitions up through its revoked handler");
        Assert.True(kiel.Consumer.GroupMetadata!.GenerationId > 0, "the member epoch is the generation");
        confluent.Close();
    }

    [Fact]
    public async Task AStaticMemberThatLeavesWithMinusTwoGetsItsPartitionsBackAndNobodyTakesThemMeanwhile()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        kafka.CreateTopic(Topic, Partitions, 1);
        using var confluent = new ConsumerBuilder<byte[], byte[]>(Kip848Config(kafka.BootstrapServers, "kip848-static")).Build();
        confluent.Subscribe(Topic);
        await PollUntilAsync(() => confluent.Assignment.Count == Partitions, "Confluent owns everything", () => string.Join(",", AssignedOf(confluent)), confluent);

        var (cluster1, first, listener1) = await KielMemberAsync(kafka, "kip848-static", "kiel-static");
        int[] mine;
        string firstId;
        await using (cluster1)
        await using (first)
        {
            await PollUntilAsync(() => listener1.Owned().Length > 0 && listener1.Owned().Length + AssignedOf(confluent).Length == Partitions,
                "the partitions split", () => $"kiel [{string.Join(",", listener1.Owned())}] confluent [{string.Join(",", AssignedOf(confluent))}]", confluent);
            mine = listener1.Owned();
            firstId = first.Metadata.MemberId;
            await first.LeaveAsync(CancellationToken.None); // revokes, then heartbeats with epoch -2
            Assert.Empty(listener1.Owned());
        }

        // The coordinator keeps the static member's place: its partitions go to nobody while it is away.
        for (var i = 0; i < 40; i++)
        {
            confluent.Consume(TimeSpan.FromMilliseconds(50));
            Assert.Empty(AssignedOf(confluent).Intersect(mine));
        }

        var (cluster2, second, listener2) = await KielMemberAsync(kafka, "kip848-static", "kiel-static");
        await using (cluster2)
        await using (second)
        {
            await PollUntilAsync(() => listener2.Owned().Length == mine.Length, "the static member is back",
                () => $"kiel [{string.Join(",", listener2.Owned())}] confluent [{string.Join(",", AssignedOf(confluent))}]", confluent);
            Assert.Equal(mine, listener2.Owned());
            Assert.NotEqual(firstId, second.Metadata.MemberId);
            await second.LeaveAsync(CancellationToken.None);
        }
        confluent.Close();
    }
}
