using Confluent.Kafka;
using Kiel.Groups.Kafka;
using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Groups;

/// <summary>
/// A group of Confluent.Kafka 2.16 members (librdkafka's assignors, whichever member leads) settles on exactly the
/// assignment Kiel's assignor of the same name computes for the same member ids, instance ids and subscriptions.
/// </summary>
public class AssignorPeerAgreementTests
{
    public static TheoryData<string, bool> Cases => new()
    {
        { "range", false },
        { "range", true },
        { "roundrobin", false },
        { "roundrobin", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task LibrdkafkaGroupAgreesWithKielsAssignor(string strategy, bool staticMembers)
    {
        await using var cluster = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 });
        cluster.CreateTopic("orders", 5, 1);
        cluster.CreateTopic("payments", 3, 1);
        cluster.CreateTopic("audit", 2, 1);
        var counts = new Dictionary<string, int> { ["orders"] = 5, ["payments"] = 3, ["audit"] = 2 };
        // Different subscriptions, so that roundrobin's skipping and range's per-topic member lists both matter.
        string[][] subscriptions = [["orders", "payments", "audit"], ["orders", "payments"], ["orders", "audit"]];
        // Instance ids in the reverse of join order, so that sorting by them differs from sorting by join order.
        string[] instanceIds = ["zulu", "mike", "alpha"];
        var group = $"agree-{strategy}-{staticMembers}";

        var consumers = new List<IConsumer<string, string>>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var index = i;
                var c = ConfluentClients.Consumer(cluster.BootstrapServers, group, config =>
                {
                    config.PartitionAssignmentStrategy = strategy == "range" ? PartitionAssignmentStrategy.Range : PartitionAssignmentStrategy.RoundRobin;
                    if (staticMembers) config.GroupInstanceId = instanceIds[index];
                });
                c.Subscribe(subscriptions[i]);
                consumers.Add(c);
            }

            // Eager: every member's assignment is from the final generation once all three hold something and together hold all.
            var total = counts.Values.Sum();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            await Task.Run(() =>
            {
                while (!(consumers.All(c => c.Assignment.Count > 0) && consumers.Sum(c => c.Assignment.Count) == total))
                {
                    Assert.True(DateTime.UtcNow < deadline, "the Confluent group did not settle: " + string.Join(" | ", consumers.Select(c => string.Join(",", c.Assignment))));
                    foreach (var c in consumers) c.Consume(TimeSpan.FromMilliseconds(50));
                }
            });

            var members = consumers.Select((c, i) => new GroupMemberSubscription(c.MemberId, staticMembers ? instanceIds[i] : null, subscriptions[i], [], -1, default, null)).ToArray();
            var assignor = strategy == "range" ? PartitionAssignor.Range : PartitionAssignor.RoundRobin;
            var expected = assignor.Assign(counts, members);
            for (var i = 0; i < consumers.Count; i++)
            {
                var actual = consumers[i].Assignment.Select(tp => new Kiel.TopicPartition(tp.Topic, tp.Partition.Value)).Order();
                Assert.Equal(expected[consumers[i].MemberId].Order(), actual);
            }
        }
        finally
        {
            foreach (var c in consumers)
            {
                c.Close();
                c.Dispose();
            }
        }
    }
}
